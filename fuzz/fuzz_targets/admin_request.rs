//! The admin endpoint's parser. Input: `[n][n bytes of Content-Type][body...]`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use permissions_service::admin::request::{MAX_PERMISSIONS, parse};
use permissions_service::domain::{is_compass_permission, is_object_id};
use permissions_service::frame::body;
use permissions_service_fuzz::{content_type_headers, take_prefixed};

fuzz_target!(|data: &[u8]| {
    let (content_type, body) = take_prefixed(data);
    let content_type = body::content_type(&content_type_headers(content_type));
    if let Ok(request) = parse(&content_type, body) {
        let user_id = request.user_id.as_str();
        assert!(is_object_id(user_id) && !user_id.bytes().any(|b| b.is_ascii_uppercase()));
        assert!((1..=MAX_PERMISSIONS).contains(&request.permissions.len()));
        assert!(request.permissions.iter().all(is_compass_permission));
        assert!(request.permissions.as_slice().windows(2).all(|pair| pair[0] < pair[1]));
    }
});
