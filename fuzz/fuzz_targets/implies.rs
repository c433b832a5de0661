//! The implication rule. Input: newline-separated lines, the first the requested permission, the
//! rest what the user holds (any bytes, as a users table may hold anything).
#![no_main]

use libfuzzer_sys::fuzz_target;
use permissions_service::domain::{CompassPermission, HeldPermissions, implies, is_compass_permission};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n');
    let Some(requested) = lines.next().and_then(CompassPermission::parse) else { return };
    let stored: Vec<&str> = lines.collect();
    assert!(implies(requested.as_str(), &requested), "every permission implies itself");
    let held = HeldPermissions::new(stored.iter().copied());
    let exact = stored.iter().find(|held| **held == requested.as_str());
    let by_scan = exact.or_else(|| stored.iter().find(|held| implies(held, &requested))).copied();
    assert_eq!(held.granting(&requested), by_scan, "granting agrees with a scan by implies");
    for held in &stored {
        if implies(held, &requested) && *held != requested.as_str() {
            // Only a grammatical module wildcard implies another string, and only its own module's.
            let module = held.strip_suffix(".*").expect("a wildcard");
            assert!(is_compass_permission(held));
            let asked = requested.as_str();
            assert!(asked == module || asked.strip_prefix(module).is_some_and(|rest| rest.starts_with('.')));
        }
    }
});
