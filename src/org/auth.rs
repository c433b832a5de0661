//! Who an org caller is: the `Token` API key, looked up by its hash, and the caller it belongs
//! to, read together with the catalog entries that could give it a right.

use std::time::SystemTime;

use lambda_http::http::HeaderMap;

use super::OrgApi;
use super::errors::OrgError;
use crate::auth::{Credentials, api_token, credentials};
use crate::store::users::UserRecord;

/// An authenticated org caller.
pub struct OrgCaller {
    pub user: UserRecord,
    /// The user read with it, when one was asked for and exists.
    pub other: Option<UserRecord>,
    /// The permission that gives it the right asked for, judged on a catalog entry read now.
    pub right_uuid: Option<String>,
    /// The hash of the key it sent, whose liveness a change's transaction re-checks.
    pub key_hash: String,
}

impl OrgCaller {
    /// The caller's organization and the uuid that gives it the right, or 403. Decided before
    /// any requested uuid is looked up, so a caller without the right learns nothing about the
    /// catalog, not even from how long the answer takes.
    pub fn right(&self) -> Result<(&str, &str), OrgError> {
        let org_uuid = self.user.org_uuid.as_deref().ok_or(OrgError::PermissionDenied)?;
        let right_uuid = self.right_uuid.as_deref().ok_or(OrgError::PermissionDenied)?;
        Ok((org_uuid, right_uuid))
    }
}

impl OrgApi {
    /// The caller behind the `Token` key: unknown, expired, and orphaned keys are all invalid.
    /// Reading the caller also reads, fresh, the catalog entries that could give it one of
    /// `rights`, and `other` when given, in the same call.
    pub async fn authenticate(
        &self,
        headers: &HeaderMap,
        rights: &[&str],
        other: Option<&str>,
    ) -> Result<OrgCaller, OrgError> {
        let key = match credentials(headers, "Token") {
            Credentials::Absent => return Err(OrgError::CredentialsNotProvided),
            Credentials::Malformed => return Err(OrgError::InvalidToken),
            Credentials::Present(key) => key,
        };
        let key_hash = api_token::token_hash(key);
        let token = self
            .tokens
            .find(&key_hash)
            .await?
            .filter(|token| token.is_live_at(SystemTime::now()))
            .ok_or(OrgError::InvalidToken)?;
        let caller = self
            .catalog
            .caller_holding(&self.users_table, &token.user_id, rights, other)
            .await?
            .ok_or(OrgError::InvalidToken)?;
        Ok(OrgCaller { user: caller.user, other: caller.other, right_uuid: caller.right_uuid, key_hash })
    }
}
