//! Building the JSON responses every endpoint returns.

use lambda_http::http::header::{CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use lambda_http::http::{HeaderValue, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;

/// A body as JSON text, as [`json_response`] would send it.
pub fn json_text(body: &impl Serialize) -> String {
    serde_json::to_string(body).unwrap_or_else(|_| r#"{"message":"Internal Server Error"}"#.to_owned())
}

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

/// An answer given again for an `Idempotency-Key`: the first answer's status and body as
/// stored, marked as a replay.
pub fn replayed(status: u16, body: String) -> Response<Body> {
    let mut response = Response::new(Body::Text(body));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}

/// Adds the challenge a 401 must carry (RFC 9110 section 11.6.1).
pub fn with_challenge(mut response: Response<Body>, scheme: &'static str) -> Response<Body> {
    response.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static(scheme));
    response
}

/// How long a caller turned away because DynamoDB is throttling should wait. On-demand tables
/// adapt within seconds, and the SDK and the grant have already backed off for about a second.
pub const RETRY_AFTER_SECONDS: u32 = 1;

/// Adds the `Retry-After` a 503 carries (RFC 9110 section 10.2.3).
pub fn with_retry_after(mut response: Response<Body>) -> Response<Body> {
    response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
    response
}
