//! Who an admin caller is: the subject of a genuine, current HS256 bearer token.

use lambda_http::http::HeaderMap;

use super::AdminApi;
use super::errors::AdminError;
use crate::auth::{Credentials, credentials};

impl AdminApi {
    /// The caller's id from a genuine, current token. Why a token failed is logged at debug
    /// level only as its kind, never with the token.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<String, AdminError> {
        match credentials(headers, "Bearer") {
            Credentials::Absent => Err(AdminError::MissingToken),
            Credentials::Malformed => Err(AdminError::InvalidToken),
            Credentials::Present(token) => self.jwt.verify_current(token).await.map_err(|rejected| {
                tracing::debug!(reason = %rejected.0, "bearer token rejected");
                AdminError::InvalidToken
            }),
        }
    }

    /// Authentication precedes validation: a request that fails validation is answered 401
    /// when its caller does not exist, which costs this one read.
    pub(super) async fn unknown_caller_first(&self, caller_id: &str, invalid: AdminError) -> AdminError {
        match self.users.get(caller_id).await {
            Ok(None) => AdminError::InvalidToken,
            Ok(Some(_)) => invalid,
            Err(failure) => failure.into(),
        }
    }
}
