//! The tokens table of the org endpoint: API keys stored only as their SHA-256.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;

use super::{StoreError, read_string, string_attribute};

pub const TOKEN_HASH: &str = "token_hash";
pub const USER_ID: &str = "user_id";
pub const EXPIRES_AT: &str = "expires_at";

#[derive(Debug, Clone, PartialEq)]
pub enum Expiry {
    Never,
    /// Epoch seconds. DynamoDB's TTL deletes expired items only eventually, so the check is ours.
    At(f64),
    /// Present but not a number: treated as expired, never as "no expiry".
    Unreadable,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TokenRecord {
    pub user_id: String,
    pub expiry: Expiry,
}

impl TokenRecord {
    /// The item as stored under `token_hash` (the key's SHA-256, never the key).
    pub fn to_item(&self, token_hash: &str) -> HashMap<String, AttributeValue> {
        let mut item = HashMap::from([
            (TOKEN_HASH.to_owned(), string_attribute(token_hash)),
            (USER_ID.to_owned(), string_attribute(&self.user_id)),
        ]);
        match self.expiry {
            Expiry::Never => {}
            Expiry::At(expires_at) => {
                item.insert(EXPIRES_AT.to_owned(), AttributeValue::N(expires_at.to_string()));
            }
            Expiry::Unreadable => {
                item.insert(EXPIRES_AT.to_owned(), string_attribute("unreadable"));
            }
        }
        item
    }

    /// A record as stored. One without a usable `user_id` (missing, not a string, or one that
    /// could not be a users-table key) is treated as no record: bad stored data fails closed, as
    /// a 401, instead of reaching DynamoDB as an invalid key.
    pub fn from_item(item: &HashMap<String, AttributeValue>) -> Option<Self> {
        let user_id = read_string(item, USER_ID).filter(|user_id| super::is_usable_key(user_id))?;
        let expiry = match item.get(EXPIRES_AT) {
            None | Some(AttributeValue::Null(_)) => Expiry::Never,
            Some(AttributeValue::N(number)) => number.parse().map(Expiry::At).unwrap_or(Expiry::Unreadable),
            Some(_) => Expiry::Unreadable,
        };
        Some(Self { user_id: user_id.to_owned(), expiry })
    }

    pub fn is_live_at(&self, now: SystemTime) -> bool {
        let now = now.duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
        match self.expiry {
            Expiry::Never => true,
            Expiry::At(expires_at) => now < expires_at,
            Expiry::Unreadable => false,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Tokens {
    client: Client,
    table: String,
}

impl Tokens {
    pub fn new(client: Client, table: String) -> Self {
        Self { client, table }
    }

    /// Looks a key up by its hash (see [`TokenRecord::from_item`] for what counts as none).
    pub async fn find(&self, token_hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        let item = super::get_item(&self.client, &self.table, TOKEN_HASH, token_hash, "GetItem(tokens)").await?;
        Ok(item.as_ref().and_then(TokenRecord::from_item))
    }

    pub fn table(&self) -> &str {
        &self.table
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn token(expiry: Expiry) -> TokenRecord {
        TokenRecord { user_id: "u".into(), expiry }
    }

    #[test]
    fn expiry_is_exclusive_and_unreadable_means_expired() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000);
        assert!(token(Expiry::Never).is_live_at(now));
        assert!(token(Expiry::At(1_001.0)).is_live_at(now));
        assert!(!token(Expiry::At(1_000.0)).is_live_at(now));
        assert!(!token(Expiry::Unreadable).is_live_at(now));
    }
}
