//! `DELETE /organizations/users/permissions/{user_uuid}/` end to end on DynamoDB Local: every
//! status, the check order, what is removed (held, not held, mixed, all), self-removal of the
//! right, the audit record, the log lines and both payload formats. What it shares with add runs
//! from one body each in `org_changes.rs`.

use permissions_service::store::audit::Action;
use permissions_service::store::users::PERMISSIONS;
use serde_json::json;

use crate::org_changes::{self, change, forbidden, sorted};
use crate::support::fixtures::org::*;
use crate::support::{CapturedLogs, Event, TestEnv};
use crate::support::{OrgAdd, OrgRemove};

const ENDPOINT: &str = "org-user-permissions-remove";

fn remove(target: &str, uuids: &[&str]) -> Event {
    change::<OrgRemove>(target, uuids)
}

fn grant(target: &str, uuids: &[&str]) -> Event {
    change::<OrgAdd>(target, uuids)
}

/// The org world with the seed's target holding P1, P2 and P3.
async fn target_holding_all() -> TestEnv {
    org_changes::world::<OrgRemove>().await
}

#[tokio::test]
async fn removes_the_seed_example_and_answers_with_sorted_unique_lowercase_uuids() {
    org_changes::the_seed_example_answers_with_sorted_unique_lowercase_uuids::<OrgRemove>().await;
}

#[tokio::test]
async fn removing_what_is_not_held_is_a_noop_that_is_still_audited() {
    let env = org_world().await;
    let before = env.user_data(TARGET).await;
    let response = env.changes::<OrgRemove>(remove(TARGET, &[P1, P2]).http_api()).await;
    assert_eq!(response.body, json!({ "user_uuid": TARGET, "permission_uuids": [P2, P1] }));
    assert_eq!(env.user_data(TARGET).await, before, "the target's item must not change");
    let records = env.audit_of(TARGET).await;
    assert_eq!(records.len(), 1);
    assert_eq!((records[0].action, records[0].permissions.clone()), (Action::Revoke, sorted(&[P1, P2])));
}

#[tokio::test]
async fn removing_a_mix_of_held_and_not_held_removes_the_held_ones_only() {
    let env = org_world().await;
    env.put_user(TARGET, Some(ORG_A), None, &[P1, P3]).await;
    env.changes::<OrgRemove>(remove(TARGET, &[P1, P2]).http_api()).await;
    assert_eq!(env.permissions_of(TARGET).await.unwrap(), vec![P3]);
    let records = env.audit_of(TARGET).await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].permissions, sorted(&[P1, P2]), "the record keeps what was requested");
}

#[tokio::test]
async fn emptying_the_set_leaves_no_permissions_attribute_and_keeps_the_user() {
    let env = org_world().await;
    env.changes::<OrgRemove>(remove(TARGET, &[P3]).http_api()).await;
    let item = env.user_data(TARGET).await.expect("the target still exists");
    assert!(!item.contains_key(PERMISSIONS), "an emptied set must leave no attribute: {item:?}");
    assert_eq!(item.len(), 2, "user_id and org_uuid are kept: {item:?}");
    // Removing again from a user without the attribute is a no-op, still audited.
    env.changes::<OrgRemove>(remove(TARGET, &[P3]).http_api()).await;
    assert_eq!(env.user_data(TARGET).await.unwrap(), item);
    assert_eq!(env.audit_of(TARGET).await.len(), 2);
}

#[tokio::test]
async fn removing_from_a_user_without_a_permissions_attribute_is_a_noop() {
    let env = org_world().await;
    let before = env.user_data(BARE).await.unwrap();
    let response = env.changes::<OrgRemove>(remove(BARE, &[P1]).http_api()).await;
    assert_eq!(response.body, json!({ "user_uuid": BARE, "permission_uuids": [P1] }));
    assert_eq!(env.user_data(BARE).await.unwrap(), before);
}

#[tokio::test]
async fn removing_one_permission_leaves_every_other_one() {
    let env = target_holding_all().await;
    env.changes::<OrgRemove>(remove(TARGET, &[P2]).http_api()).await;
    assert_eq!(env.permissions_of(TARGET).await.unwrap(), sorted(&[P1, P3]));
}

#[tokio::test]
async fn a_removal_of_100_uuids_fits_dynamodbs_expression_limits_held_or_not_from_others_or_itself() {
    let env = org_world().await;
    let uuids: Vec<String> = (0..100).map(|i| format!("d0000000-0000-4000-8000-{i:012}")).collect();
    for uuid in &uuids {
        env.put_permission(uuid, "many").await;
    }
    let all: Vec<&str> = uuids.iter().map(String::as_str).collect();
    // Half held: those go, the rest are no-ops; then none held: a no-op.
    let mut held = all[..50].to_vec();
    held.push(P3);
    env.put_user(TARGET, Some(ORG_A), None, &held).await;
    env.changes::<OrgRemove>(remove(TARGET, &all).http_api()).await;
    assert_eq!(env.permissions_of(TARGET).await.unwrap(), vec![P3]);
    env.changes::<OrgRemove>(remove(TARGET, &all).http_api()).await;
    assert_eq!(env.permissions_of(TARGET).await.unwrap(), vec![P3]);
    // From itself, where the right's condition joins the target's.
    let mut held = all[..50].to_vec();
    held.push(EDIT_RIGHT);
    env.put_user(EDITOR, Some(ORG_A), None, &held).await;
    env.changes::<OrgRemove>(remove(EDITOR, &all).http_api()).await;
    assert_eq!(env.permissions_of(EDITOR).await.unwrap(), vec![EDIT_RIGHT]);
    env.changes::<OrgRemove>(remove(EDITOR, &all).http_api()).await;
    assert_eq!(env.permissions_of(EDITOR).await.unwrap(), vec![EDIT_RIGHT]);
}

#[tokio::test]
async fn a_grant_then_its_removal_leave_the_set_as_it_was_with_both_audited_in_order() {
    let env = org_world().await;
    env.changes::<OrgAdd>(grant(TARGET, &[P1, P2]).http_api()).await;
    env.changes::<OrgRemove>(remove(TARGET, &[P1, P2]).http_api()).await;
    assert_eq!(env.permissions_of(TARGET).await.unwrap(), vec![P3]);
    let actions: Vec<(Action, String)> =
        env.audit_of(TARGET).await.into_iter().map(|record| (record.action, record.endpoint)).collect();
    assert_eq!(actions, [(Action::Grant, "org-user-permissions".to_owned()), (Action::Revoke, ENDPOINT.to_owned())]);
}

#[tokio::test]
async fn the_audit_record_names_the_revoke_its_target_actor_endpoint_org_and_request_id() {
    org_changes::the_audit_record_names_the_action_target_actor_endpoint_org_and_request_id::<OrgRemove>().await;
}

#[tokio::test]
async fn the_path_works_with_and_without_the_trailing_slash_and_in_any_case() {
    org_changes::the_path_works_with_and_without_the_trailing_slash_and_in_any_case::<OrgRemove>().await;
}

#[tokio::test]
async fn the_token_keyword_is_case_insensitive() {
    org_changes::the_token_keyword_is_case_insensitive::<OrgRemove>().await;
}

#[tokio::test]
async fn rest_api_events_are_served_too() {
    org_changes::rest_api_events_are_served_too::<OrgRemove>().await;
}

#[tokio::test]
async fn function_url_events_without_path_parameters_take_the_uuid_from_the_path() {
    org_changes::function_url_events_without_path_parameters_take_the_uuid_from_the_path::<OrgRemove>().await;
}

#[tokio::test]
async fn base64_encoded_bodies_are_decoded() {
    org_changes::base64_encoded_bodies_are_decoded::<OrgRemove>().await;
}

#[tokio::test]
async fn unknown_body_fields_are_ignored() {
    let env = target_holding_all().await;
    let body = json!({ "permission_uuids": [P1], "user_uuid": OUTSIDER, "org_uuid": ORG_B, "all": true });
    let request = Event::org_remove(TARGET).token(EDITOR_KEY).json(&body);
    env.changes::<OrgRemove>(request.http_api()).await;
    assert_eq!(env.permissions_of(TARGET).await.unwrap(), sorted(&[P2, P3]));
    assert_eq!(env.permissions_of(OUTSIDER).await.unwrap(), vec![P3]);
}

#[tokio::test]
async fn a_caller_may_remove_its_own_permissions_and_keep_its_right() {
    let env = org_world().await;
    env.put_user(EDITOR, Some(ORG_A), None, &[EDIT_RIGHT, P1]).await;
    let response = env.changes::<OrgRemove>(remove(EDITOR, &[P1]).http_api()).await;
    assert_eq!(response.body, json!({ "user_uuid": EDITOR, "permission_uuids": [P1] }));
    assert_eq!(env.permissions_of(EDITOR).await.unwrap(), vec![EDIT_RIGHT]);
    // It still holds the right: its next grant and removal go through.
    env.changes::<OrgAdd>(grant(TARGET, &[P1]).http_api()).await;
    env.changes::<OrgRemove>(remove(TARGET, &[P1]).http_api()).await;
    // Removing from itself what it does not hold is a no-op too.
    env.changes::<OrgRemove>(remove(EDITOR, &[P2]).http_api()).await;
    assert_eq!(env.permissions_of(EDITOR).await.unwrap(), vec![EDIT_RIGHT]);
}

#[tokio::test]
async fn a_caller_that_removes_its_own_edit_right_is_refused_on_its_very_next_request() {
    let env = org_world().await;
    let response = env.changes::<OrgRemove>(remove(EDITOR, &[EDIT_RIGHT]).http_api()).await;
    assert_eq!(response.body, json!({ "user_uuid": EDITOR, "permission_uuids": [EDIT_RIGHT] }));
    let item = env.user(EDITOR).await.unwrap();
    assert!(!item.contains_key(PERMISSIONS), "its only permission is gone: {item:?}");
    let record = &env.audit_of(EDITOR).await[0];
    assert_eq!((record.action, record.actor_id.as_str(), record.user_id.as_str()), (Action::Revoke, EDITOR, EDITOR));

    let grant_again = env.refuses::<OrgAdd>(grant(EDITOR, &[EDIT_RIGHT]).http_api(), 403).await;
    assert_eq!(grant_again.body, forbidden());
    let grant_other = env.refuses::<OrgAdd>(grant(TARGET, &[P1]).http_api(), 403).await;
    assert_eq!(grant_other.body, forbidden());
    let remove_other = env.refuses::<OrgRemove>(remove(TARGET, &[P3]).http_api(), 403).await;
    assert_eq!(remove_other.body, forbidden());
    assert_eq!(env.permissions_of(TARGET).await.unwrap(), vec![P3]);
}

#[tokio::test]
async fn a_caller_that_removes_its_right_among_others_keeps_the_rest_and_loses_the_right() {
    let env = org_world().await;
    env.put_user(EDITOR, Some(ORG_A), None, &[EDIT_RIGHT, P1, P2]).await;
    env.changes::<OrgRemove>(remove(EDITOR, &[EDIT_RIGHT, P1]).http_api()).await;
    assert_eq!(env.permissions_of(EDITOR).await.unwrap(), vec![P2]);
    env.refuses::<OrgRemove>(remove(EDITOR, &[P2]).http_api(), 403).await;
    env.refuses::<OrgAdd>(grant(EDITOR, &[EDIT_RIGHT]).http_api(), 403).await;
}

#[tokio::test]
async fn an_editor_whose_right_another_editor_removed_is_refused_on_its_very_next_request() {
    let env = org_world().await;
    let second = "e0000000-0000-4000-8000-000000000006";
    env.put_user(second, Some(ORG_A), None, &[EDIT_RIGHT]).await;
    env.put_token("second-editor-key", second, None).await;
    env.changes::<OrgRemove>(remove(second, &[EDIT_RIGHT]).http_api()).await;
    let by_second = Event::org_remove(TARGET).token("second-editor-key").json(&json!({ "permission_uuids": [P3] }));
    assert_eq!(env.refuses::<OrgRemove>(by_second.http_api(), 403).await.body, forbidden());
    let by_second = Event::org(TARGET).token("second-editor-key").json(&json!({ "permission_uuids": [P1] }));
    assert_eq!(env.refuses::<OrgAdd>(by_second.http_api(), 403).await.body, forbidden());
}

#[tokio::test]
async fn invalid_fields_are_400_in_drf_shape_and_write_nothing() {
    org_changes::invalid_fields_are_400_in_drf_shape_and_write_nothing::<OrgRemove>().await;
}

#[tokio::test]
async fn an_empty_body_reports_the_missing_field() {
    let env = org_world().await;
    let response = env.refuses::<OrgRemove>(Event::org_remove(TARGET).token(EDITOR_KEY).http_api(), 400).await;
    assert_eq!(response.body, json!({ "permission_uuids": ["This field is required."] }));
}

#[tokio::test]
async fn malformed_and_non_object_json_are_400_and_write_nothing() {
    org_changes::malformed_and_non_object_json_are_400_and_write_nothing::<OrgRemove>().await;
}

#[tokio::test]
async fn unknown_catalog_uuids_are_named_and_nothing_is_written() {
    org_changes::unknown_catalog_uuids_are_named_and_nothing_is_written::<OrgRemove>().await;
}

#[tokio::test]
async fn a_stored_uuid_the_catalog_lacks_is_still_refused_and_kept() {
    // Catalog entries are never deleted; a uuid outside it is a typo, even when the user holds it.
    let env = org_world().await;
    env.put_user(TARGET, Some(ORG_A), None, &[P3, UNKNOWN]).await;
    let response = env.refuses::<OrgRemove>(remove(TARGET, &[UNKNOWN]).http_api(), 400).await;
    assert_eq!(
        response.body,
        json!({ "permission_uuids": [format!("Invalid pk \"{UNKNOWN}\" - object does not exist.")] })
    );
    assert_eq!(env.permissions_of(TARGET).await.unwrap(), sorted(&[P3, UNKNOWN]));
}

#[tokio::test]
async fn bodies_that_are_not_json_get_415() {
    org_changes::bodies_that_are_not_json_get_415::<OrgRemove>().await;
}

#[tokio::test]
async fn unauthenticated_requests_get_401_with_a_token_challenge() {
    org_changes::unauthenticated_requests_get_401_with_a_token_challenge::<OrgRemove>().await;
}

#[tokio::test]
async fn callers_without_the_right_or_without_an_org_get_403() {
    org_changes::callers_without_the_right_or_without_an_org_get_403::<OrgRemove>().await;
}

#[tokio::test]
async fn the_warm_catalog_cache_never_authorizes_on_its_own() {
    org_changes::the_warm_catalog_cache_never_authorizes_on_its_own::<OrgRemove>().await;
}

#[tokio::test]
async fn a_missing_target_is_404_and_is_not_created() {
    org_changes::a_missing_target_is_404_and_is_not_created::<OrgRemove>().await;
}

#[tokio::test]
async fn a_user_of_another_org_is_indistinguishable_from_a_missing_one() {
    org_changes::a_user_of_another_org_is_indistinguishable_from_a_missing_one::<OrgRemove>().await;
}

#[tokio::test]
async fn bodies_over_64_kib_get_413_before_authentication() {
    org_changes::bodies_over_64_kib_get_413_before_authentication::<OrgRemove>().await;
}

#[tokio::test]
async fn checks_run_in_the_contract_order() {
    org_changes::checks_run_in_the_contract_order::<OrgRemove>().await;
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_like_api_gateway() {
    org_changes::unknown_routes_and_methods_answer_like_api_gateway::<OrgRemove, OrgAdd>().await;
}

#[tokio::test]
async fn a_backend_failure_is_a_500_logged_with_the_request_id_and_removes_nothing() {
    org_changes::a_backend_failure_is_a_500_logged_with_the_request_id_and_changes_nothing::<OrgRemove>().await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_target_whose_permissions_are_not_a_set_is_left_alone_and_reported() {
    let env = org_world().await;
    let mut item = env.user(TARGET).await.unwrap();
    item.insert(PERMISSIONS.to_owned(), crate::support::s(P1));
    env.put(&env.tables.users, item).await;
    let logs = CapturedLogs::start();
    let response = env.refuses::<OrgRemove>(remove(TARGET, &[P1]).http_api(), 500).await;
    assert_eq!(response.body, json!({ "detail": "A server error occurred." }));
    let text = logs.text();
    assert!(text.contains(&format!("user {TARGET}'s stored permissions are not a String Set")), "{text}");
}

#[tokio::test]
async fn a_removal_logs_its_request_line_and_an_audit_line_and_never_the_token() {
    org_changes::a_change_logs_its_request_line_and_an_audit_line_and_never_the_token::<OrgRemove>().await;
}
