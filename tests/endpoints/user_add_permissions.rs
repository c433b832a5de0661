//! `PUT /user/add-permissions` end to end on DynamoDB Local.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use permissions_service::auth::jwt::JwtVerifier;
use serde_json::{Value, json};

use crate::support::AdminAdd;
use crate::support::fixtures::admin::*;
use crate::support::{CapturedLogs, Event, JWT_SECRET, TableNames, TestEnv, now};

fn grant(caller: &str, target: &str, permissions: &[&str]) -> Event {
    Event::admin()
        .bearer(&jwt_for(caller))
        .json(&json!({ "payload": { "userId": target, "permissions": permissions } }))
}

fn error(code: &str) -> impl Fn(&Value) -> bool + '_ {
    move |body| body["error"]["code"] == code && body["error"]["message"].as_str().is_some_and(|m| !m.is_empty())
}

#[tokio::test]
async fn grants_the_seed_example() {
    let env = admin_world().await;
    let event =
        grant(ADMIN, TARGET, &["compass.dashboard.*", "compass.dashboard.overview", "compass.emailmeter.stats"]);
    let response = env.changes::<AdminAdd>(event.http_api()).await;
    assert_eq!(response.body, json!({ "message": "Successfully added permissions for this user.", "data": {} }));
    assert_eq!(
        env.permissions_of(TARGET).await.unwrap(),
        ["compass.dashboard.*", "compass.dashboard.overview", "compass.emailmeter.stats", "compass.users.*"]
    );
    let records = env.audit_of(TARGET).await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].actor_id, ADMIN);
    assert_eq!(records[0].endpoint, "user-add-permissions");
    assert_eq!(records[0].request_id, event.request_id);
    assert_eq!(records[0].permissions.len(), 3);
}

#[tokio::test]
async fn a_grant_is_logged_as_changed_or_already_held_and_audited_either_way() {
    let env = admin_world().await;
    // 100 permissions, the most a request may carry: the newness condition must still fit
    // DynamoDB's expression limits, whether it passes (new) or fails (all held).
    let mut permissions: Vec<String> = (0..100).map(|i| format!("compass.module{i:03}.*")).collect();
    permissions.sort();
    let many: Vec<&str> = permissions.iter().map(String::as_str).collect();
    let logs = CapturedLogs::start();
    env.changes::<AdminAdd>(grant(ADMIN, BARE, &many).http_api()).await;
    env.changes::<AdminAdd>(grant(ADMIN, BARE, &many).http_api()).await;
    // One new among held ones is a change.
    env.changes::<AdminAdd>(grant(ADMIN, BARE, &["compass.module000.*", "compass.zeta"]).http_api()).await;
    let text = logs.text();
    let outcomes: Vec<&str> = text
        .lines()
        .filter(|line| line.contains("request completed"))
        .map(|line| if line.contains("outcome=\"granted\"") { "granted" } else { "already_held" })
        .collect();
    assert_eq!(outcomes, ["granted", "already_held", "granted"], "{text}");
    assert_eq!(text.matches("changed=false").count(), 1, "{text}");
    assert_eq!(env.permissions_of(BARE).await.unwrap().len(), 101);
    assert_eq!(env.audit_of(BARE).await.len(), 3);
}

#[tokio::test]
async fn duplicates_are_a_noop_and_existing_permissions_are_kept() {
    let env = admin_world().await;
    env.changes::<AdminAdd>(grant(ADMIN, TARGET, &["compass.users.*", "compass.users.*"]).http_api()).await;
    assert_eq!(env.permissions_of(TARGET).await.unwrap(), ["compass.users.*"]);
    env.changes::<AdminAdd>(grant(ADMIN, TARGET, &["compass.hubspot.*"]).http_api()).await;
    assert_eq!(env.permissions_of(TARGET).await.unwrap(), ["compass.hubspot.*", "compass.users.*"]);
}

#[tokio::test]
async fn grants_to_a_user_without_a_permissions_attribute_and_stores_ids_lowercase() {
    let env = admin_world().await;
    env.changes::<AdminAdd>(grant(ADMIN, &BARE.to_uppercase(), &["compass.departments.*"]).http_api()).await;
    assert_eq!(env.permissions_of(BARE).await.unwrap(), ["compass.departments.*"]);
}

#[tokio::test]
async fn an_admin_may_grant_to_itself_and_bearer_is_case_insensitive() {
    let env = admin_world().await;
    let request = Event::admin()
        .header("authorization", &format!("bearer {}", jwt_for(ADMIN)))
        .json(&json!({ "payload": { "userId": ADMIN, "permissions": ["compass.users.*"] } }));
    env.changes::<AdminAdd>(request.http_api()).await;
    assert_eq!(env.permissions_of(ADMIN).await.unwrap(), ["compass.users.*"]);
}

#[tokio::test]
async fn rest_api_events_are_served_too() {
    let env = admin_world().await;
    env.changes::<AdminAdd>(grant(ADMIN, TARGET, &["compass.hubspot.*"]).rest_api()).await;
}

#[tokio::test]
async fn invalid_requests_are_validation_errors_and_write_nothing() {
    let env = admin_world().await;
    let too_many: Vec<String> = (0..101).map(|i| format!("compass.m{i}")).collect();
    let bodies = vec![
        json!({}),
        json!([]),
        json!({ "payload": null }),
        json!({ "payload": [] }),
        json!({ "payload": { "permissions": ["compass.users.*"] } }),
        json!({ "payload": { "userId": 5, "permissions": ["compass.users.*"] } }),
        json!({ "payload": { "userId": "68bb46bb4db8c853599f1eb", "permissions": ["compass.users.*"] } }),
        json!({ "payload": { "userId": "68bb46bb4db8c853599f1ebz", "permissions": ["compass.users.*"] } }),
        json!({ "payload": { "userId": TARGET } }),
        json!({ "payload": { "userId": TARGET, "permissions": "compass.users.*" } }),
        json!({ "payload": { "userId": TARGET, "permissions": [] } }),
        json!({ "payload": { "userId": TARGET, "permissions": too_many } }),
        json!({ "payload": { "userId": TARGET, "permissions": ["compass.users.*", null] } }),
        json!({ "payload": { "userId": TARGET, "permissions": ["compass"] } }),
        json!({ "payload": { "userId": TARGET, "permissions": ["Compass.users"] } }),
        json!({ "payload": { "userId": TARGET, "permissions": ["compass.users.*.x"] } }),
        json!({ "payload": { "userId": TARGET, "permissions": ["compass.1users"] } }),
        json!({ "payload": { "userId": TARGET, "permissions": [format!("compass.{}", "a".repeat(65))] } }),
    ];
    for body in bodies {
        let request = Event::admin().bearer(&jwt_for(ADMIN)).json(&body);
        let response = env.refuses::<AdminAdd>(request.http_api(), 400).await;
        assert!(error("VALIDATION_ERROR")(&response.body), "for {body}: {:?}", response.body);
    }
    let base = Event::admin().bearer(&jwt_for(ADMIN));
    for request in [
        base.clone().header("content-type", "application/json").body("{\"payload\": "),
        base.clone().header("content-type", "text/plain").body("{}"),
        base.clone().body(&json!({ "payload": { "userId": TARGET, "permissions": ["compass.a"] } }).to_string()),
        base.clone().header("content-type", "application/json"),
    ] {
        let response = env.refuses::<AdminAdd>(request.http_api(), 400).await;
        assert!(error("VALIDATION_ERROR")(&response.body), "{:?}", response.body);
    }
}

#[tokio::test]
async fn a_validation_error_names_the_field() {
    let env = admin_world().await;
    let body = json!({ "payload": { "userId": TARGET, "permissions": ["compass.ok", "bad"] } });
    let response = env.refuses::<AdminAdd>(Event::admin().bearer(&jwt_for(ADMIN)).json(&body).http_api(), 400).await;
    let message = response.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("payload.permissions[1]"), "{message}");
}

fn forged(header: &Value, claims: &Value, signature: &str) -> String {
    let part = |value: &Value| URL_SAFE_NO_PAD.encode(value.to_string());
    format!("{}.{}.{signature}", part(header), part(claims))
}

#[tokio::test]
async fn bad_tokens_get_401_with_a_bearer_challenge() {
    let env = admin_world().await;
    let claims = json!({ "sub": ADMIN, "exp": now() + 600 });
    let genuine = jwt_for(ADMIN);
    let stripped = genuine.rsplit_once('.').unwrap().0.to_owned() + ".";
    let hs512 = encode(&Header::new(Algorithm::HS512), &claims, &EncodingKey::from_secret(JWT_SECRET.as_bytes()));
    let wrong_key = encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(&[7; 32])).unwrap();
    let tokens = vec![
        ("alg none", forged(&json!({ "alg": "none", "typ": "JWT" }), &claims, "")),
        ("alg None", forged(&json!({ "alg": "None" }), &claims, "")),
        ("HS512", hs512.unwrap()),
        ("wrong key", wrong_key),
        ("stripped signature", stripped),
        ("expired", jwt(&json!({ "sub": ADMIN, "exp": now() - 120 }))),
        ("no exp", jwt(&json!({ "sub": ADMIN }))),
        ("no sub", jwt(&json!({ "exp": now() + 600 }))),
        ("empty sub", jwt(&json!({ "sub": "", "exp": now() + 600 }))),
        ("not yet valid", jwt(&json!({ "sub": ADMIN, "exp": now() + 600, "nbf": now() + 300 }))),
        ("unknown caller", jwt_for(NOBODY)),
        ("garbage", "not.a.jwt".to_owned()),
    ];
    let body = json!({ "payload": { "userId": TARGET, "permissions": ["compass.users.*"] } });
    for (name, token) in tokens {
        let response = env.refuses::<AdminAdd>(Event::admin().bearer(&token).json(&body).http_api(), 401).await;
        assert!(error("UNAUTHORIZED")(&response.body), "{name}: {:?}", response.body);
        assert_eq!(response.headers["www-authenticate"], "Bearer", "{name}");
    }
    for header in ["", "Bearer", "Token abc", &format!("Basic {genuine}"), &format!("Bearer {genuine} x")] {
        let mut event = Event::admin().json(&body);
        if !header.is_empty() {
            event = event.header("authorization", header);
        }
        let response = env.refuses::<AdminAdd>(event.http_api(), 401).await;
        assert!(error("UNAUTHORIZED")(&response.body), "{header}: {:?}", response.body);
    }
}

#[tokio::test]
async fn issuer_and_audience_are_checked_when_configured() {
    let verifier = JwtVerifier::new(JWT_SECRET.as_bytes(), Some("auth.example".into()), Some("permissions".into()));
    let env = seed(TestEnv::with_jwt(verifier.unwrap()).await).await;
    let body = json!({ "payload": { "userId": TARGET, "permissions": ["compass.users.*"] } });
    let exp = now() + 600;
    for claims in [
        json!({ "sub": ADMIN, "exp": exp, "aud": "permissions" }),
        json!({ "sub": ADMIN, "exp": exp, "iss": "auth.example" }),
        json!({ "sub": ADMIN, "exp": exp, "iss": "evil", "aud": "permissions" }),
        json!({ "sub": ADMIN, "exp": exp, "iss": "auth.example", "aud": "other" }),
    ] {
        env.refuses::<AdminAdd>(Event::admin().bearer(&jwt(&claims)).json(&body).http_api(), 401).await;
    }
    let good = json!({ "sub": ADMIN, "exp": exp, "iss": "auth.example", "aud": ["other", "permissions"] });
    env.changes::<AdminAdd>(Event::admin().bearer(&jwt(&good)).json(&body).http_api()).await;
}

#[tokio::test]
async fn an_audience_claim_is_accepted_when_none_is_configured() {
    let env = admin_world().await;
    let token = jwt(&json!({ "sub": ADMIN, "exp": now() + 600, "aud": "anything" }));
    let body = json!({ "payload": { "userId": TARGET, "permissions": ["compass.users.*"] } });
    env.changes::<AdminAdd>(Event::admin().bearer(&token).json(&body).http_api()).await;
}

#[tokio::test]
async fn non_admins_get_403_and_a_demoted_admin_is_stopped_at_once() {
    let env = admin_world().await;
    let response = env.refuses::<AdminAdd>(grant(MEMBER, TARGET, &["compass.users.*"]).http_api(), 403).await;
    assert!(error("FORBIDDEN")(&response.body));
    // A non-admin cannot make itself admin or grant to itself either.
    env.refuses::<AdminAdd>(grant(MEMBER, MEMBER, &["compass.users.*"]).http_api(), 403).await;

    env.changes::<AdminAdd>(grant(ADMIN, TARGET, &["compass.hubspot.*"]).http_api()).await;
    env.put_user(ADMIN, None, Some("user"), &[]).await;
    env.refuses::<AdminAdd>(grant(ADMIN, TARGET, &["compass.dashboard.*"]).http_api(), 403).await;
    env.refuses::<AdminAdd>(grant(ADMIN, ADMIN, &["compass.dashboard.*"]).http_api(), 403).await;
}

#[tokio::test]
async fn a_deleted_admin_is_401_even_when_granting_to_itself() {
    let env = admin_world().await;
    let token = jwt_for(ADMIN);
    env.delete_user(ADMIN).await;
    let body = json!({ "payload": { "userId": ADMIN, "permissions": ["compass.users.*"] } });
    env.refuses::<AdminAdd>(Event::admin().bearer(&token).json(&body).http_api(), 401).await;
    assert!(env.user(ADMIN).await.is_none(), "a self-grant must not recreate a deleted caller");
}

#[tokio::test]
async fn a_missing_target_is_404_and_is_not_created() {
    let env = admin_world().await;
    let response = env.refuses::<AdminAdd>(grant(ADMIN, NOBODY, &["compass.users.*"]).http_api(), 404).await;
    assert!(error("USER_NOT_FOUND")(&response.body));
    assert!(env.user(NOBODY).await.is_none());
}

#[tokio::test]
async fn bodies_over_64_kib_get_413_before_authentication() {
    let env = admin_world().await;
    let huge = "x".repeat(64 * 1024 + 1);
    let request = Event::admin().header("content-type", "application/json").body(&huge);
    let response = env.refuses::<AdminAdd>(request.http_api(), 413).await;
    assert!(error("PAYLOAD_TOO_LARGE")(&response.body));
}

#[tokio::test]
async fn checks_run_in_the_contract_order() {
    let env = admin_world().await;
    let bad_body = json!({ "payload": { "userId": "nope", "permissions": [] } });
    env.refuses::<AdminAdd>(Event::admin().json(&bad_body).http_api(), 401).await;
    env.refuses::<AdminAdd>(Event::admin().bearer(&jwt_for(NOBODY)).json(&bad_body).http_api(), 401).await;
    env.refuses::<AdminAdd>(Event::admin().bearer(&jwt_for(MEMBER)).json(&bad_body).http_api(), 400).await;
    // A non-admin asking for a missing target learns nothing about it.
    env.refuses::<AdminAdd>(grant(MEMBER, NOBODY, &["compass.users.*"]).http_api(), 403).await;
    env.refuses::<AdminAdd>(grant(NOBODY, NOBODY, &["compass.users.*"]).http_api(), 401).await;
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_like_api_gateway() {
    let env = admin_world().await;
    for event in [
        grant(ADMIN, TARGET, &["compass.a"]).method("POST"),
        grant(ADMIN, TARGET, &["compass.a"]).path("/user/remove-permissions"),
    ] {
        assert_eq!(env.refuses::<AdminAdd>(event.http_api(), 404).await.body, json!({ "message": "Not Found" }));
    }
}

#[tokio::test]
async fn a_backend_failure_is_a_500_logged_with_the_request_id_and_no_token() {
    let healthy = admin_world().await;
    let tables = TableNames { users: format!("{}-missing", healthy.tables.users), ..healthy.tables.clone() };
    let broken =
        TestEnv::over(healthy.client.clone(), tables, JwtVerifier::new(JWT_SECRET.as_bytes(), None, None).unwrap());
    let logs = CapturedLogs::start();
    let event = grant(ADMIN, TARGET, &["compass.users.*"]);
    let before = healthy.snapshot().await;
    let response = broken.call::<AdminAdd>(event.http_api()).await;
    assert_eq!(response.status, 500);
    assert_eq!(response.body, json!({ "error": { "code": "SERVER_ERROR", "message": "Internal server error" } }));
    assert_eq!(healthy.snapshot().await, before);
    let text = logs.text();
    assert!(text.contains(&event.request_id) && text.contains("backend failure"), "{text}");
    let token = jwt_for(ADMIN);
    let signature = token.rsplit('.').next().unwrap();
    assert!(!text.contains(signature) && !text.contains(JWT_SECRET), "a credential leaked into the log: {text}");
}
