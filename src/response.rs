//! Building the JSON responses every endpoint returns.

use lambda_http::http::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use lambda_http::http::{HeaderValue, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;

/// A JSON response. Serialising our own response types cannot fail; if it ever did, the caller
/// still gets a well-formed 500 rather than a panic.
pub fn json_response(status: u16, body: &impl Serialize) -> Response<Body> {
    let (status, text) = match serde_json::to_string(body) {
        Ok(text) => (status, text),
        Err(_) => (500, r#"{"message":"Internal Server Error"}"#.to_owned()),
    };
    let mut response = Response::new(Body::Text(text));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// Adds the challenge a 401 must carry (RFC 9110 section 11.6.1).
pub fn with_challenge(mut response: Response<Body>, scheme: &'static str) -> Response<Body> {
    response.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static(scheme));
    response
}
