//! The admin endpoint's bearer tokens: HS256 JWTs signed with `JWT_SECRET`.
//!
//! The algorithm is pinned: a token whose header names anything but HS256 (`none`, HS384/HS512,
//! RS*/ES*/PS*/EdDSA with our secret as a "public key") is rejected before any signature work.
//! `exp` and `sub` are required; `nbf` is honoured; `iss` and `aud` are checked when configured.

use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode};
use serde::Deserialize;

use crate::config::{ConfigError, optional, required_verbatim};

/// Shortest accepted secret: RFC 7518 asks for a key at least as long as the HS256 output.
pub const MIN_SECRET_BYTES: usize = 32;
/// Clock skew tolerated on `exp` and `nbf` between the token issuer and Lambda.
pub const LEEWAY_SECONDS: u64 = 30;
/// DynamoDB's limit on a partition key is 2048 bytes; a `sub` this long is nobody we store.
const MAX_SUBJECT_BYTES: usize = 1024;

pub struct JwtVerifier {
    key: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key stays out of every Debug output, hence out of logs.
        f.debug_struct("JwtVerifier").field("validation", &self.validation).finish_non_exhaustive()
    }
}

/// Why a token was refused. Deliberately not shown to callers (every case is the same 401);
/// the kind is logged so an operator can tell an expired token from a forged one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtRejected(pub String);

#[derive(Deserialize)]
struct Claims {
    sub: String,
}

impl JwtVerifier {
    /// `JWT_SECRET` (at least 32 bytes), optional `JWT_ISSUER` and `JWT_AUDIENCE`.
    pub fn from_env(lookup: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let secret = required_verbatim(lookup, "JWT_SECRET")?;
        Self::new(secret.as_bytes(), optional(lookup, "JWT_ISSUER"), optional(lookup, "JWT_AUDIENCE"))
    }

    pub fn new(secret: &[u8], issuer: Option<String>, audience: Option<String>) -> Result<Self, ConfigError> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(ConfigError {
                variable: "JWT_SECRET",
                problem: format!("must be at least {MIN_SECRET_BYTES} bytes long"),
            });
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_nbf = true;
        let mut required_claims = vec!["exp", "sub"];
        if let Some(issuer) = &issuer {
            validation.set_issuer(&[issuer]);
            required_claims.push("iss");
        }
        match &audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                required_claims.push("aud");
            }
            // An `aud` claim is not grounds for refusal when we have no audience to compare with.
            None => validation.validate_aud = false,
        }
        validation.set_required_spec_claims(&required_claims);
        Ok(Self { key: DecodingKey::from_secret(secret), validation })
    }

    /// The caller's id (`sub`) if the token is genuine and current.
    pub fn verify(&self, token: &str) -> Result<String, JwtRejected> {
        let data = decode::<Claims>(token, &self.key, &self.validation)
            .map_err(|error| JwtRejected(format!("{:?}", error.kind())))?;
        let subject = data.claims.sub;
        if subject.is_empty() || subject.len() > MAX_SUBJECT_BYTES {
            return Err(JwtRejected("unusable sub claim".into()));
        }
        Ok(subject)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_or_missing_secret_fails_naming_the_variable() {
        let short = JwtVerifier::new(&[b'k'; MIN_SECRET_BYTES - 1], None, None).unwrap_err();
        assert_eq!(short.variable, "JWT_SECRET");
        let missing = JwtVerifier::from_env(&|_| None).unwrap_err();
        assert_eq!(missing.variable, "JWT_SECRET");
        assert!(JwtVerifier::new(&[b'k'; MIN_SECRET_BYTES], None, None).is_ok());
    }

    #[test]
    fn the_secret_is_used_exactly_as_set() {
        let padded = " 0123456789abcdef0123456789abcde ";
        let verifier = JwtVerifier::from_env(&|name: &str| (name == "JWT_SECRET").then(|| padded.to_owned())).unwrap();
        let claims = serde_json::json!({ "sub": "u", "exp": jsonwebtoken::get_current_timestamp() + 60 });
        let header = jsonwebtoken::Header::new(Algorithm::HS256);
        let sign =
            |key: &str| jsonwebtoken::encode(&header, &claims, &jsonwebtoken::EncodingKey::from_secret(key.as_bytes()));
        assert_eq!(verifier.verify(&sign(padded).unwrap()), Ok("u".to_owned()));
        assert!(verifier.verify(&sign(padded.trim()).unwrap()).is_err());
    }

    #[test]
    fn debug_output_never_contains_the_secret() {
        let verifier = JwtVerifier::new(b"a-very-secret-value-of-32-bytes!!", None, None).unwrap();
        assert!(!format!("{verifier:?}").contains("a-very-secret"));
    }
}
