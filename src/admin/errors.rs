//! Every way an admin endpoint can refuse a request, and the one place each becomes an HTTP
//! response in its `{"error": {"code": ..., "message": ...}}` shape.

use lambda_http::{Body, Response};
use serde_json::json;

use crate::frame::body::MAX_BODY_BYTES;
use crate::frame::response::{json_response, with_challenge, with_retry_after};
use crate::frame::{Common, Refusal, routes};
use crate::store::StoreError;

#[derive(Debug)]
pub enum AdminError {
    Common(Common),
    MissingToken,
    InvalidToken,
    Validation(String),
    /// The caller is not an admin; what it tried ("add permissions"), for the message.
    Forbidden(&'static str),
    UserNotFound,
    /// The caller's `Idempotency-Key` answered another request.
    IdempotencyKeyReused,
    /// A request under the caller's `Idempotency-Key` is still in flight.
    RequestInProgress,
}

impl From<Common> for AdminError {
    fn from(common: Common) -> Self {
        AdminError::Common(common)
    }
}

impl From<StoreError> for AdminError {
    fn from(error: StoreError) -> Self {
        AdminError::Common(error.into())
    }
}

impl Refusal for AdminError {
    fn status(&self) -> u16 {
        match self {
            AdminError::Common(common) => common.status(),
            AdminError::UserNotFound => 404,
            AdminError::IdempotencyKeyReused => 422,
            AdminError::RequestInProgress => 409,
            AdminError::MissingToken | AdminError::InvalidToken => 401,
            AdminError::Validation(_) => 400,
            AdminError::Forbidden(_) => 403,
        }
    }

    fn outcome(&self) -> &'static str {
        match self {
            AdminError::Common(common) => common.outcome(),
            AdminError::MissingToken => "missing_token",
            AdminError::InvalidToken => "invalid_token",
            AdminError::Validation(_) => "validation_error",
            AdminError::Forbidden(_) => "forbidden",
            AdminError::UserNotFound => "user_not_found",
            AdminError::IdempotencyKeyReused => "idempotency_key_reused",
            AdminError::RequestInProgress => "request_in_progress",
        }
    }

    fn backend_failure(&self) -> Option<&StoreError> {
        match self {
            AdminError::Common(common) => common.backend_failure(),
            _ => None,
        }
    }

    fn to_response(&self) -> Response<Body> {
        let (code, message) = match self {
            AdminError::Common(Common::RouteNotFound) => return routes::not_found(),
            AdminError::Common(Common::PayloadTooLarge) => {
                ("PAYLOAD_TOO_LARGE", format!("Request body must not exceed {MAX_BODY_BYTES} bytes."))
            }
            AdminError::Common(Common::Throttled(_)) => {
                ("SERVICE_UNAVAILABLE", "Service temporarily unavailable, try again later.".to_owned())
            }
            AdminError::Common(Common::Backend(_)) => ("SERVER_ERROR", "Internal server error".to_owned()),
            AdminError::MissingToken => ("UNAUTHORIZED", "Missing authentication token.".to_owned()),
            AdminError::InvalidToken => ("UNAUTHORIZED", "Invalid or expired authentication token.".to_owned()),
            AdminError::Validation(message) => ("VALIDATION_ERROR", message.clone()),
            AdminError::Forbidden(what) => ("FORBIDDEN", format!("Insufficient permissions: only admins can {what}.")),
            AdminError::UserNotFound => ("USER_NOT_FOUND", "User with this ID does not exist.".to_owned()),
            AdminError::IdempotencyKeyReused => {
                ("IDEMPOTENCY_KEY_REUSED", "This Idempotency-Key was already used for a different request.".to_owned())
            }
            AdminError::RequestInProgress => (
                "REQUEST_IN_PROGRESS",
                "A request with this Idempotency-Key is still in progress; retry it later.".to_owned(),
            ),
        };
        let response = json_response(self.status(), &json!({ "error": { "code": code, "message": message } }));
        match self {
            AdminError::MissingToken | AdminError::InvalidToken => with_challenge(response, "Bearer"),
            AdminError::Common(Common::Throttled(_)) => with_retry_after(response),
            _ => response,
        }
    }
}
