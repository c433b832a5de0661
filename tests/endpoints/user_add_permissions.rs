//! `PUT /user/add-permissions` end to end on DynamoDB Local. What it shares with remove runs from
//! one body each in `admin_changes.rs`.

use permissions_service::auth::jwt::JwtVerifier;
use serde_json::json;

use crate::admin_changes::{self, change};
use crate::support::fixtures::admin::*;
use crate::support::{AdminAdd, AdminRemove};
use crate::support::{CapturedLogs, Event, JWT_SECRET, TestEnv, now};

fn grant(caller: &str, target: &str, permissions: &[&str]) -> Event {
    change::<AdminAdd>(caller, target, permissions)
}

#[tokio::test]
async fn grants_the_seed_example() {
    admin_changes::the_seed_example_is_changed_and_audited::<AdminAdd>().await;
}

#[tokio::test]
async fn the_audit_record_names_the_grant_its_target_actor_endpoint_permissions_and_request_id() {
    admin_changes::the_audit_record_names_the_action_target_actor_endpoint_permissions_and_request_id::<AdminAdd>()
        .await;
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
    admin_changes::rest_api_events_are_served_too::<AdminAdd>().await;
}

#[tokio::test]
async fn invalid_requests_are_validation_errors_and_write_nothing() {
    admin_changes::invalid_requests_are_validation_errors_and_write_nothing::<AdminAdd>().await;
}

#[tokio::test]
async fn a_validation_error_names_the_field() {
    let env = admin_world().await;
    let body = json!({ "payload": { "userId": TARGET, "permissions": ["compass.ok", "bad"] } });
    let response = env.refuses::<AdminAdd>(Event::admin().bearer(&jwt_for(ADMIN)).json(&body).http_api(), 400).await;
    let message = response.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("payload.permissions[1]"), "{message}");
}

#[tokio::test]
async fn bad_tokens_get_401_with_a_bearer_challenge() {
    admin_changes::bad_tokens_get_401_with_a_bearer_challenge::<AdminAdd>().await;
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
    admin_changes::non_admins_get_403_and_a_demoted_admin_is_stopped_at_once::<AdminAdd>().await;
}

#[tokio::test]
async fn a_deleted_admin_is_401_even_when_granting_to_itself() {
    admin_changes::a_deleted_admin_is_401_even_when_changing_itself::<AdminAdd>().await;
}

#[tokio::test]
async fn a_missing_target_is_404_and_is_not_created() {
    admin_changes::a_missing_target_is_404_and_is_not_created::<AdminAdd>().await;
}

#[tokio::test]
async fn bodies_over_64_kib_get_413_before_authentication() {
    admin_changes::bodies_over_64_kib_get_413_before_authentication::<AdminAdd>().await;
}

#[tokio::test]
async fn checks_run_in_the_contract_order() {
    admin_changes::checks_run_in_the_contract_order::<AdminAdd>().await;
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_like_api_gateway() {
    admin_changes::unknown_routes_and_methods_answer_like_api_gateway::<AdminAdd, AdminRemove>().await;
}

#[tokio::test]
async fn a_backend_failure_is_a_500_logged_with_the_request_id_and_no_token() {
    admin_changes::a_backend_failure_is_a_500_logged_with_the_request_id_and_no_token::<AdminAdd>().await;
}

#[tokio::test]
async fn a_grant_logs_its_request_line_and_an_audit_line() {
    admin_changes::a_change_logs_its_request_line_and_an_audit_line::<AdminAdd>().await;
}
