//! Who an org caller is: the `Token` API key, looked up by its hash, and the caller it belongs
//! to, read together with the catalog entries that could give it a right.
//!
//! A warm process predicts the caller: it remembers which user each key belonged to when the key
//! last authenticated here ([`KeyOwners`]), and reads the key, that user and the catalog entries
//! in one `BatchGetItem`. The prediction only chooses what to read. The decision rests on that
//! read alone, fresh: the key must exist, be live and name the predicted user, or the request
//! goes on as a cold one would (a key that names another user: that user is read next, a round
//! trip more; a key absent or expired: 401, as its read says). A change's transaction re-checks
//! the key and the caller, so a change in flight is still caught at commit.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::SystemTime;

use lambda_http::http::HeaderMap;

use super::OrgApi;
use super::errors::OrgError;
use crate::auth::{Credentials, api_token, credentials};
use crate::store::catalog::{CallerWithRight, KeyRead};
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

/// Which user each API key (by its hash) belonged to when it last authenticated in this process.
/// A key that did not authenticate (401) is never remembered, and one refused later is
/// forgotten, so keys sprayed at the endpoint cannot fill it; past [`KEY_OWNERS_CAPACITY`] an arbitrary entry makes
/// room (a forgotten key only costs its next request the cold path's round trip).
#[derive(Debug, Default)]
pub struct KeyOwners {
    owners: RwLock<HashMap<String, String>>,
}

/// About 200 bytes an entry (two hex or UUID strings and the map's own): under 1 MB.
pub const KEY_OWNERS_CAPACITY: usize = 4_096;

impl KeyOwners {
    fn predicted(&self, key_hash: &str) -> Option<String> {
        self.owners.read().unwrap_or_else(|poisoned| poisoned.into_inner()).get(key_hash).cloned()
    }

    fn remember(&self, key_hash: &str, user_id: &str) {
        if self.predicted(key_hash).as_deref() == Some(user_id) {
            return;
        }
        let mut owners = self.owners.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        if owners.len() >= KEY_OWNERS_CAPACITY
            && !owners.contains_key(key_hash)
            && let Some(evicted) = owners.keys().next().cloned()
        {
            owners.remove(&evicted);
        }
        owners.insert(key_hash.to_owned(), user_id.to_owned());
    }

    fn forget(&self, key_hash: &str) {
        if self.predicted(key_hash).is_some() {
            self.owners.write().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(key_hash);
        }
    }

    /// How many keys are remembered.
    pub fn len(&self) -> usize {
        self.owners.read().unwrap_or_else(|poisoned| poisoned.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl OrgApi {
    /// The caller behind the `Token` key: unknown, expired, and orphaned keys are all invalid.
    /// Reading the caller also reads, fresh, the catalog entries that could give it one of
    /// `rights`, and `other` when given, in the same call (and, warm, the key too).
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
        let caller = self.caller_behind(&key_hash, rights, other).await?;
        let Some(caller) = caller else {
            self.key_owners.forget(&key_hash);
            return Err(OrgError::InvalidToken);
        };
        self.key_owners.remember(&key_hash, &caller.user.user_id);
        Ok(OrgCaller { user: caller.user, other: caller.other, right_uuid: caller.right_uuid, key_hash })
    }

    /// The user the key belongs to, with its right; `None` when the key is absent, unusable or
    /// expired, or its user does not exist.
    async fn caller_behind(
        &self,
        key_hash: &str,
        rights: &[&str],
        other: Option<&str>,
    ) -> Result<Option<CallerWithRight>, OrgError> {
        let now = SystemTime::now();
        let users = &self.users_table;
        let token = match self.key_owners.predicted(key_hash) {
            Some(predicted) => {
                let key = KeyRead { tokens_table: self.tokens.table(), key_hash, now };
                let read = self.catalog.caller_with_key(users, &predicted, rights, other, key).await?;
                match read.key.filter(|token| token.is_live_at(now)) {
                    None => return Ok(None),
                    Some(token) if token.user_id == predicted => return Ok(read.caller),
                    // The key now belongs to another user: that one, read as a cold process would.
                    Some(token) => token,
                }
            }
            None => match self.tokens.find(key_hash).await?.filter(|token| token.is_live_at(now)) {
                Some(token) => token,
                None => return Ok(None),
            },
        };
        Ok(self.catalog.caller_holding(users, &token.user_id, rights, other).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_owners_stay_bounded_and_forget_a_refused_key() {
        let owners = KeyOwners::default();
        for index in 0..KEY_OWNERS_CAPACITY + 100 {
            owners.remember(&format!("key-{index}"), "user");
        }
        assert_eq!(owners.len(), KEY_OWNERS_CAPACITY);
        // The newest is always kept: making room never evicts the key being remembered.
        let newest = format!("key-{}", KEY_OWNERS_CAPACITY + 99);
        assert_eq!(owners.predicted(&newest).as_deref(), Some("user"));
        owners.remember(&newest, "another");
        assert_eq!((owners.predicted(&newest).as_deref(), owners.len()), (Some("another"), KEY_OWNERS_CAPACITY));
        owners.forget(&newest);
        assert_eq!((owners.predicted(&newest), owners.len()), (None, KEY_OWNERS_CAPACITY - 1));
        owners.forget("never-seen");
        assert_eq!(owners.len(), KEY_OWNERS_CAPACITY - 1);
    }
}
