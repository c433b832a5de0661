//! Every way the admin endpoint can refuse a request, and the one place each becomes an HTTP
//! response in its `{"error": {"code": ..., "message": ...}}` shape.

use lambda_http::{Body, Response};
use serde_json::json;

use crate::body::MAX_BODY_BYTES;
use crate::endpoint::Refusal;
use crate::response::{json_response, with_challenge, with_retry_after};
use crate::routing;
use crate::store::StoreError;

#[derive(Debug)]
pub enum AdminError {
    RouteNotFound,
    PayloadTooLarge,
    MissingToken,
    InvalidToken,
    Validation(String),
    Forbidden,
    UserNotFound,
    Throttled(StoreError),
    Backend(StoreError),
}

impl From<StoreError> for AdminError {
    fn from(error: StoreError) -> Self {
        if error.is_throttling() { AdminError::Throttled(error) } else { AdminError::Backend(error) }
    }
}

impl Refusal for AdminError {
    fn status(&self) -> u16 {
        match self {
            AdminError::RouteNotFound | AdminError::UserNotFound => 404,
            AdminError::PayloadTooLarge => 413,
            AdminError::MissingToken | AdminError::InvalidToken => 401,
            AdminError::Validation(_) => 400,
            AdminError::Forbidden => 403,
            AdminError::Throttled(_) => 503,
            AdminError::Backend(_) => 500,
        }
    }

    fn outcome(&self) -> &'static str {
        match self {
            AdminError::RouteNotFound => "route_not_found",
            AdminError::PayloadTooLarge => "payload_too_large",
            AdminError::MissingToken => "missing_token",
            AdminError::InvalidToken => "invalid_token",
            AdminError::Validation(_) => "validation_error",
            AdminError::Forbidden => "forbidden",
            AdminError::UserNotFound => "user_not_found",
            AdminError::Throttled(_) => "throttled",
            AdminError::Backend(_) => "backend_failure",
        }
    }

    fn backend_failure(&self) -> Option<&StoreError> {
        match self {
            AdminError::Throttled(failure) | AdminError::Backend(failure) => Some(failure),
            _ => None,
        }
    }

    fn to_response(&self) -> Response<Body> {
        let (code, message) = match self {
            AdminError::RouteNotFound => return routing::not_found(),
            AdminError::PayloadTooLarge => {
                ("PAYLOAD_TOO_LARGE", format!("Request body must not exceed {MAX_BODY_BYTES} bytes."))
            }
            AdminError::MissingToken => ("UNAUTHORIZED", "Missing authentication token.".to_owned()),
            AdminError::InvalidToken => ("UNAUTHORIZED", "Invalid or expired authentication token.".to_owned()),
            AdminError::Validation(message) => ("VALIDATION_ERROR", message.clone()),
            AdminError::Forbidden => ("FORBIDDEN", "Insufficient permissions: only admins can add permissions.".into()),
            AdminError::UserNotFound => ("USER_NOT_FOUND", "User with this ID does not exist.".to_owned()),
            AdminError::Throttled(_) => {
                ("SERVICE_UNAVAILABLE", "Service temporarily unavailable, try again later.".to_owned())
            }
            AdminError::Backend(_) => ("SERVER_ERROR", "Internal server error".to_owned()),
        };
        let response = json_response(self.status(), &json!({ "error": { "code": code, "message": message } }));
        match self {
            AdminError::MissingToken | AdminError::InvalidToken => with_challenge(response, "Bearer"),
            AdminError::Throttled(_) => with_retry_after(response),
            _ => response,
        }
    }
}
