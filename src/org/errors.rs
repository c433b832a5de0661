//! Every way an org endpoint can refuse a request, and the one place each becomes an HTTP
//! response in Django REST Framework's shapes (`{"detail": ...}` and `{"<field>": [...]}`).

use std::collections::BTreeMap;

use lambda_http::{Body, Response};
use serde_json::json;

use crate::frame::body::MAX_BODY_BYTES;
use crate::frame::response::{json_response, with_challenge, with_retry_after};
use crate::frame::{Common, Refusal, routes};
use crate::store::StoreError;

/// Field name -> messages, the shape DRF gives validation errors.
pub type FieldErrors = BTreeMap<&'static str, Vec<String>>;

#[derive(Debug)]
pub enum OrgError {
    Common(Common),
    CredentialsNotProvided,
    InvalidToken,
    UnsupportedMediaType(String),
    MalformedJson(String),
    /// The body is JSON but not an object; holds the Python name of what it is.
    NotAnObject(&'static str),
    InvalidFields(FieldErrors),
    PermissionDenied,
    NotFound,
    InvalidIdempotencyKey,
    /// The caller's `Idempotency-Key` answered another request.
    IdempotencyKeyReused,
    /// A request under the caller's `Idempotency-Key` is still in flight.
    RequestInProgress,
}

impl From<Common> for OrgError {
    fn from(common: Common) -> Self {
        OrgError::Common(common)
    }
}

impl From<StoreError> for OrgError {
    fn from(error: StoreError) -> Self {
        OrgError::Common(error.into())
    }
}

impl Refusal for OrgError {
    fn status(&self) -> u16 {
        match self {
            OrgError::Common(common) => common.status(),
            OrgError::NotFound => 404,
            OrgError::CredentialsNotProvided | OrgError::InvalidToken => 401,
            OrgError::UnsupportedMediaType(_) => 415,
            OrgError::MalformedJson(_) | OrgError::NotAnObject(_) | OrgError::InvalidFields(_) => 400,
            OrgError::PermissionDenied => 403,
            OrgError::InvalidIdempotencyKey => 400,
            OrgError::IdempotencyKeyReused => 422,
            OrgError::RequestInProgress => 409,
        }
    }

    fn outcome(&self) -> &'static str {
        match self {
            OrgError::Common(common) => common.outcome(),
            OrgError::CredentialsNotProvided => "credentials_not_provided",
            OrgError::InvalidToken => "invalid_token",
            OrgError::UnsupportedMediaType(_) => "unsupported_media_type",
            OrgError::MalformedJson(_) => "malformed_json",
            OrgError::NotAnObject(_) => "not_an_object",
            OrgError::InvalidFields(_) => "invalid_fields",
            OrgError::PermissionDenied => "permission_denied",
            OrgError::NotFound => "not_found",
            OrgError::InvalidIdempotencyKey => "invalid_idempotency_key",
            OrgError::IdempotencyKeyReused => "idempotency_key_reused",
            OrgError::RequestInProgress => "request_in_progress",
        }
    }

    fn backend_failure(&self) -> Option<&StoreError> {
        match self {
            OrgError::Common(common) => common.backend_failure(),
            _ => None,
        }
    }

    fn to_response(&self) -> Response<Body> {
        let status = self.status();
        let detail = |text: &str| json_response(status, &json!({ "detail": text }));
        match self {
            OrgError::Common(Common::RouteNotFound) => routes::not_found(),
            OrgError::Common(Common::PayloadTooLarge) => {
                detail(&format!("Request body must not exceed {MAX_BODY_BYTES} bytes."))
            }
            OrgError::Common(Common::Throttled(_)) => {
                with_retry_after(detail("Service temporarily unavailable, try again later."))
            }
            OrgError::Common(Common::Backend(_)) => detail("A server error occurred."),
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
            OrgError::InvalidIdempotencyKey => {
                detail("Idempotency-Key must be 1 to 255 visible ASCII characters, sent once.")
            }
            OrgError::IdempotencyKeyReused => detail("This Idempotency-Key was already used for a different request."),
            OrgError::RequestInProgress => {
                detail("A request with this Idempotency-Key is still in progress; retry it later.")
            }
        }
    }
}
