//! The authorizer's pure part: `ROUTE_PERMISSIONS` as init reads it, and an event of any bytes as
//! each invocation reads it. Input: `[n][n bytes of ROUTE_PERMISSIONS][event...]`. No input may
//! panic; a map that init accepts names only routes a request can need, each needing 1 to 100
//! distinct permissions of the grammar; an event's route key is its `routeKey` string, exactly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use permissions_service::authorizer::{Request, RoutePermissions};
use permissions_service::domain::{RequestedPermissions, is_compass_permission};
use permissions_service_fuzz::take_prefixed;

fuzz_target!(|data: &[u8]| {
    let (route_permissions, event) = take_prefixed(data);
    let routes = std::str::from_utf8(route_permissions).ok().and_then(|text| RoutePermissions::parse(text).ok());
    if let Some(routes) = &routes {
        assert_eq!(routes.route_keys().count(), routes.len());
        for route_key in routes.route_keys() {
            assert!(!route_key.trim().is_empty());
            let needed = routes.needed(route_key).expect("a named route needs something");
            let needed: Vec<&str> = needed.iter().map(|permission| permission.as_str()).collect();
            assert!((1..=RequestedPermissions::MAX).contains(&needed.len()));
            assert!(needed.iter().all(|permission| is_compass_permission(permission)));
            let mut distinct = needed.clone();
            distinct.sort_unstable();
            distinct.dedup();
            assert_eq!(distinct.len(), needed.len(), "a permission needed twice");
        }
    }
    if let Ok(event) = serde_json::from_slice::<serde_json::Value>(event) {
        let request = Request::of(&event);
        assert_eq!(request.route_key, event.get("routeKey").and_then(serde_json::Value::as_str));
        if let (Some(routes), Some(route_key)) = (&routes, request.route_key) {
            assert_eq!(routes.needed(route_key).is_some(), routes.route_keys().any(|key| key == route_key));
        }
    }
});
