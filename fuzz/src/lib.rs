//! Input framing shared by the fuzz targets.

use lambda_http::http::header::{AUTHORIZATION, CONTENT_TYPE};
use lambda_http::http::{HeaderMap, HeaderValue};

/// Splits `[n][n bytes][rest]`; a short input gives what there is.
pub fn take_prefixed(data: &[u8]) -> (&[u8], &[u8]) {
    let Some((&length, rest)) = data.split_first() else { return (&[], &[]) };
    rest.split_at(usize::from(length).min(rest.len()))
}

/// A Content-Type header with these bytes, if HTTP allows them as a header value; else none.
pub fn content_type_headers(value: &[u8]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if !value.is_empty()
        && let Ok(value) = HeaderValue::from_bytes(value)
    {
        headers.insert(CONTENT_TYPE, value);
    }
    headers
}

/// One `Authorization` header per newline-separated value that HTTP allows.
pub fn authorization_headers(data: &[u8]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for value in data.split(|&byte| byte == b'\n') {
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.append(AUTHORIZATION, value);
        }
    }
    headers
}
