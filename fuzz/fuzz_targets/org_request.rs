//! The org endpoint's parser, from the Content-Type header to the normalised request.
//! Input: `[n][n bytes of Content-Type][m][m bytes of {user_uuid}][body...]`, so corpus files can
//! be written by hand.
#![no_main]

use libfuzzer_sys::fuzz_target;
use permissions_service::body;
use permissions_service::org_user_permissions::request::{MAX_PERMISSION_UUIDS, is_hyphenated_uuid, parse};
use permissions_service_fuzz::{content_type_headers, take_prefixed};

fuzz_target!(|data: &[u8]| {
    let (content_type, rest) = take_prefixed(data);
    let (path, body) = take_prefixed(rest);
    let Ok(path) = std::str::from_utf8(path) else { return };
    let content_type = body::content_type(&content_type_headers(content_type));
    if let Ok(request) = parse(path, &content_type, body) {
        let normal = |uuid: &str| is_hyphenated_uuid(uuid) && !uuid.bytes().any(|b| b.is_ascii_uppercase());
        assert_eq!(request.target_user_uuid, path.to_ascii_lowercase());
        assert!(normal(&request.target_user_uuid));
        assert!((1..=MAX_PERMISSION_UUIDS).contains(&request.permission_uuids.len()));
        assert!(request.permission_uuids.iter().all(|uuid| normal(uuid)));
        assert!(request.permission_uuids.windows(2).all(|pair| pair[0] < pair[1]));
    }
});
