//! Attacks on authentication and authorization. Each is refused in the endpoint's own shape,
//! and nothing is written.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::crypto::sign;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use permissions_service::store::users::UserRecord;
use serde_json::{Value, json};

use crate::support::fixtures::admin::{ADMIN, MEMBER, TARGET, jwt_for};
use crate::support::fixtures::org;
use crate::support::{AdminAdd, OrgAdd};
use crate::support::{CapturedLogs, Event, JWT_SECRET, TestEnv, now};

fn claims() -> Value {
    json!({ "sub": ADMIN, "exp": now() + 600 })
}

/// A token whose header names `alg` but whose signature is HMAC-SHA256 keyed with our secret:
/// the algorithm-confusion forgery that fools a verifier trusting the header's `alg`.
fn hmac_signed_as(alg: &str, claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(json!({ "alg": alg, "typ": "JWT" }).to_string());
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let message = format!("{header}.{payload}");
    let key = EncodingKey::from_secret(JWT_SECRET.as_bytes());
    format!("{message}.{}", sign(message.as_bytes(), &key, Algorithm::HS256).unwrap())
}

fn body() -> Value {
    json!({ "payload": { "userId": TARGET, "permissions": ["compass.users.*"] } })
}

async fn admin_world() -> TestEnv {
    let env = TestEnv::new().await;
    env.put_user(ADMIN, None, Some("admin"), &[]).await;
    env.put_user(MEMBER, None, Some("user"), &[]).await;
    env.put_user(TARGET, None, Some("user"), &[]).await;
    env
}

#[tokio::test]
async fn algorithm_confusion_is_refused_whatever_the_header_claims() {
    let env = admin_world().await;
    // The forging helper itself makes valid tokens: with the honest header it is accepted.
    env.changes::<AdminAdd>(Event::admin().bearer(&hmac_signed_as("HS256", &claims())).json(&body()).http_api()).await;
    for alg in ["RS256", "RS512", "ES256", "ES384", "PS256", "EdDSA", "HS384", "HS512", "none", "hs256", ""] {
        let request = Event::admin().bearer(&hmac_signed_as(alg, &claims())).json(&body());
        let response = env.refuses::<AdminAdd>(request.http_api(), 401).await;
        assert_eq!(response.body["error"]["code"], "UNAUTHORIZED", "{alg}");
    }
}

#[tokio::test]
async fn key_pointers_in_the_header_are_ignored() {
    let env = admin_world().await;
    let pointing = |key: &[u8]| {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("../../attacker".into());
        header.jku = Some("https://attacker.example/jwks.json".into());
        header.x5u = Some("https://attacker.example/cert.pem".into());
        encode(&header, &claims(), &EncodingKey::from_secret(key)).unwrap()
    };
    // Signed with the attacker's key and pointing at it: refused.
    env.refuses::<AdminAdd>(Event::admin().bearer(&pointing(&[9; 32])).json(&body()).http_api(), 401).await;
    // Signed with ours: the pointers change nothing, the key is always JWT_SECRET.
    env.changes::<AdminAdd>(Event::admin().bearer(&pointing(JWT_SECRET.as_bytes())).json(&body()).http_api()).await;
}

#[tokio::test]
async fn credentials_in_the_query_string_are_ignored() {
    let env = admin_world().await;
    let jwt = jwt_for(ADMIN);
    let request = Event::admin().query(&format!("access_token={jwt}&token={jwt}")).json(&body());
    let response = env.refuses::<AdminAdd>(request.http_api(), 401).await;
    assert_eq!(response.body["error"]["message"], "Missing authentication token.");
}

#[tokio::test]
async fn bearer_spelling_variants() {
    let env = admin_world().await;
    let jwt = jwt_for(ADMIN);
    for accepted in
        [format!("bearer {jwt}"), format!("BEARER {jwt}"), format!("Bearer   {jwt}"), format!(" Bearer {jwt} ")]
    {
        env.changes::<AdminAdd>(Event::admin().header("authorization", &accepted).json(&body()).http_api()).await;
    }
    for refused in [
        format!("Bearer\t{jwt}"),
        format!("Bearer {jwt}\tx"),
        format!("Bearer{jwt}"),
        format!("Bearer {jwt}, Bearer {jwt}"),
    ] {
        env.refuses::<AdminAdd>(Event::admin().header("authorization", &refused).json(&body()).http_api(), 401).await;
    }
}

async fn org_world() -> TestEnv {
    let env = TestEnv::new().await;
    env.put_permission(org::EDIT_RIGHT, "edit_org_users").await;
    env.put_permission(org::P1, "view_reports").await;
    env.put_user(org::EDITOR, Some(org::ORG_A), None, &[org::EDIT_RIGHT]).await;
    env.put_user(org::TARGET, Some(org::ORG_A), None, &[]).await;
    env.put_user(org::OUTSIDER, Some(org::ORG_B), None, &[]).await;
    env.put_token(org::EDITOR_KEY, org::EDITOR, None).await;
    env
}

#[tokio::test]
async fn token_header_variants() {
    let env = org_world().await;
    let grant = |header: &str| {
        Event::org(org::TARGET).header("authorization", header).json(&json!({ "permission_uuids": [org::P1] }))
    };
    for accepted in [format!("token {}", org::EDITOR_KEY), format!("Token   {}", org::EDITOR_KEY)] {
        env.changes::<OrgAdd>(grant(&accepted).http_api()).await;
    }
    let huge = format!("Token {}", "k".repeat(10 * 1024));
    for refused in [
        format!("Token\t{}", org::EDITOR_KEY),
        format!("Token {}\t", org::EDITOR_KEY.to_uppercase()),
        format!("Token {}", org::EDITOR_KEY.to_uppercase()),
        huge,
        "Token clé".to_owned(),
    ] {
        env.refuses::<OrgAdd>(grant(&refused).http_api(), 401).await;
    }
}

#[tokio::test]
async fn an_editor_cannot_hand_its_right_to_another_org() {
    let env = org_world().await;
    let grant_right = |target: &str| {
        Event::org(target).token(org::EDITOR_KEY).json(&json!({ "permission_uuids": [org::EDIT_RIGHT] }))
    };
    let across = env.refuses::<OrgAdd>(grant_right(org::OUTSIDER).http_api(), 404).await;
    assert_eq!(across.body, json!({ "detail": "Not found." }));
    assert_eq!(env.permissions_of(org::OUTSIDER).await.unwrap(), Vec::<String>::new());
    // Within its own organization it may.
    env.changes::<OrgAdd>(grant_right(org::TARGET).http_api()).await;
}

#[tokio::test]
async fn a_non_admin_cannot_smuggle_itself_a_role() {
    let env = admin_world().await;
    let smuggled = json!({ "role": "admin", "payload": { "userId": MEMBER, "role": "admin", "permissions": ["compass.users.*"] } });
    env.refuses::<AdminAdd>(Event::admin().bearer(&jwt_for(MEMBER)).json(&smuggled).http_api(), 403).await;
    // Extra fields are ignored even from an admin: the role is not this endpoint's to change.
    env.changes::<AdminAdd>(Event::admin().bearer(&jwt_for(ADMIN)).json(&smuggled).http_api()).await;
    let member = UserRecord::from_item(&env.user(MEMBER).await.unwrap()).unwrap();
    assert_eq!(member.role.as_deref(), Some("user"));
}

#[tokio::test]
async fn no_credential_reaches_the_logs_even_at_debug_level() {
    let admin_env = admin_world().await;
    let org_env = org_world().await;
    let logs = CapturedLogs::start();
    let genuine = jwt_for(ADMIN);
    let forged = hmac_signed_as("RS256", &claims());
    let expired = encode(
        &Header::new(Algorithm::HS256),
        &json!({ "sub": ADMIN, "exp": now() - 600 }),
        &EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .unwrap();
    for token in [&genuine, &forged, &expired] {
        admin_env.call::<AdminAdd>(Event::admin().bearer(token).json(&body()).http_api()).await;
    }
    for key in [org::EDITOR_KEY, "an-unknown-key-value"] {
        let request = Event::org(org::TARGET).token(key).json(&json!({ "permission_uuids": [org::P1] }));
        org_env.call::<OrgAdd>(request.http_api()).await;
    }
    let text = logs.text();
    assert!(text.contains("bearer token rejected"), "the debug line should be there: {text}");
    for secret in
        [genuine.as_str(), forged.as_str(), expired.as_str(), org::EDITOR_KEY, "an-unknown-key-value", JWT_SECRET]
    {
        let signature_or_key = secret.rsplit('.').next().unwrap();
        assert!(!text.contains(signature_or_key), "a credential reached the logs: {text}");
    }
}

#[tokio::test]
async fn keys_are_stored_and_looked_up_by_hash_only() {
    let env = org_world().await;
    let stored_hash = permissions_service::auth::api_token::token_hash(org::EDITOR_KEY);
    let snapshot = env.snapshot().await;
    assert!(snapshot.iter().any(|line| line.contains(&stored_hash)));
    assert!(!snapshot.iter().any(|line| line.contains(org::EDITOR_KEY)), "no raw key at rest");
    // Someone who reads the tokens table gets hashes, and a hash is not a key.
    let request = Event::org(org::TARGET).token(&stored_hash).json(&json!({ "permission_uuids": [org::P1] }));
    let response = env.refuses::<OrgAdd>(request.http_api(), 401).await;
    assert_eq!(response.body, json!({ "detail": "Invalid token." }));
}
