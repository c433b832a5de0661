//! The idempotency table: the first answer to a caller's `Idempotency-Key`, kept 24 hours.
//!
//! A record is written only inside the change's own transaction (see `store::change`), so the
//! change and its record commit together or not at all: a request that was refused, or whose
//! transaction did not commit, leaves no record, and a retry is judged afresh. A record is the
//! caller's (its key is a digest of the caller's id and the key it sent), the request it
//! answered (a fingerprint of endpoint, target and permissions), and the answer (status and
//! body) to give again.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::AttributeValue;
use sha2::{Digest, Sha256};

use super::{read_string, string_attribute};
use crate::domain::PermissionSet;

pub const IDEMPOTENCY_KEY: &str = "idempotency_key";
pub const EXPIRES_AT: &str = "expires_at";
const FINGERPRINT: &str = "fingerprint";
const STATUS: &str = "status";
const BODY: &str = "body";

/// How long a first answer is given again: the window SPEC promises. DynamoDB's TTL deletes an
/// expired record only eventually, so the write's condition treats one past `expires_at` as gone.
pub const RETENTION: Duration = Duration::from_secs(24 * 60 * 60);

/// The longest key accepted, and what a key may be made of: visible ASCII, no spaces.
pub const MAX_KEY_CHARS: usize = 255;

/// Whether `key` is an `Idempotency-Key` this service accepts.
pub fn is_valid_key(key: &str) -> bool {
    (1..=MAX_KEY_CHARS).contains(&key.len()) && key.bytes().all(|byte| byte.is_ascii_graphic())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// What a change claims under a key: whose key it is, the request it answers, and the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// Digest of the caller's id and the key: one caller's keys never meet another's.
    pub record_key: String,
    pub fingerprint: String,
    pub status: u16,
    pub body: String,
}

impl Claim {
    /// `parts` name the request (endpoint, target, permissions), in an order the caller fixes.
    pub fn new(caller_id: &str, key: &str, parts: &[&str], status: u16, body: String) -> Self {
        let record_key = hex(&Sha256::digest(format!("{caller_id}\n{key}").as_bytes()));
        let mut fingerprint = Sha256::new();
        for part in parts {
            // Length-prefixed, so no two lists of parts give the same bytes.
            fingerprint.update(part.len().to_string().as_bytes());
            fingerprint.update(b":");
            fingerprint.update(part.as_bytes());
        }
        Self { record_key, fingerprint: hex(&fingerprint.finalize()), status, body }
    }

    /// The claim of a change's 200 answer: the request named by its endpoint, target and
    /// permissions, as every write endpoint (and the benchmark's baseline) makes it.
    pub fn of_change(
        caller_id: &str,
        key: &str,
        endpoint: &str,
        target: &str,
        permissions: &PermissionSet,
        body: String,
    ) -> Self {
        let mut parts = vec![endpoint, target];
        parts.extend(permissions.iter());
        Self::new(caller_id, key, &parts, 200, body)
    }

    pub fn to_item(&self, now: SystemTime) -> HashMap<String, AttributeValue> {
        let expires_at = epoch_seconds(now + RETENTION);
        HashMap::from([
            (IDEMPOTENCY_KEY.to_owned(), string_attribute(&self.record_key)),
            (FINGERPRINT.to_owned(), string_attribute(&self.fingerprint)),
            (STATUS.to_owned(), AttributeValue::N(self.status.to_string())),
            (BODY.to_owned(), string_attribute(&self.body)),
            (EXPIRES_AT.to_owned(), AttributeValue::N(expires_at.to_string())),
        ])
    }
}

/// A record as stored: the request it answered and the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAnswer {
    pub fingerprint: String,
    pub status: u16,
    pub body: String,
}

impl StoredAnswer {
    pub fn from_item(item: &HashMap<String, AttributeValue>) -> Option<Self> {
        let status = match item.get(STATUS) {
            Some(AttributeValue::N(number)) => number.parse().ok()?,
            _ => return None,
        };
        Some(Self {
            fingerprint: read_string(item, FINGERPRINT)?.to_owned(),
            status,
            body: read_string(item, BODY)?.to_owned(),
        })
    }
}

pub fn epoch_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |since| since.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_visible_ascii_up_to_255() {
        assert!(is_valid_key("a"));
        assert!(is_valid_key(&"k".repeat(255)));
        assert!(is_valid_key("8e03978e-40d5-43e8-bc93-6894a57f9324"));
        for bad in ["", " ", "a b", "é", "a\tb", "\u{7f}"] {
            assert!(!is_valid_key(bad), "{bad:?}");
        }
        assert!(!is_valid_key(&"k".repeat(256)));
    }

    #[test]
    fn claims_are_per_caller_and_per_request() {
        let claim = |caller: &str, parts: &[&str]| Claim::new(caller, "key", parts, 200, String::new());
        assert_ne!(claim("a", &["x"]).record_key, claim("b", &["x"]).record_key);
        assert_eq!(claim("a", &["x"]).record_key, claim("a", &["y"]).record_key);
        assert_ne!(claim("a", &["x", "y"]).fingerprint, claim("a", &["xy"]).fingerprint);
        assert_ne!(claim("a", &["x", "y"]).fingerprint, claim("a", &["y", "x"]).fingerprint);
    }

    #[test]
    fn a_record_reads_back() {
        let claim = Claim::new("a", "k", &["x"], 200, "{\"ok\":1}".into());
        let stored = StoredAnswer::from_item(&claim.to_item(SystemTime::now())).unwrap();
        assert_eq!((stored.fingerprint, stored.status, stored.body), (claim.fingerprint, 200, claim.body));
    }
}
