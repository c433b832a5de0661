//! The org endpoint's API keys. A key is never stored or logged: the tokens table is keyed by
//! the lowercase hex SHA-256 of the raw key, so a leaked table does not leak usable keys.

use sha2::{Digest, Sha256};

/// The tokens-table key for a raw API key.
pub fn token_hash(raw_key: &str) -> String {
    format!("{:x}", Sha256::digest(raw_key.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_lowercase_hex_sha256() {
        // Reference value from `printf abc | sha256sum`.
        assert_eq!(token_hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
