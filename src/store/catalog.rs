//! The permission catalog: which permission uuids exist and what their codenames are.
//!
//! Catalog entries are immutable (a uuid never changes codename, and entries are never deleted),
//! so entries found are kept for the life of the warm process and answer "does this uuid exist".
//! Absences are never cached: a permission added to the catalog is usable at once.
//!
//! Authorization is stricter: a caller's right is granted only on a catalog entry read, strongly
//! consistent, during the same request ([`Catalog::caller_holding`]; with the caller's API key
//! read in the same call when its owner is known, [`Catalog::caller_with_key`]). The transaction then
//! re-checks that the caller still holds that uuid, but it no longer names the catalog entry: a
//! `ConditionCheck` on the one `edit_org_users` entry would put the same item in every org grant
//! of the whole system, and DynamoDB cancels transactions that share an item while in flight.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::SystemTime;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;

use super::tokens::{TOKEN_HASH, TokenRecord};
use super::users::{USER_ID, UserRecord};
use super::{StoreError, TableKeys, batch_get, read_string, string_attribute};

pub const PERMISSION_UUID: &str = "permission_uuid";
pub const CODENAME: &str = "codename";

/// One entry of the catalog, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogEntry {
    pub permission_uuid: String,
    pub codename: String,
}

impl CatalogEntry {
    pub fn to_item(&self) -> HashMap<String, AttributeValue> {
        HashMap::from([
            (PERMISSION_UUID.to_owned(), string_attribute(&self.permission_uuid)),
            (CODENAME.to_owned(), string_attribute(&self.codename)),
        ])
    }
}

/// BatchGetItem's limit on keys per call.
const BATCH_SIZE: usize = 100;
/// Bounds the warm cache; a real catalog is far smaller, this only guards against a runaway one.
const CACHE_CAPACITY: usize = 10_000;

#[derive(Debug)]
pub struct Catalog {
    client: Client,
    table: String,
    /// What each entry found says its codename is; `None` for an entry without a string one,
    /// which exists all the same (the list shows it as `null`, never as an empty string).
    codenames: RwLock<HashMap<String, Option<String>>>,
}

/// A caller as read for an org request, and the permission that gives it the right asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerWithRight {
    pub user: UserRecord,
    /// The uuid of a permission the caller holds whose catalog entry, read in this request,
    /// carries one of the codenames; `None` when it holds no such permission.
    pub right_uuid: Option<String>,
    /// The other user read in the same call, when one was asked for and exists.
    pub other: Option<UserRecord>,
}

/// The caller's API key, to read with the user it is expected to belong to, and the time its
/// expiry is judged at.
#[derive(Debug, Clone, Copy)]
pub struct KeyRead<'a> {
    pub tokens_table: &'a str,
    pub key_hash: &'a str,
    pub now: SystemTime,
}

/// What [`Catalog::caller_with_key`] read.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyAndCaller {
    /// The key's record, as read now; `None` when absent or unusable.
    pub key: Option<TokenRecord>,
    /// The caller with its right, when the key is live and belongs to the user expected, and
    /// that user exists.
    pub caller: Option<CallerWithRight>,
}

impl Catalog {
    pub fn new(client: Client, table: String) -> Self {
        Self { client, table, codenames: RwLock::new(HashMap::new()) }
    }

    /// The codename of each given uuid that exists in the catalog (`None` for an entry without
    /// a string codename). Uuids absent from the catalog are absent from the answer.
    pub async fn codenames<'a>(
        &self,
        uuids: impl IntoIterator<Item = &'a str>,
    ) -> Result<HashMap<String, Option<String>>, StoreError> {
        let mut found = HashMap::new();
        let mut missing = Vec::new();
        {
            let cache = self.codenames.read().unwrap_or_else(|poisoned| poisoned.into_inner());
            for uuid in uuids {
                match cache.get(uuid) {
                    Some(codename) => {
                        found.insert(uuid.to_owned(), codename.clone());
                    }
                    None if !missing.contains(&uuid) => missing.push(uuid),
                    None => {}
                }
            }
        }
        found.extend(self.fetch(&missing).await?);
        Ok(found)
    }

    /// Reads the user `user_id` from `users_table` and finds which of its permissions carries
    /// one of `rights` (codenames), judging only on catalog entries read now. Warm, that is one
    /// `BatchGetItem`: the user (and `other`, when given: a read's target rides along), and the
    /// entries the cache says carry a codename (a warm cache decides which entries to read, never
    /// the answer). Cold, the user's permissions that the cache does not know yet are read next.
    /// Denial may rest on the cache (an entry known to carry another codename is never read
    /// again); authorization never does. `None` when the user does not exist.
    pub async fn caller_holding(
        &self,
        users_table: &str,
        user_id: &str,
        rights: &[&str],
        other: Option<&str>,
    ) -> Result<Option<CallerWithRight>, StoreError> {
        Ok(self.read_caller(users_table, user_id, rights, other, None).await?.caller)
    }

    /// [`Catalog::caller_holding`], with the caller's API key read in the same `BatchGetItem`,
    /// for when `user_id` is only the key's expected owner: the caller is judged (and the
    /// catalog read further) only when the key, as read now, is live and belongs to `user_id`.
    /// Otherwise the answer has the key's record (`None` when absent or unusable) and no caller.
    pub async fn caller_with_key(
        &self,
        users_table: &str,
        user_id: &str,
        rights: &[&str],
        other: Option<&str>,
        key: KeyRead<'_>,
    ) -> Result<KeyAndCaller, StoreError> {
        self.read_caller(users_table, user_id, rights, other, Some(key)).await
    }

    async fn read_caller(
        &self,
        users_table: &str,
        user_id: &str,
        rights: &[&str],
        other: Option<&str>,
        key: Option<KeyRead<'_>>,
    ) -> Result<KeyAndCaller, StoreError> {
        let candidates = self.cached_uuids_named(rights);
        // BatchGetItem refuses a key asked for twice: a caller reading itself is read once.
        let mut users = vec![user_id];
        users.extend(other.filter(|other| *other != user_id));
        let mut reads = vec![
            TableKeys { table: users_table, key_name: USER_ID, keys: users },
            TableKeys {
                table: &self.table,
                key_name: PERMISSION_UUID,
                keys: candidates.iter().map(String::as_str).collect(),
            },
        ];
        reads.extend(key.map(|key| TableKeys {
            table: key.tokens_table,
            key_name: TOKEN_HASH,
            keys: vec![key.key_hash],
        }));
        let mut items = batch_get(&self.client, &reads, "BatchGetItem(users, permissions)").await?;
        let token = match key {
            Some(key) => {
                let token = items.remove(key.tokens_table).unwrap_or_default().first().and_then(TokenRecord::from_item);
                let belongs = token.as_ref().is_some_and(|token| token.user_id == user_id && token.is_live_at(key.now));
                if !belongs {
                    return Ok(KeyAndCaller { key: token, caller: None });
                }
                token
            }
            None => None,
        };
        let mut read: Vec<UserRecord> =
            items.remove(users_table).into_iter().flatten().filter_map(|item| UserRecord::from_item(&item)).collect();
        let Some(position) = read.iter().position(|user| user.user_id == user_id) else {
            return Ok(KeyAndCaller { key: token, caller: None });
        };
        let user = read.swap_remove(position);
        let other = match other {
            Some(other) if other == user_id => Some(user.clone()),
            Some(other) => read.into_iter().find(|user| user.user_id == other),
            None => None,
        };
        let fresh = self.remember(items.remove(&self.table).unwrap_or_default());
        let carries_a_right = |name: &Option<String>| name.as_deref().is_some_and(|name| rights.contains(&name));
        let holding = |entries: &HashMap<String, Option<String>>| {
            user.permissions.iter().find(|uuid| entries.get(uuid.as_str()).is_some_and(carries_a_right)).cloned()
        };
        let mut right_uuid = holding(&fresh);
        if right_uuid.is_none() {
            // What the cache does not know yet, and what it learned to carry a codename since
            // this request chose its candidates (a concurrent request may have just read it).
            let unread: Vec<&str> = {
                let cache = self.codenames.read().unwrap_or_else(|poisoned| poisoned.into_inner());
                user.permissions
                    .iter()
                    .map(String::as_str)
                    .filter(|uuid| !fresh.contains_key(*uuid))
                    .filter(|uuid| cache.get(*uuid).is_none_or(carries_a_right))
                    .collect()
            };
            right_uuid = holding(&self.fetch(&unread).await?);
        }
        Ok(KeyAndCaller { key: token, caller: Some(CallerWithRight { user, right_uuid, other }) })
    }

    /// Room is left in the batch for the caller, one other user and the caller's key.
    fn cached_uuids_named(&self, rights: &[&str]) -> Vec<String> {
        let cache = self.codenames.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        cache
            .iter()
            .filter(|(_, name)| name.as_deref().is_some_and(|name| rights.contains(&name)))
            .map(|(uuid, _)| uuid.clone())
            .take(BATCH_SIZE - 3)
            .collect()
    }

    /// Strongly consistent reads of the given entries, remembered in the cache. A stored string
    /// that could not be a key (empty, or longer than DynamoDB allows) names no entry: it is not
    /// sent, so bad stored data reads as "not in the catalog" instead of a ValidationException.
    async fn fetch(&self, uuids: &[&str]) -> Result<HashMap<String, Option<String>>, StoreError> {
        let uuids: Vec<&str> = uuids.iter().copied().filter(|uuid| super::is_usable_key(uuid)).collect();
        let mut found = HashMap::new();
        for chunk in uuids.chunks(BATCH_SIZE) {
            let reads = [TableKeys { table: &self.table, key_name: PERMISSION_UUID, keys: chunk.to_vec() }];
            let mut items = batch_get(&self.client, &reads, "BatchGetItem(permissions)").await?;
            found.extend(self.remember(items.remove(&self.table).unwrap_or_default()));
        }
        Ok(found)
    }

    fn remember(&self, items: Vec<HashMap<String, AttributeValue>>) -> HashMap<String, Option<String>> {
        let entries: HashMap<String, Option<String>> = items
            .iter()
            .filter_map(|item| {
                let uuid = read_string(item, PERMISSION_UUID)?;
                Some((uuid.to_owned(), read_string(item, CODENAME).map(str::to_owned)))
            })
            .collect();
        let mut cache = self.codenames.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        for (uuid, codename) in &entries {
            if cache.len() < CACHE_CAPACITY || cache.contains_key(uuid) {
                cache.insert(uuid.clone(), codename.clone());
            }
        }
        entries
    }
}
