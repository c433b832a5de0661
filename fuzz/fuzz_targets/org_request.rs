//! The org endpoint's parser, from the Content-Type header to the normalised request.
//! Input: `[n][n bytes of Content-Type][m][m bytes of {user_uuid}][body...]`, so corpus files can
//! be written by hand.
#![no_main]

use libfuzzer_sys::fuzz_target;
use permissions_service::domain::is_hyphenated_uuid;
use permissions_service::frame::body;
use permissions_service::org::request::{MAX_PERMISSION_UUIDS, parse};
use permissions_service_fuzz::{content_type_headers, take_prefixed};

fuzz_target!(|data: &[u8]| {
    let (content_type, rest) = take_prefixed(data);
    let (path, body) = take_prefixed(rest);
    let Ok(path) = std::str::from_utf8(path) else { return };
    let content_type = body::content_type(&content_type_headers(content_type));
    if let Ok(request) = parse(path, &content_type, body) {
        let normal = |uuid: &str| is_hyphenated_uuid(uuid) && !uuid.bytes().any(|b| b.is_ascii_uppercase());
        assert_eq!(request.target.as_str(), path.to_ascii_lowercase());
        assert!(normal(request.target.as_str()));
        assert!((1..=MAX_PERMISSION_UUIDS).contains(&request.permission_uuids.len()));
        assert!(request.permission_uuids.iter().all(normal));
        assert!(request.permission_uuids.as_slice().windows(2).all(|pair| pair[0] < pair[1]));
    }
});
