//! Every way the org endpoint can refuse a request, and the one place each becomes an HTTP
//! response in Django REST Framework's shapes (`{"detail": ...}` and `{"<field>": [...]}`).

use std::collections::BTreeMap;

use lambda_http::{Body, Response};
use serde_json::json;

use crate::body::MAX_BODY_BYTES;
use crate::endpoint::Refusal;
use crate::response::{json_response, with_challenge, with_retry_after};
use crate::routing;
use crate::store::StoreError;

/// Field name -> messages, the shape DRF gives validation errors.
pub type FieldErrors = BTreeMap<&'static str, Vec<String>>;

#[derive(Debug)]
pub enum OrgError {
    RouteNotFound,
    PayloadTooLarge,
    CredentialsNotProvided,
    InvalidToken,
    UnsupportedMediaType(String),
    MalformedJson(String),
    /// The body is JSON but not an object; holds the Python name of what it is.
    NotAnObject(&'static str),
    InvalidFields(FieldErrors),
    PermissionDenied,
    NotFound,
    Throttled(StoreError),
    Backend(StoreError),
}

impl From<StoreError> for OrgError {
    fn from(error: StoreError) -> Self {
        if error.is_throttling() { OrgError::Throttled(error) } else { OrgError::Backend(error) }
    }
}

impl Refusal for OrgError {
    fn status(&self) -> u16 {
        match self {
            OrgError::RouteNotFound | OrgError::NotFound => 404,
            OrgError::PayloadTooLarge => 413,
            OrgError::CredentialsNotProvided | OrgError::InvalidToken => 401,
            OrgError::UnsupportedMediaType(_) => 415,
            OrgError::MalformedJson(_) | OrgError::NotAnObject(_) | OrgError::InvalidFields(_) => 400,
            OrgError::PermissionDenied => 403,
            OrgError::Throttled(_) => 503,
            OrgError::Backend(_) => 500,
        }
    }

    fn outcome(&self) -> &'static str {
        match self {
            OrgError::RouteNotFound => "route_not_found",
            OrgError::PayloadTooLarge => "payload_too_large",
            OrgError::CredentialsNotProvided => "credentials_not_provided",
            OrgError::InvalidToken => "invalid_token",
            OrgError::UnsupportedMediaType(_) => "unsupported_media_type",
            OrgError::MalformedJson(_) => "malformed_json",
            OrgError::NotAnObject(_) => "not_an_object",
            OrgError::InvalidFields(_) => "invalid_fields",
            OrgError::PermissionDenied => "permission_denied",
            OrgError::NotFound => "not_found",
            OrgError::Throttled(_) => "throttled",
            OrgError::Backend(_) => "backend_failure",
        }
    }

    fn backend_failure(&self) -> Option<&StoreError> {
        match self {
            OrgError::Throttled(failure) | OrgError::Backend(failure) => Some(failure),
            _ => None,
        }
    }

    fn to_response(&self) -> Response<Body> {
        let status = self.status();
        let detail = |text: &str| json_response(status, &json!({ "detail": text }));
        match self {
            OrgError::RouteNotFound => routing::not_found(),
            OrgError::PayloadTooLarge => detail(&format!("Request body must not exceed {MAX_BODY_BYTES} bytes.")),
            OrgError::CredentialsNotProvided => {
                with_challenge(detail("Authentication credentials were not provided."), "Token")
            }
            OrgError::InvalidToken => with_challenge(detail("Invalid token."), "Token"),
            OrgError::UnsupportedMediaType(media_type) => {
                detail(&format!("Unsupported media type \"{media_type}\" in request."))
            }
            OrgError::MalformedJson(problem) => detail(&format!("JSON parse error - {problem}")),
            OrgError::NotAnObject(type_name) => json_response(
                status,
                &json!({ "non_field_errors": [format!("Invalid data. Expected a dictionary, but got {type_name}.")] }),
            ),
            OrgError::InvalidFields(fields) => json_response(status, fields),
            OrgError::PermissionDenied => detail("You do not have permission to perform this action."),
            OrgError::NotFound => detail("Not found."),
            OrgError::Throttled(_) => with_retry_after(detail("Service temporarily unavailable, try again later.")),
            OrgError::Backend(_) => detail("A server error occurred."),
        }
    }
}
