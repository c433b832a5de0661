//! The admin endpoint's bearer tokens: HS256 JWTs signed with a key of [`SigningKeys`].
//!
//! The algorithm is pinned: a token whose header names anything but HS256 (`none`, HS384/HS512,
//! RS*/ES*/PS*/EdDSA with our secret as a "public key") is rejected before any signature work.
//! `exp` and `sub` are required; `nbf` is honoured; `iss` and `aud` are checked when configured.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode};
use serde::Deserialize;

pub use super::signing_keys::MIN_SECRET_BYTES;
use super::signing_keys::SigningKeys;
use crate::config::{ConfigError, optional};

/// Clock skew tolerated on `exp` and `nbf` between the token issuer and Lambda.
pub const LEEWAY_SECONDS: u64 = 30;
/// DynamoDB's limit on a partition key is 2048 bytes; a `sub` this long is nobody we store.
const MAX_SUBJECT_BYTES: usize = 1024;

#[derive(Debug)]
pub struct JwtVerifier {
    keys: SigningKeys,
    validation: Validation,
}

/// Why a token was refused. Deliberately not shown to callers (every case is the same 401);
/// the kind is logged so an operator can tell an expired token from a forged one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtRejected(pub String);

#[derive(Deserialize)]
struct Claims {
    sub: String,
}

/// What one pass over the keys found.
enum Checked {
    Verified(String),
    /// The signature matches none of the keys: fresher keys might know it.
    NoKeyMatches,
    Rejected(JwtRejected),
}

impl JwtVerifier {
    /// The key from `JWT_SECRET_ID` (Secrets Manager, deployed) or `JWT_SECRET` (local only);
    /// optional `JWT_ISSUER` and `JWT_AUDIENCE`. `secrets` builds the Secrets Manager client,
    /// called only when one is needed.
    pub async fn from_env(
        lookup: &impl Fn(&str) -> Option<String>,
        secrets: impl FnOnce() -> aws_sdk_secretsmanager::Client,
    ) -> Result<Self, ConfigError> {
        let (issuer, audience) = (optional(lookup, "JWT_ISSUER"), optional(lookup, "JWT_AUDIENCE"));
        let keys = SigningKeys::from_env(lookup, secrets).await?;
        Ok(Self::with_keys(keys, issuer, audience))
    }

    /// A verifier with one fixed key (tests, local tools).
    pub fn new(secret: &[u8], issuer: Option<String>, audience: Option<String>) -> Result<Self, ConfigError> {
        Ok(Self::with_keys(SigningKeys::fixed(secret)?, issuer, audience))
    }

    pub fn with_keys(keys: SigningKeys, issuer: Option<String>, audience: Option<String>) -> Self {
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
        Self { keys, validation }
    }

    /// The caller's id (`sub`) if the token is genuine and current, judged on the keys held now
    /// (no Secrets Manager call).
    pub fn verify(&self, token: &str) -> Result<String, JwtRejected> {
        match self.check(token, &self.keys.held()) {
            Checked::Verified(subject) => Ok(subject),
            Checked::NoKeyMatches => Err(JwtRejected("InvalidSignature".into())),
            Checked::Rejected(rejected) => Err(rejected),
        }
    }

    /// As [`verify`](Self::verify), on keys kept fresh: read again when old, and once more when
    /// the signature matches none of them (a key just rotated in).
    pub async fn verify_current(&self, token: &str) -> Result<String, JwtRejected> {
        match self.check(token, &self.keys.current().await) {
            Checked::Verified(subject) => return Ok(subject),
            Checked::Rejected(rejected) => return Err(rejected),
            Checked::NoKeyMatches => {}
        }
        if let Some(fresh) = self.keys.after_mismatch().await
            && let Checked::Verified(subject) = self.check(token, &fresh)
        {
            return Ok(subject);
        }
        Err(JwtRejected("InvalidSignature".into()))
    }

    fn check(&self, token: &str, keys: &[DecodingKey]) -> Checked {
        for key in keys {
            match decode::<Claims>(token, key, &self.validation) {
                Ok(data) => {
                    let subject = data.claims.sub;
                    if subject.is_empty() || subject.len() > MAX_SUBJECT_BYTES {
                        return Checked::Rejected(JwtRejected("unusable sub claim".into()));
                    }
                    return Checked::Verified(subject);
                }
                Err(error) if *error.kind() == ErrorKind::InvalidSignature => continue,
                Err(error) => return Checked::Rejected(JwtRejected(format!("{:?}", error.kind()))),
            }
        }
        Checked::NoKeyMatches
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_secret_fails_naming_the_variable() {
        let short = JwtVerifier::new(&[b'k'; MIN_SECRET_BYTES - 1], None, None).unwrap_err();
        assert_eq!(short.variable, "JWT_SECRET");
        assert_eq!(short.problem, format!("must be at least {MIN_SECRET_BYTES} bytes long"));
        assert!(JwtVerifier::new(&[b'k'; MIN_SECRET_BYTES], None, None).is_ok());
    }

    #[tokio::test]
    async fn the_local_secret_is_used_exactly_as_set() {
        let padded = " 0123456789abcdef0123456789abcde ";
        let lookup = |name: &str| match name {
            "JWT_SECRET" => Some(padded.to_owned()),
            "DYNAMODB_ENDPOINT" => Some("http://127.0.0.1:8000".to_owned()),
            _ => None,
        };
        let verifier = JwtVerifier::from_env(&lookup, || unreachable!("no Secrets Manager locally")).await.unwrap();
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
