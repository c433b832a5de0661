//! The admin function's JWT keys come from Secrets Manager, never from its configuration, and a
//! rotation takes effect without a redeploy. Secrets Manager has no local server, so it is an
//! SDK-level stub over a small fake secret whose versions a test rotates; the grants themselves
//! run on DynamoDB Local.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_secretsmanager::Client as SecretsClient;
use aws_sdk_secretsmanager::operation::get_secret_value::{GetSecretValueError, GetSecretValueOutput};
use aws_sdk_secretsmanager::types::error::{InternalServiceError, ResourceNotFoundException};
use aws_smithy_mocks::{MockResponse, Rule, RuleMode, mock, mock_client};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use permissions_service::auth::jwt::JwtVerifier;
use permissions_service::auth::signing_keys::{RefreshPolicy, SigningKeys};
use serde_json::json;

use crate::support::AdminAdd;
use crate::support::fixtures::admin::{ADMIN, TARGET, admin_world};
use crate::support::{Event, TestEnv, now};

const SECRET_ID: &str = "permissions-service/jwt-secret";
const KEY_1: &str = "first-key-of-the-rotation-test-32-bytes";
const KEY_2: &str = "second-key-of-the-rotation-test-32-bytes";
const KEY_3: &str = "third-key-of-the-rotation-test-32-bytes!";

/// A secret's versions by stage, as Secrets Manager keeps them; `None` fails every read.
#[derive(Clone, Default)]
struct FakeSecret {
    stages: Arc<Mutex<Option<HashMap<&'static str, &'static str>>>>,
    reads: Arc<Mutex<usize>>,
}

impl FakeSecret {
    fn holding(current: &'static str, previous: Option<&'static str>) -> Self {
        let fake = Self::default();
        fake.set(current, previous);
        fake
    }

    /// A rotation's end: `current` is AWSCURRENT and `previous` AWSPREVIOUS.
    fn set(&self, current: &'static str, previous: Option<&'static str>) {
        let mut stages = HashMap::from([("AWSCURRENT", current)]);
        if let Some(previous) = previous {
            stages.insert("AWSPREVIOUS", previous);
        }
        *self.stages.lock().unwrap() = Some(stages);
    }

    fn break_down(&self) {
        *self.stages.lock().unwrap() = None;
    }

    fn reads(&self) -> usize {
        *self.reads.lock().unwrap()
    }

    fn rule(&self) -> Rule {
        let fake = self.clone();
        mock!(SecretsClient::get_secret_value).then_compute_response(move |input| {
            *fake.reads.lock().unwrap() += 1;
            let stages = fake.stages.lock().unwrap();
            let Some(stages) = stages.as_ref() else {
                return MockResponse::Error(GetSecretValueError::InternalServiceError(
                    InternalServiceError::builder().message("down").build(),
                ));
            };
            assert_eq!(input.secret_id(), Some(SECRET_ID), "only the configured secret is read");
            match input.version_stage().and_then(|stage| stages.get(stage)) {
                Some(value) => {
                    MockResponse::Output(GetSecretValueOutput::builder().name(SECRET_ID).secret_string(*value).build())
                }
                None => MockResponse::Error(GetSecretValueError::ResourceNotFoundException(
                    ResourceNotFoundException::builder().message("no such version").build(),
                )),
            }
        })
    }

    fn client(&self) -> SecretsClient {
        mock_client!(aws_sdk_secretsmanager, RuleMode::MatchAny, [&self.rule()], |config| config
            .retry_config(aws_sdk_secretsmanager::config::retry::RetryConfig::disabled()))
    }
}

fn signed_with(key: &str) -> String {
    let claims = json!({ "sub": ADMIN, "exp": now() + 600 });
    encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(key.as_bytes())).unwrap()
}

/// The admin world, its endpoint verifying with keys from `fake` under `policy`.
async fn world(fake: &FakeSecret, policy: RefreshPolicy) -> TestEnv {
    let keys = SigningKeys::from_secrets_manager(fake.client(), SECRET_ID.to_owned(), policy).await.unwrap();
    let seeded = admin_world().await;
    TestEnv::over(seeded.client.clone(), seeded.tables.clone(), JwtVerifier::with_keys(keys, None, None))
}

async fn status_with(env: &TestEnv, key: &str) -> u16 {
    let body = json!({ "payload": { "userId": TARGET, "permissions": ["compass.reports"] } });
    env.call::<AdminAdd>(Event::admin().bearer(&signed_with(key)).json(&body).http_api()).await.status
}

const NEVER_EARLY: RefreshPolicy =
    RefreshPolicy { max_age: Duration::from_secs(3600), min_interval: Duration::from_secs(3600) };
const AT_ONCE: RefreshPolicy = RefreshPolicy { max_age: Duration::from_secs(3600), min_interval: Duration::ZERO };

#[tokio::test]
async fn during_a_rotation_the_current_and_the_previous_key_both_verify() {
    let fake = FakeSecret::holding(KEY_2, Some(KEY_1));
    let env = world(&fake, NEVER_EARLY).await;
    assert_eq!(status_with(&env, KEY_2).await, 200);
    assert_eq!(status_with(&env, KEY_1).await, 200);
    assert_eq!(status_with(&env, KEY_3).await, 401);
    assert_eq!(fake.reads(), 2, "init reads both stages once; nothing is read per request");
}

#[tokio::test]
async fn a_secret_never_rotated_has_only_its_current_key() {
    let fake = FakeSecret::holding(KEY_1, None);
    let env = world(&fake, NEVER_EARLY).await;
    assert_eq!(status_with(&env, KEY_1).await, 200);
    assert_eq!(status_with(&env, KEY_2).await, 401);
}

#[tokio::test]
async fn a_key_rotated_in_verifies_without_a_redeploy() {
    let fake = FakeSecret::holding(KEY_1, None);
    let env = world(&fake, AT_ONCE).await;
    assert_eq!(status_with(&env, KEY_1).await, 200);
    fake.set(KEY_2, Some(KEY_1));
    assert_eq!(status_with(&env, KEY_2).await, 200, "a signature no held key matches sends for fresh keys");
    assert_eq!(status_with(&env, KEY_1).await, 200, "the previous key still verifies");
}

#[tokio::test]
async fn unknown_signatures_send_for_fresh_keys_at_most_once_per_interval() {
    let fake = FakeSecret::holding(KEY_1, None);
    let env = world(&fake, NEVER_EARLY).await;
    fake.set(KEY_2, Some(KEY_1));
    for _ in 0..5 {
        assert_eq!(status_with(&env, KEY_3).await, 401);
    }
    assert_eq!(status_with(&env, KEY_2).await, 401, "within the interval the held keys are all there is");
    assert_eq!(fake.reads(), 2, "forged tokens cost no Secrets Manager call");
}

#[tokio::test]
async fn a_key_rotated_out_stops_verifying_once_the_held_keys_age_out() {
    let fake = FakeSecret::holding(KEY_2, Some(KEY_1));
    let policy = RefreshPolicy { max_age: Duration::ZERO, min_interval: Duration::from_secs(3600) };
    let env = world(&fake, policy).await;
    assert_eq!(status_with(&env, KEY_1).await, 200);
    fake.set(KEY_3, Some(KEY_2));
    assert_eq!(status_with(&env, KEY_1).await, 401);
    assert_eq!(status_with(&env, KEY_3).await, 200);
}

#[tokio::test]
async fn a_secrets_manager_outage_keeps_the_held_keys() {
    let fake = FakeSecret::holding(KEY_1, None);
    let policy = RefreshPolicy { max_age: Duration::ZERO, min_interval: Duration::ZERO };
    let env = world(&fake, policy).await;
    fake.break_down();
    assert_eq!(status_with(&env, KEY_1).await, 200);
    assert_eq!(status_with(&env, KEY_2).await, 401);
}

#[tokio::test]
async fn init_fails_naming_the_variable_when_the_key_cannot_be_read_or_is_too_short() {
    let broken = FakeSecret::holding(KEY_1, None);
    broken.break_down();
    let error = SigningKeys::from_secrets_manager(broken.client(), SECRET_ID.into(), RefreshPolicy::default())
        .await
        .unwrap_err();
    assert_eq!(error.variable, "JWT_SECRET_ID");
    assert!(error.problem.contains("GetSecretValue (AWSCURRENT) failed"), "{error}");

    let short = FakeSecret::holding("too-short", None);
    let error = SigningKeys::from_secrets_manager(short.client(), SECRET_ID.into(), RefreshPolicy::default())
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "environment variable JWT_SECRET_ID: the AWSCURRENT version is not a key of at least 32 bytes"
    );
    assert!(!error.to_string().contains("too-short"));
}
