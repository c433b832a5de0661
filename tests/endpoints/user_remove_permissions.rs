//! `PUT /user/remove-permissions` end to end on DynamoDB Local: every status, the check order,
//! what is removed (held, not held, mixed, all, wildcards as exact strings), self-removal, the
//! audit record, the log lines and both payload formats.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use permissions_service::auth::jwt::JwtVerifier;
use permissions_service::store::audit::{Action, AuditRecord};
use permissions_service::store::users::PERMISSIONS;
use serde_json::{Value, json};

use crate::support::fixtures::admin::*;
use crate::support::{AdminAdd, AdminRemove};
use crate::support::{CapturedLogs, Event, JWT_SECRET, TableNames, TestEnv, now};

const ENDPOINT: &str = "user-remove-permissions";
const REMOVED: &str = "Successfully removed permissions for this user.";
const SEED_PERMISSIONS: [&str; 3] = ["compass.dashboard.*", "compass.dashboard.overview", "compass.emailmeter.stats"];

fn remove(caller: &str, target: &str, permissions: &[&str]) -> Event {
    Event::admin_remove()
        .bearer(&jwt_for(caller))
        .json(&json!({ "payload": { "userId": target, "permissions": permissions } }))
}

fn grant(caller: &str, target: &str, permissions: &[&str]) -> Event {
    Event::admin()
        .bearer(&jwt_for(caller))
        .json(&json!({ "payload": { "userId": target, "permissions": permissions } }))
}

fn removed() -> Value {
    json!({ "message": REMOVED, "data": {} })
}

fn error(code: &str, message: &str) -> Value {
    json!({ "error": { "code": code, "message": message } })
}

fn forbidden() -> Value {
    error("FORBIDDEN", "Insufficient permissions: only admins can remove permissions.")
}

fn not_found() -> Value {
    error("USER_NOT_FOUND", "User with this ID does not exist.")
}

fn invalid_token() -> Value {
    error("UNAUTHORIZED", "Invalid or expired authentication token.")
}

fn is_validation_error(body: &Value) -> bool {
    body["error"]["code"] == "VALIDATION_ERROR"
        && body["error"]["message"].as_str().is_some_and(|message| !message.is_empty())
        && body.as_object().is_some_and(|fields| fields.len() == 1)
        && body["error"].as_object().is_some_and(|fields| fields.len() == 2)
}

/// The admin world with the seed's target holding the seed's permissions and its own.
async fn target_holding_seed() -> TestEnv {
    let env = admin_world().await;
    let mut held = SEED_PERMISSIONS.to_vec();
    held.push("compass.users.*");
    env.put_user(TARGET, None, Some("user"), &held).await;
    env
}

#[tokio::test]
async fn removes_the_seed_example() {
    let env = target_holding_seed().await;
    let response = env.changes::<AdminRemove>(remove(ADMIN, TARGET, &SEED_PERMISSIONS).http_api()).await;
    assert_eq!(response.body, removed());
    assert_eq!(env.permissions_of(TARGET).await.unwrap(), ["compass.users.*"]);
}

#[tokio::test]
async fn the_audit_record_names_the_revoke_its_target_actor_endpoint_permissions_and_request_id() {
    let env = target_holding_seed().await;
    let event = remove(ADMIN, &TARGET.to_uppercase(), &["compass.emailmeter.stats", "compass.dashboard.*"]);
    env.changes::<AdminRemove>(event.http_api()).await;
    let records = env.audit_of(TARGET).await;
    assert_eq!(records.len(), 1);
    let record = &records[0];
    let expected = AuditRecord {
        user_id: TARGET.to_owned(),
        event_id: record.event_id.clone(),
        action: Action::Revoke,
        actor_id: ADMIN.to_owned(),
        endpoint: ENDPOINT.to_owned(),
        permissions: vec!["compass.dashboard.*".to_owned(), "compass.emailmeter.stats".to_owned()],
        at: record.at.clone(),
        request_id: event.request_id.clone(),
        org_uuid: None,
    };
    assert_eq!(record, &expected);
    assert_eq!(uuid::Uuid::parse_str(&record.event_id).unwrap().get_version_num(), 7);
    let at = humantime::parse_rfc3339(&record.at).expect("an RFC 3339 time");
    assert!(std::time::SystemTime::now().duration_since(at).unwrap() < std::time::Duration::from_secs(60));
    let items = env.audit_items_of(TARGET).await;
    assert_eq!(items[0].get("action").and_then(|value| value.as_s().ok()).map(String::as_str), Some("revoke"));
    assert_eq!(items[0].get("revoked_at").and_then(|value| value.as_s().ok()), Some(&record.at));
    assert!(!items[0].contains_key("granted_at") && !items[0].contains_key("org_uuid"), "{:?}", items[0]);
}

#[tokio::test]
async fn a_wildcard_is_an_exact_string() {
    let env = target_holding_seed().await;
    // Removing the wildcard removes that string, not what it would match.
    env.changes::<AdminRemove>(remove(ADMIN, TARGET, &["compass.dashboard.*"]).http_api()).await;
    assert_eq!(
        env.permissions_of(TARGET).await.unwrap(),
        ["compass.dashboard.overview", "compass.emailmeter.stats", "compass.users.*"]
    );
    // Removing what a held wildcard matches, or the bare module, removes nothing.
    for permission in ["compass.users.view", "compass.users", "compass.emailmeter.*", "compass.emailmeter"] {
        env.changes::<AdminRemove>(remove(ADMIN, TARGET, &[permission]).http_api()).await;
    }
    assert_eq!(
        env.permissions_of(TARGET).await.unwrap(),
        ["compass.dashboard.overview", "compass.emailmeter.stats", "compass.users.*"]
    );
    // An action does not take its module's wildcard with it either.
    env.changes::<AdminRemove>(remove(ADMIN, TARGET, &["compass.dashboard.overview"]).http_api()).await;
    assert_eq!(env.permissions_of(TARGET).await.unwrap(), ["compass.emailmeter.stats", "compass.users.*"]);
}

#[tokio::test]
async fn removing_what_is_not_held_is_a_noop_that_is_still_audited() {
    let env = admin_world().await;
    let before = env.user_data(TARGET).await;
    let response = env.changes::<AdminRemove>(remove(ADMIN, TARGET, &["compass.hubspot.*"]).http_api()).await;
    assert_eq!(response.body, removed());
    assert_eq!(env.user_data(TARGET).await, before);
    let records = env.audit_of(TARGET).await;
    assert_eq!((records[0].action, records[0].permissions.clone()), (Action::Revoke, vec!["compass.hubspot.*".into()]));
}

#[tokio::test]
async fn removing_a_mix_of_held_and_not_held_removes_the_held_ones_only() {
    let env = target_holding_seed().await;
    let mixed = ["compass.dashboard.overview", "compass.hubspot.*", "compass.dashboard.overview", "compass.users.*"];
    env.changes::<AdminRemove>(remove(ADMIN, TARGET, &mixed).http_api()).await;
    assert_eq!(env.permissions_of(TARGET).await.unwrap(), ["compass.dashboard.*", "compass.emailmeter.stats"]);
    assert_eq!(
        env.audit_of(TARGET).await[0].permissions,
        ["compass.dashboard.overview", "compass.hubspot.*", "compass.users.*"],
        "the record keeps what was requested, deduplicated"
    );
}

#[tokio::test]
async fn emptying_the_set_leaves_no_permissions_attribute_and_keeps_the_user() {
    let env = admin_world().await;
    env.changes::<AdminRemove>(remove(ADMIN, TARGET, &["compass.users.*"]).http_api()).await;
    let item = env.user_data(TARGET).await.expect("the target still exists");
    assert!(!item.contains_key(PERMISSIONS), "an emptied set must leave no attribute: {item:?}");
    assert_eq!(item.len(), 2, "user_id and role are kept: {item:?}");
    env.changes::<AdminRemove>(remove(ADMIN, TARGET, &["compass.users.*"]).http_api()).await;
    assert_eq!(env.user_data(TARGET).await.unwrap(), item);
    // A user without the attribute, from the start.
    let before = env.user_data(BARE).await.unwrap();
    env.changes::<AdminRemove>(remove(ADMIN, BARE, &["compass.users.*"]).http_api()).await;
    assert_eq!(env.user_data(BARE).await.unwrap(), before);
}

#[tokio::test]
async fn a_removal_of_100_permissions_fits_dynamodbs_expression_limits_held_or_not() {
    let env = admin_world().await;
    let mut permissions: Vec<String> = (0..100).map(|i| format!("compass.module{i:03}.*")).collect();
    permissions.sort();
    let many: Vec<&str> = permissions.iter().map(String::as_str).collect();
    let mut held = many.clone();
    held.push("compass.kept");
    env.put_user(BARE, None, Some("user"), &held).await;
    env.changes::<AdminRemove>(remove(ADMIN, BARE, &many).http_api()).await;
    assert_eq!(env.permissions_of(BARE).await.unwrap(), ["compass.kept"]);
    env.changes::<AdminRemove>(remove(ADMIN, BARE, &many).http_api()).await;
    // Half held: only those go.
    env.put_user(BARE, None, Some("user"), &many[..50]).await;
    env.changes::<AdminRemove>(remove(ADMIN, BARE, &many[25..]).http_api()).await;
    assert_eq!(env.permissions_of(BARE).await.unwrap(), many[..25]);
    assert_eq!(env.audit_of(BARE).await.len(), 3);
}

#[tokio::test]
async fn a_grant_then_its_removal_leave_the_set_as_it_was_with_both_audited_in_order() {
    let env = admin_world().await;
    env.changes::<AdminAdd>(grant(ADMIN, TARGET, &["compass.hubspot.*"]).http_api()).await;
    env.changes::<AdminRemove>(remove(ADMIN, TARGET, &["compass.hubspot.*"]).http_api()).await;
    assert_eq!(env.permissions_of(TARGET).await.unwrap(), ["compass.users.*"]);
    let trail: Vec<(Action, String)> =
        env.audit_of(TARGET).await.into_iter().map(|record| (record.action, record.endpoint)).collect();
    assert_eq!(trail, [(Action::Grant, "user-add-permissions".to_owned()), (Action::Revoke, ENDPOINT.to_owned())]);
}

#[tokio::test]
async fn an_admin_may_remove_its_own_permissions_and_stays_an_admin() {
    let env = admin_world().await;
    env.put_user(ADMIN, None, Some("admin"), &["compass.users.*", "compass.dashboard.*"]).await;
    let request = Event::admin_remove()
        .header("authorization", &format!("bearer {}", jwt_for(ADMIN)))
        .json(&json!({ "payload": { "userId": ADMIN.to_uppercase(), "permissions": ["compass.users.*"] } }));
    env.changes::<AdminRemove>(request.http_api()).await;
    assert_eq!(env.permissions_of(ADMIN).await.unwrap(), ["compass.dashboard.*"]);
    // The right is the role, not a permission: emptying its own set changes nothing about it.
    env.changes::<AdminRemove>(remove(ADMIN, ADMIN, &["compass.dashboard.*"]).http_api()).await;
    let item = env.user(ADMIN).await.unwrap();
    assert!(!item.contains_key(PERMISSIONS), "{item:?}");
    env.changes::<AdminRemove>(remove(ADMIN, TARGET, &["compass.users.*"]).http_api()).await;
    env.changes::<AdminAdd>(grant(ADMIN, TARGET, &["compass.users.*"]).http_api()).await;
    let record = &env.audit_of(ADMIN).await[0];
    assert_eq!((record.actor_id.as_str(), record.user_id.as_str()), (ADMIN, ADMIN));
}

#[tokio::test]
async fn rest_api_events_are_served_too() {
    let env = target_holding_seed().await;
    let response = env.changes::<AdminRemove>(remove(ADMIN, TARGET, &["compass.users.*"]).rest_api()).await;
    assert_eq!(response.body, removed());
    assert_eq!(env.permissions_of(TARGET).await.unwrap(), SEED_PERMISSIONS);
}

#[tokio::test]
async fn the_path_works_with_and_without_the_trailing_slash() {
    let env = target_holding_seed().await;
    let slashed = remove(ADMIN, TARGET, &["compass.users.*"]).path("/user/remove-permissions/");
    env.changes::<AdminRemove>(slashed.http_api()).await;
    env.changes::<AdminRemove>(slashed.rest_api()).await;
    assert_eq!(env.permissions_of(TARGET).await.unwrap(), SEED_PERMISSIONS);
}

#[tokio::test]
async fn unknown_body_fields_are_ignored() {
    let env = target_holding_seed().await;
    let body = json!({ "payload": { "userId": TARGET, "permissions": ["compass.users.*"], "all": true }, "x": 1 });
    env.changes::<AdminRemove>(Event::admin_remove().bearer(&jwt_for(ADMIN)).json(&body).http_api()).await;
    assert_eq!(env.permissions_of(TARGET).await.unwrap(), SEED_PERMISSIONS);
}

#[tokio::test]
async fn invalid_requests_are_validation_errors_and_write_nothing() {
    let env = target_holding_seed().await;
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
        json!({ "payload": { "userId": TARGET, "permissions": ["compass.*"] } }),
        json!({ "payload": { "userId": TARGET, "permissions": [format!("compass.{}", "a".repeat(65))] } }),
    ];
    for body in bodies {
        let request = Event::admin_remove().bearer(&jwt_for(ADMIN)).json(&body);
        let response = env.refuses::<AdminRemove>(request.http_api(), 400).await;
        assert!(is_validation_error(&response.body), "for {body}: {:?}", response.body);
    }
    let base = Event::admin_remove().bearer(&jwt_for(ADMIN));
    let valid = json!({ "payload": { "userId": TARGET, "permissions": ["compass.users.*"] } }).to_string();
    let cases = [
        (base.clone().header("content-type", "application/json").body("{\"payload\": "), None),
        (
            base.clone().header("content-type", "text/plain").body(&valid),
            Some("Content-Type must be application/json."),
        ),
        (base.clone().body(&valid), Some("Content-Type must be application/json.")),
        (base.clone().header("content-type", "application/json"), Some("Request body is required.")),
    ];
    for (request, message) in cases {
        let response = env.refuses::<AdminRemove>(request.http_api(), 400).await;
        assert!(is_validation_error(&response.body), "{:?}", response.body);
        if let Some(message) = message {
            assert_eq!(response.body, error("VALIDATION_ERROR", message));
        }
    }
    assert_eq!(env.permissions_of(TARGET).await.unwrap().len(), 4);
}

#[tokio::test]
async fn a_validation_error_names_the_field_with_adds_messages() {
    let env = admin_world().await;
    let body = json!({ "payload": { "userId": TARGET, "permissions": ["compass.ok", "bad"] } });
    let remove_response =
        env.refuses::<AdminRemove>(Event::admin_remove().bearer(&jwt_for(ADMIN)).json(&body).http_api(), 400).await;
    let message = remove_response.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("payload.permissions[1]"), "{message}");
    let add_response =
        env.refuses::<AdminAdd>(Event::admin().bearer(&jwt_for(ADMIN)).json(&body).http_api(), 400).await;
    assert_eq!(remove_response.body, add_response.body, "remove validates as add does");
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
        ("HS512", hs512.unwrap()),
        ("wrong key", wrong_key),
        ("stripped signature", stripped),
        ("expired", jwt(&json!({ "sub": ADMIN, "exp": now() - 120 }))),
        ("no exp", jwt(&json!({ "sub": ADMIN }))),
        ("no sub", jwt(&json!({ "exp": now() + 600 }))),
        ("unknown caller", jwt_for(NOBODY)),
        ("garbage", "not.a.jwt".to_owned()),
    ];
    let body = json!({ "payload": { "userId": TARGET, "permissions": ["compass.users.*"] } });
    for (name, token) in tokens {
        let response =
            env.refuses::<AdminRemove>(Event::admin_remove().bearer(&token).json(&body).http_api(), 401).await;
        assert_eq!(response.body, invalid_token(), "{name}");
        assert_eq!(response.headers["www-authenticate"], "Bearer", "{name}");
    }
    let missing = error("UNAUTHORIZED", "Missing authentication token.");
    for (header, expected) in [
        ("", &missing),
        ("Token abc", &missing),
        ("Bearer", &invalid_token()),
        (&format!("Basic {genuine}"), &missing),
        (&format!("Bearer {genuine} x"), &invalid_token()),
    ] {
        let mut event = Event::admin_remove().json(&body);
        if !header.is_empty() {
            event = event.header("authorization", header);
        }
        let response = env.refuses::<AdminRemove>(event.http_api(), 401).await;
        assert_eq!(&response.body, expected, "{header}");
        assert_eq!(response.headers["www-authenticate"], "Bearer", "{header}");
    }
    assert_eq!(env.permissions_of(TARGET).await.unwrap(), ["compass.users.*"]);
}

#[tokio::test]
async fn non_admins_get_403_and_a_demoted_admin_is_stopped_at_once() {
    let env = admin_world().await;
    let response = env.refuses::<AdminRemove>(remove(MEMBER, TARGET, &["compass.users.*"]).http_api(), 403).await;
    assert_eq!(response.body, forbidden());
    // Not even from itself.
    let response =
        env.refuses::<AdminRemove>(remove(MEMBER, MEMBER, &["compass.dashboard.overview"]).http_api(), 403).await;
    assert_eq!(response.body, forbidden());
    // A user without a role is no admin either.
    env.put_user(BARE, None, None, &[]).await;
    env.refuses::<AdminRemove>(remove(BARE, TARGET, &["compass.users.*"]).http_api(), 403).await;

    env.changes::<AdminRemove>(remove(ADMIN, TARGET, &["compass.users.*"]).http_api()).await;
    env.put_user(ADMIN, None, Some("user"), &["compass.users.*"]).await;
    assert_eq!(
        env.refuses::<AdminRemove>(remove(ADMIN, MEMBER, &["compass.a"]).http_api(), 403).await.body,
        forbidden()
    );
    assert_eq!(
        env.refuses::<AdminRemove>(remove(ADMIN, ADMIN, &["compass.users.*"]).http_api(), 403).await.body,
        forbidden()
    );
    assert_eq!(env.permissions_of(MEMBER).await.unwrap(), ["compass.dashboard.overview"]);
}

#[tokio::test]
async fn a_deleted_admin_is_401_even_when_removing_from_itself() {
    let env = admin_world().await;
    let token = jwt_for(ADMIN);
    env.delete_user(ADMIN).await;
    for target in [ADMIN, TARGET] {
        let body = json!({ "payload": { "userId": target, "permissions": ["compass.users.*"] } });
        let response =
            env.refuses::<AdminRemove>(Event::admin_remove().bearer(&token).json(&body).http_api(), 401).await;
        assert_eq!(response.body, invalid_token());
    }
    assert!(env.user(ADMIN).await.is_none(), "a self-removal must not recreate a deleted caller");
}

#[tokio::test]
async fn a_missing_target_is_404_and_is_not_created() {
    let env = admin_world().await;
    let response = env.refuses::<AdminRemove>(remove(ADMIN, NOBODY, &["compass.users.*"]).http_api(), 404).await;
    assert_eq!(response.body, not_found());
    assert!(env.user(NOBODY).await.is_none());
}

#[tokio::test]
async fn bodies_over_64_kib_get_413_before_authentication() {
    let env = admin_world().await;
    let huge = "x".repeat(64 * 1024 + 1);
    let request = Event::admin_remove().header("content-type", "application/json").body(&huge);
    let response = env.refuses::<AdminRemove>(request.http_api(), 413).await;
    assert_eq!(response.body, error("PAYLOAD_TOO_LARGE", "Request body must not exceed 65536 bytes."));
}

#[tokio::test]
async fn checks_run_in_the_contract_order() {
    let env = admin_world().await;
    let bad_body = json!({ "payload": { "userId": "nope", "permissions": [] } });
    let huge = "x".repeat(64 * 1024 + 1);
    // The route before the size, the size before authentication.
    let wrong_method = Event::admin_remove().method("PATCH").header("content-type", "application/json");
    let response = env.refuses::<AdminRemove>(wrong_method.body(&huge).http_api(), 404).await;
    assert_eq!(response.body, json!({ "message": "Not Found" }));
    let response = env.refuses::<AdminRemove>(Event::admin_remove().bearer("x").body(&huge).http_api(), 413).await;
    assert_eq!(response.body["error"]["code"], "PAYLOAD_TOO_LARGE");
    // Authentication before the form, for a missing token, a bad one, and an unknown caller.
    let response = env.refuses::<AdminRemove>(Event::admin_remove().json(&bad_body).http_api(), 401).await;
    assert_eq!(response.body, error("UNAUTHORIZED", "Missing authentication token."));
    let response = env.refuses::<AdminRemove>(Event::admin_remove().bearer("x").json(&bad_body).http_api(), 401).await;
    assert_eq!(response.body, invalid_token());
    let unknown = Event::admin_remove().bearer(&jwt_for(NOBODY)).json(&bad_body);
    assert_eq!(env.refuses::<AdminRemove>(unknown.http_api(), 401).await.body, invalid_token());
    let unknown = Event::admin_remove().bearer(&jwt_for(NOBODY)).header("content-type", "text/plain").body("x");
    assert_eq!(env.refuses::<AdminRemove>(unknown.http_api(), 401).await.body, invalid_token());
    // The form before the right.
    let response = env
        .refuses::<AdminRemove>(Event::admin_remove().bearer(&jwt_for(MEMBER)).json(&bad_body).http_api(), 400)
        .await;
    assert!(is_validation_error(&response.body), "{:?}", response.body);
    // The right before the target: a non-admin learns nothing about it.
    for target in [NOBODY, TARGET, MEMBER] {
        let response = env.refuses::<AdminRemove>(remove(MEMBER, target, &["compass.users.*"]).http_api(), 403).await;
        assert_eq!(response.body, forbidden(), "{target}");
    }
    // An unknown caller naming a missing target is still the 401.
    assert_eq!(
        env.refuses::<AdminRemove>(remove(NOBODY, NOBODY, &["compass.users.*"]).http_api(), 401).await.body,
        invalid_token()
    );
    assert_eq!(
        env.refuses::<AdminRemove>(remove(ADMIN, NOBODY, &["compass.a"]).http_api(), 404).await.body,
        not_found()
    );
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_like_api_gateway() {
    let env = target_holding_seed().await;
    for event in [
        remove(ADMIN, TARGET, &["compass.users.*"]).method("POST"),
        remove(ADMIN, TARGET, &["compass.users.*"]).method("DELETE"),
        remove(ADMIN, TARGET, &["compass.users.*"]).method("PATCH"),
        remove(ADMIN, TARGET, &["compass.users.*"]).path("/user/add-permissions"),
        remove(ADMIN, TARGET, &["compass.users.*"]).path("/user/remove-permission"),
        remove(ADMIN, TARGET, &["compass.users.*"]).path("/user/remove-permissions/x"),
    ] {
        assert_eq!(env.refuses::<AdminRemove>(event.http_api(), 404).await.body, json!({ "message": "Not Found" }));
    }
    // And the add endpoint does not remove.
    let sent_to_add = remove(ADMIN, TARGET, &["compass.users.*"]);
    assert_eq!(env.refuses::<AdminAdd>(sent_to_add.http_api(), 404).await.body, json!({ "message": "Not Found" }));
}

#[tokio::test]
async fn a_backend_failure_is_a_500_logged_with_the_request_id_and_no_token() {
    let healthy = target_holding_seed().await;
    let tables = TableNames { audit: format!("{}-missing", healthy.tables.audit), ..healthy.tables.clone() };
    let broken =
        TestEnv::over(healthy.client.clone(), tables, JwtVerifier::new(JWT_SECRET.as_bytes(), None, None).unwrap());
    let logs = CapturedLogs::start();
    let event = remove(ADMIN, TARGET, &["compass.users.*"]);
    let before = healthy.snapshot().await;
    let response = broken.call::<AdminRemove>(event.http_api()).await;
    assert_eq!(response.status, 500);
    assert_eq!(response.body, error("SERVER_ERROR", "Internal server error"));
    assert_eq!(healthy.snapshot().await, before, "the removal must not land without its audit record");
    let text = logs.text();
    assert!(text.contains(&event.request_id) && text.contains("backend failure"), "{text}");
    let token = jwt_for(ADMIN);
    let signature = token.rsplit('.').next().unwrap();
    assert!(!text.contains(signature) && !text.contains(JWT_SECRET), "a credential leaked into the log: {text}");
}

fn lines_of<'a>(text: &'a str, request_id: &str) -> Vec<&'a str> {
    text.lines().filter(|line| line.contains(&format!("request_id=\"{request_id}\""))).collect()
}

fn assert_has(line: &str, expected: &[&str]) {
    for part in expected {
        assert!(line.contains(part), "{part} missing from {line}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_removal_logs_its_request_line_and_an_audit_line() {
    let env = target_holding_seed().await;
    let logs = CapturedLogs::start();
    let revoked = remove(ADMIN, TARGET, &["compass.users.*", "compass.hubspot.*"]);
    env.changes::<AdminRemove>(revoked.http_api()).await;
    let not_held = remove(ADMIN, TARGET, &["compass.users.*"]);
    env.changes::<AdminRemove>(not_held.http_api()).await;
    let refused = remove(MEMBER, TARGET, &["compass.users.*"]);
    env.refuses::<AdminRemove>(refused.http_api(), 403).await;
    let text = logs.text();

    let endpoint = format!("endpoint=\"{ENDPOINT}\"");
    let target = format!("target=\"{TARGET}\"");
    let lines = lines_of(&text, &revoked.request_id);
    assert_eq!(lines.len(), 2, "a request line and an audit line: {text}");
    assert_has(lines[0], &["request completed", &endpoint, "status=200", "outcome=\"revoked\"", &target]);
    assert_has(lines[0], &["permissions_requested=2"]);
    assert_has(lines[1], &["permissions revoked", "log_type=\"audit\"", "action=\"revoke\"", &endpoint, &target]);
    assert_has(lines[1], &[&format!("actor=\"{ADMIN}\""), "permissions=\"compass.hubspot.*,compass.users.*\""]);
    assert_has(lines[1], &["changed=true"]);

    let lines = lines_of(&text, &not_held.request_id);
    assert_eq!(lines.len(), 2, "{text}");
    assert_has(lines[0], &["request completed", "status=200", "outcome=\"not_held\""]);
    assert_has(lines[1], &["permissions revoked", "log_type=\"audit\"", "action=\"revoke\"", "changed=false"]);

    let lines = lines_of(&text, &refused.request_id);
    assert_eq!(lines.len(), 1, "{text}");
    assert_has(lines[0], &["request completed", "status=403", "outcome=\"forbidden\""]);
    assert!(!text.contains("permissions granted"), "{text}");
}
