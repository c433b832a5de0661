//! Where the admin API's HS256 keys come from.
//!
//! Deployed, the function reads the key itself from Secrets Manager (`JWT_SECRET_ID`, a secret's
//! name or ARN, with `secretsmanager:GetSecretValue` on that one secret), so the key never sits
//! in the function's configuration, where anyone allowed `lambda:GetFunctionConfiguration` could
//! read it. It reads both `AWSCURRENT` and `AWSPREVIOUS`: during a rotation, tokens signed with
//! either verify. A warm function keeps what it read for [`RefreshPolicy::max_age`] (5 minutes),
//! and reads again at once when a token's signature matches no key it holds, at most every
//! [`RefreshPolicy::min_interval`] (30 s), so a key rotated in is honoured within 30 s and a key
//! rotated out (no longer current nor previous) stops verifying within 5 minutes.
//!
//! Locally, `JWT_SECRET` may hold the key itself: accepted only with `DYNAMODB_ENDPOINT` set, so
//! a deployed function with a key in its configuration refuses to start.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use aws_sdk_secretsmanager::Client as SecretsClient;
use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata};
use jsonwebtoken::DecodingKey;

use crate::config::{ConfigError, optional, required_verbatim};

/// Shortest accepted key: RFC 7518 asks for a key at least as long as the HS256 output.
pub const MIN_SECRET_BYTES: usize = 32;

const CURRENT: &str = "AWSCURRENT";
const PREVIOUS: &str = "AWSPREVIOUS";

/// How long keys read from Secrets Manager are trusted, and how often a signature that matches
/// none of them may send the function back for fresh ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshPolicy {
    pub max_age: Duration,
    pub min_interval: Duration,
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        Self { max_age: Duration::from_secs(300), min_interval: Duration::from_secs(30) }
    }
}

/// The keys a token may be signed with, newest first.
pub type Keys = Arc<Vec<DecodingKey>>;

pub struct SigningKeys {
    source: Source,
    loaded: RwLock<Loaded>,
    /// One refresh at a time; the others wait for it and use what it read.
    refreshing: tokio::sync::Mutex<()>,
}

enum Source {
    Fixed,
    SecretsManager { client: SecretsClient, secret_id: String, policy: RefreshPolicy },
}

struct Loaded {
    keys: Keys,
    /// When these keys were read (or a read last failed): what the refresh policy counts from.
    at: Instant,
}

impl std::fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The keys stay out of every Debug output, hence out of logs.
        let source = match &self.source {
            Source::Fixed => "fixed (JWT_SECRET, local only)".to_owned(),
            Source::SecretsManager { secret_id, .. } => format!("Secrets Manager {secret_id}"),
        };
        f.debug_struct("SigningKeys").field("source", &source).finish_non_exhaustive()
    }
}

impl SigningKeys {
    /// One key that never changes: tests, and the local run's `JWT_SECRET`.
    pub fn fixed(secret: &[u8]) -> Result<Self, ConfigError> {
        let key = decoding_key(secret).ok_or_else(|| too_short("JWT_SECRET"))?;
        Ok(Self::with(Source::Fixed, vec![key]))
    }

    /// Reads the secret's current and previous versions now; fails if the current one cannot be
    /// read or is too short, so a broken deployment fails at init, never at a request.
    pub async fn from_secrets_manager(
        client: SecretsClient,
        secret_id: String,
        policy: RefreshPolicy,
    ) -> Result<Self, ConfigError> {
        let keys = read_versions(&client, &secret_id)
            .await
            .map_err(|problem| ConfigError { variable: "JWT_SECRET_ID", problem })?;
        Ok(Self::with(Source::SecretsManager { client, secret_id, policy }, keys))
    }

    /// `JWT_SECRET_ID` deployed; `JWT_SECRET` only beside a local `DYNAMODB_ENDPOINT`.
    pub async fn from_env(
        lookup: &impl Fn(&str) -> Option<String>,
        secrets: impl FnOnce() -> SecretsClient,
    ) -> Result<Self, ConfigError> {
        let local_secret = lookup("JWT_SECRET").filter(|value| !value.trim().is_empty());
        match (optional(lookup, "JWT_SECRET_ID"), local_secret) {
            (Some(_), Some(_)) => Err(ConfigError {
                variable: "JWT_SECRET",
                problem: "must not be set with JWT_SECRET_ID: the key comes from Secrets Manager".into(),
            }),
            (Some(secret_id), None) => Self::from_secrets_manager(secrets(), secret_id, RefreshPolicy::default()).await,
            (None, Some(_)) if optional(lookup, "DYNAMODB_ENDPOINT").is_none() => Err(ConfigError {
                variable: "JWT_SECRET",
                problem: "is a local-only key, accepted only with DYNAMODB_ENDPOINT; deployed, set JWT_SECRET_ID"
                    .into(),
            }),
            (None, Some(_)) => Self::fixed(required_verbatim(lookup, "JWT_SECRET")?.as_bytes()),
            (None, None) => Err(ConfigError {
                variable: "JWT_SECRET_ID",
                problem: "is not set (the Secrets Manager secret holding the JWT key; locally, JWT_SECRET)".into(),
            }),
        }
    }

    fn with(source: Source, keys: Vec<DecodingKey>) -> Self {
        let loaded = Loaded { keys: Arc::new(keys), at: Instant::now() };
        Self { source, loaded: RwLock::new(loaded), refreshing: tokio::sync::Mutex::new(()) }
    }

    /// The keys held now, without reading anything.
    pub fn held(&self) -> Keys {
        self.loaded.read().unwrap_or_else(|poisoned| poisoned.into_inner()).keys.clone()
    }

    /// The keys to verify with: the ones held, read again first when older than the policy
    /// allows.
    pub async fn current(&self) -> Keys {
        match &self.source {
            Source::SecretsManager { policy, .. } if self.age() >= policy.max_age => self.refresh(policy.max_age).await,
            _ => self.held(),
        }
    }

    /// Fresh keys after a signature matched none of the held ones, unless they were read (or
    /// tried) too recently; `None` when nothing new was read.
    pub async fn after_mismatch(&self) -> Option<Keys> {
        match &self.source {
            Source::SecretsManager { policy, .. } if self.age() >= policy.min_interval => {
                Some(self.refresh(policy.min_interval).await)
            }
            _ => None,
        }
    }

    fn age(&self) -> Duration {
        self.loaded.read().unwrap_or_else(|poisoned| poisoned.into_inner()).at.elapsed()
    }

    /// Reads the versions again if the held keys are still at least `stale_after` old once this
    /// task has the refresh to itself. A failed read keeps the held keys (a Secrets Manager
    /// outage does not lock admins out) and counts as a read, so a failing Secrets Manager is
    /// asked at most once per interval.
    async fn refresh(&self, stale_after: Duration) -> Keys {
        let Source::SecretsManager { client, secret_id, .. } = &self.source else { return self.held() };
        let _only_one = self.refreshing.lock().await;
        if self.age() < stale_after {
            return self.held();
        }
        let read = read_versions(client, secret_id).await;
        let mut loaded = self.loaded.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        loaded.at = Instant::now();
        match read {
            Ok(keys) => loaded.keys = Arc::new(keys),
            Err(problem) => {
                tracing::warn!(secret_id = %secret_id, %problem, "JWT keys not refreshed; keeping the held ones")
            }
        }
        loaded.keys.clone()
    }
}

/// The current version (required) and the previous one (when there is one: a secret never
/// rotated has none), both read at once.
async fn read_versions(client: &SecretsClient, secret_id: &str) -> Result<Vec<DecodingKey>, String> {
    let read = |stage: &'static str| client.get_secret_value().secret_id(secret_id).version_stage(stage).send();
    let (current, previous) = tokio::join!(read(CURRENT), read(PREVIOUS));
    let current =
        current.map_err(|error| format!("GetSecretValue ({CURRENT}) failed: {}", DisplayErrorContext(&error)))?;
    let current_key = secret_bytes(&current)
        .and_then(decoding_key)
        .ok_or_else(|| format!("the {CURRENT} version is not a key of at least {MIN_SECRET_BYTES} bytes"))?;
    let mut keys = vec![current_key];
    match previous {
        Ok(previous) => match secret_bytes(&previous).and_then(decoding_key) {
            Some(key) => keys.push(key),
            None => tracing::warn!(secret_id, "the {PREVIOUS} version is not a usable key; ignored"),
        },
        // A secret that was never rotated has no previous version.
        Err(error) if error.code() == Some("ResourceNotFoundException") => {}
        Err(error) => {
            tracing::warn!(secret_id, error = %DisplayErrorContext(&error), "{PREVIOUS} not read; only {CURRENT} verifies")
        }
    }
    Ok(keys)
}

fn secret_bytes(output: &aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueOutput) -> Option<&[u8]> {
    output.secret_string().map(str::as_bytes).or_else(|| output.secret_binary().map(|blob| blob.as_ref()))
}

fn decoding_key(secret: &[u8]) -> Option<DecodingKey> {
    (secret.len() >= MIN_SECRET_BYTES).then(|| DecodingKey::from_secret(secret))
}

fn too_short(variable: &'static str) -> ConfigError {
    ConfigError { variable, problem: format!("must be at least {MIN_SECRET_BYTES} bytes long") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| pairs.iter().find(|(key, _)| *key == name).map(|(_, value)| (*value).to_owned())
    }

    async fn refused(pairs: &'static [(&'static str, &'static str)]) -> ConfigError {
        SigningKeys::from_env(&env(pairs), || unreachable!("no Secrets Manager client is needed to refuse"))
            .await
            .unwrap_err()
    }

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    #[tokio::test]
    async fn a_local_key_needs_a_local_dynamodb() {
        let error = refused(&[("JWT_SECRET", KEY)]).await;
        assert_eq!(error.variable, "JWT_SECRET");
        assert!(error.problem.contains("local-only"), "{error}");
        assert!(!error.to_string().contains(KEY));
        let local = env(&[("JWT_SECRET", KEY), ("DYNAMODB_ENDPOINT", "http://127.0.0.1:8000")]);
        assert!(SigningKeys::from_env(&local, || unreachable!()).await.is_ok());
    }

    #[tokio::test]
    async fn the_key_has_one_source() {
        let both = refused(&[("JWT_SECRET", KEY), ("JWT_SECRET_ID", "permissions-service/jwt-secret")]).await;
        assert_eq!(both.variable, "JWT_SECRET");
        assert_eq!(refused(&[]).await.variable, "JWT_SECRET_ID");
        let short = refused(&[("JWT_SECRET", "short"), ("DYNAMODB_ENDPOINT", "http://127.0.0.1:8000")]).await;
        assert_eq!(short.to_string(), "environment variable JWT_SECRET: must be at least 32 bytes long");
    }
}
