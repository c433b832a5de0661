//! `PUT /user/remove-permissions` end to end on DynamoDB Local: every status, the check order,
//! what is removed (held, not held, mixed, all, wildcards as exact strings), self-removal, the
//! audit record, the log lines and both payload formats. What it shares with add runs from one
//! body each in `admin_changes.rs`.

use permissions_service::store::audit::Action;
use permissions_service::store::users::PERMISSIONS;
use serde_json::json;

use crate::admin_changes::{self, SEED_PERMISSIONS, change, success};
use crate::support::fixtures::admin::*;
use crate::support::{AdminAdd, AdminRemove};
use crate::support::{Event, TestEnv};

fn remove(caller: &str, target: &str, permissions: &[&str]) -> Event {
    change::<AdminRemove>(caller, target, permissions)
}

fn grant(caller: &str, target: &str, permissions: &[&str]) -> Event {
    change::<AdminAdd>(caller, target, permissions)
}

/// The admin world with the seed's target holding the seed's permissions and its own.
async fn target_holding_seed() -> TestEnv {
    admin_changes::world::<AdminRemove>().await
}

#[tokio::test]
async fn removes_the_seed_example() {
    admin_changes::the_seed_example_is_changed_and_audited::<AdminRemove>().await;
}

#[tokio::test]
async fn the_audit_record_names_the_revoke_its_target_actor_endpoint_permissions_and_request_id() {
    admin_changes::the_audit_record_names_the_action_target_actor_endpoint_permissions_and_request_id::<AdminRemove>()
        .await;
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
    assert_eq!(response.body, success::<AdminRemove>());
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
    assert_eq!(
        trail,
        [(Action::Grant, "user-add-permissions".to_owned()), (Action::Revoke, "user-remove-permissions".to_owned())]
    );
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
    admin_changes::rest_api_events_are_served_too::<AdminRemove>().await;
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
    admin_changes::invalid_requests_are_validation_errors_and_write_nothing::<AdminRemove>().await;
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

#[tokio::test]
async fn bad_tokens_get_401_with_a_bearer_challenge() {
    admin_changes::bad_tokens_get_401_with_a_bearer_challenge::<AdminRemove>().await;
}

#[tokio::test]
async fn non_admins_get_403_and_a_demoted_admin_is_stopped_at_once() {
    admin_changes::non_admins_get_403_and_a_demoted_admin_is_stopped_at_once::<AdminRemove>().await;
}

#[tokio::test]
async fn a_deleted_admin_is_401_even_when_removing_from_itself() {
    admin_changes::a_deleted_admin_is_401_even_when_changing_itself::<AdminRemove>().await;
}

#[tokio::test]
async fn a_missing_target_is_404_and_is_not_created() {
    admin_changes::a_missing_target_is_404_and_is_not_created::<AdminRemove>().await;
}

#[tokio::test]
async fn bodies_over_64_kib_get_413_before_authentication() {
    admin_changes::bodies_over_64_kib_get_413_before_authentication::<AdminRemove>().await;
}

#[tokio::test]
async fn checks_run_in_the_contract_order() {
    admin_changes::checks_run_in_the_contract_order::<AdminRemove>().await;
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_like_api_gateway() {
    admin_changes::unknown_routes_and_methods_answer_like_api_gateway::<AdminRemove, AdminAdd>().await;
}

#[tokio::test]
async fn a_backend_failure_is_a_500_logged_with_the_request_id_and_no_token() {
    admin_changes::a_backend_failure_is_a_500_logged_with_the_request_id_and_no_token::<AdminRemove>().await;
}

#[tokio::test]
async fn a_removal_logs_its_request_line_and_an_audit_line() {
    admin_changes::a_change_logs_its_request_line_and_an_audit_line::<AdminRemove>().await;
}
