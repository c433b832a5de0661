//! The admin endpoint's parser. Input: `[n][n bytes of Content-Type][body...]`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use permissions_service::body;
use permissions_service::user_add_permissions::request::{MAX_PERMISSIONS, is_object_id, is_permission, parse};
use permissions_service_fuzz::{content_type_headers, take_prefixed};

fuzz_target!(|data: &[u8]| {
    let (content_type, body) = take_prefixed(data);
    let content_type = body::content_type(&content_type_headers(content_type));
    if let Ok(request) = parse(&content_type, body) {
        assert!(is_object_id(&request.user_id) && !request.user_id.bytes().any(|b| b.is_ascii_uppercase()));
        assert!((1..=MAX_PERMISSIONS).contains(&request.permissions.len()));
        assert!(request.permissions.iter().all(|permission| is_permission(permission)));
        assert!(request.permissions.windows(2).all(|pair| pair[0] < pair[1]));
    }
});
