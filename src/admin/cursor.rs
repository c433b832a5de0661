//! The history's page cursor: opaque to callers, validated and bound to the `userId` it names,
//! not secret.
//!
//! It carries the user and the event id to continue after, with a digest of both, base64url
//! encoded. A cursor whose bytes were changed fails the digest, one of another user fails the
//! binding, and either is a 400. The digest is not a secret MAC, deliberately, so anyone who
//! knows this format can make a cursor the service accepts, for any user: a cursor grants
//! nothing its holder could not ask for without one (an admin names any user, and the cursor
//! only says where in that user's history to start), so a forger gains nothing, and no key has
//! to be kept, rotated or shared between functions for it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::domain::is_hyphenated_uuid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub user_id: String,
    /// An audit event id (a UUIDv7, so it sorts by time).
    pub after: String,
}

/// Longest cursor read: a genuine one is about 120 characters.
const MAX_CURSOR_CHARS: usize = 512;
const DIGEST_BYTES: usize = 12;

fn digest(user_id: &str, after: &str) -> String {
    let hash = Sha256::digest(format!("permission-history-cursor/v1\n{user_id}\n{after}").as_bytes());
    hash[..DIGEST_BYTES].iter().map(|byte| format!("{byte:02x}")).collect()
}

impl Cursor {
    pub fn encode(&self) -> String {
        let text = format!("v1.{}.{}.{}", self.user_id, self.after, digest(&self.user_id, &self.after));
        URL_SAFE_NO_PAD.encode(text)
    }

    /// `None` for anything that is not a well-formed cursor with a matching digest. The digest
    /// has no key, so a cursor made outside the service from this format decodes too: see the
    /// module's note on why that grants nothing.
    pub fn decode(text: &str) -> Option<Self> {
        if text.len() > MAX_CURSOR_CHARS {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let mut parts = text.split('.');
        let (Some("v1"), Some(user_id), Some(after), Some(check), None) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let genuine = is_hyphenated_uuid(after) && check == digest(user_id, after);
        genuine.then(|| Self { user_id: user_id.to_owned(), after: after.to_owned() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AFTER: &str = "019ad5a0-0000-7000-8000-000000000001";

    #[test]
    fn a_cursor_reads_back_and_any_change_to_it_does_not() {
        let cursor = Cursor { user_id: "68bb46bb4db8c853599f1ebb".into(), after: AFTER.into() };
        let text = cursor.encode();
        assert_eq!(Cursor::decode(&text), Some(cursor.clone()));
        let mut bytes = URL_SAFE_NO_PAD.decode(&text).unwrap();
        for index in 0..bytes.len() {
            let original = bytes[index];
            bytes[index] = if original == b'0' { b'1' } else { b'0' };
            assert_eq!(Cursor::decode(&URL_SAFE_NO_PAD.encode(&bytes)), None, "byte {index} changed");
            bytes[index] = original;
        }
        for junk in ["", "x", "%%%", "djE", &"A".repeat(600), "djEuYS5iLmM"] {
            assert_eq!(Cursor::decode(junk), None, "{junk}");
        }
    }
}
