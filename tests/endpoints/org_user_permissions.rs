//! `PATCH /organizations/users/permissions/{user_uuid}/` end to end on DynamoDB Local. What it
//! shares with remove runs from one body each in `org_changes.rs`.

use crate::org_changes::{self, change};
use crate::support::fixtures::org::*;
use crate::support::{Event, OrgAdd, OrgRemove};

fn grant(target: &str, uuids: &[&str]) -> Event {
    change::<OrgAdd>(target, uuids)
}

#[tokio::test]
async fn grants_the_seed_example_and_answers_with_sorted_unique_lowercase_uuids() {
    org_changes::the_seed_example_answers_with_sorted_unique_lowercase_uuids::<OrgAdd>().await;
}

#[tokio::test]
async fn the_audit_record_names_target_actor_endpoint_permissions_and_request_id() {
    org_changes::the_audit_record_names_the_action_target_actor_endpoint_org_and_request_id::<OrgAdd>().await;
}

#[tokio::test]
async fn granting_what_the_user_holds_is_a_noop_on_the_set() {
    let env = org_world().await;
    env.changes::<OrgAdd>(grant(TARGET, &[P3]).http_api()).await;
    env.changes::<OrgAdd>(grant(TARGET, &[P3]).http_api()).await;
    assert_eq!(env.permissions_of(TARGET).await.unwrap(), vec![P3]);
    assert_eq!(env.audit_of(TARGET).await.len(), 2, "each successful request is audited");
}

#[tokio::test]
async fn grants_to_a_user_without_a_permissions_attribute() {
    let env = org_world().await;
    env.changes::<OrgAdd>(grant(BARE, &[P2]).http_api()).await;
    assert_eq!(env.permissions_of(BARE).await.unwrap(), vec![P2]);
}

#[tokio::test]
async fn the_path_works_with_and_without_the_trailing_slash_and_in_any_case() {
    org_changes::the_path_works_with_and_without_the_trailing_slash_and_in_any_case::<OrgAdd>().await;
}

#[tokio::test]
async fn a_caller_may_grant_to_itself() {
    let env = org_world().await;
    env.changes::<OrgAdd>(grant(EDITOR, &[P1]).http_api()).await;
    let mut expected = vec![EDIT_RIGHT, P1];
    expected.sort();
    assert_eq!(env.permissions_of(EDITOR).await.unwrap(), expected);
}

#[tokio::test]
async fn the_token_keyword_is_case_insensitive() {
    org_changes::the_token_keyword_is_case_insensitive::<OrgAdd>().await;
}

#[tokio::test]
async fn rest_api_events_are_served_too() {
    org_changes::rest_api_events_are_served_too::<OrgAdd>().await;
}

#[tokio::test]
async fn function_url_events_without_path_parameters_take_the_uuid_from_the_path() {
    org_changes::function_url_events_without_path_parameters_take_the_uuid_from_the_path::<OrgAdd>().await;
}

#[tokio::test]
async fn base64_encoded_bodies_are_decoded() {
    org_changes::base64_encoded_bodies_are_decoded::<OrgAdd>().await;
}

#[tokio::test]
async fn invalid_fields_are_400_in_drf_shape_and_write_nothing() {
    org_changes::invalid_fields_are_400_in_drf_shape_and_write_nothing::<OrgAdd>().await;
}

#[tokio::test]
async fn malformed_and_non_object_json_are_400_and_write_nothing() {
    org_changes::malformed_and_non_object_json_are_400_and_write_nothing::<OrgAdd>().await;
}

#[tokio::test]
async fn unknown_catalog_uuids_are_named_and_nothing_is_written() {
    org_changes::unknown_catalog_uuids_are_named_and_nothing_is_written::<OrgAdd>().await;
}

#[tokio::test]
async fn bodies_that_are_not_json_get_415() {
    org_changes::bodies_that_are_not_json_get_415::<OrgAdd>().await;
}

#[tokio::test]
async fn unauthenticated_requests_get_401_with_a_token_challenge() {
    org_changes::unauthenticated_requests_get_401_with_a_token_challenge::<OrgAdd>().await;
}

#[tokio::test]
async fn callers_without_the_right_or_without_an_org_get_403() {
    org_changes::callers_without_the_right_or_without_an_org_get_403::<OrgAdd>().await;
}

#[tokio::test]
async fn a_revoked_caller_is_refused_on_its_very_next_request() {
    let env = org_world().await;
    env.changes::<OrgAdd>(grant(TARGET, &[P1]).http_api()).await;
    env.put_user(EDITOR, Some(ORG_A), None, &[P1]).await;
    env.refuses::<OrgAdd>(grant(TARGET, &[P2]).http_api(), 403).await;
}

#[tokio::test]
async fn the_warm_catalog_cache_never_authorizes_on_its_own() {
    org_changes::the_warm_catalog_cache_never_authorizes_on_its_own::<OrgAdd>().await;
}

#[tokio::test]
async fn a_missing_target_is_404_and_is_not_created() {
    org_changes::a_missing_target_is_404_and_is_not_created::<OrgAdd>().await;
}

#[tokio::test]
async fn a_user_of_another_org_is_indistinguishable_from_a_missing_one() {
    org_changes::a_user_of_another_org_is_indistinguishable_from_a_missing_one::<OrgAdd>().await;
}

#[tokio::test]
async fn bodies_over_64_kib_get_413_before_authentication() {
    org_changes::bodies_over_64_kib_get_413_before_authentication::<OrgAdd>().await;
}

#[tokio::test]
async fn checks_run_in_the_contract_order() {
    org_changes::checks_run_in_the_contract_order::<OrgAdd>().await;
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_like_api_gateway() {
    org_changes::unknown_routes_and_methods_answer_like_api_gateway::<OrgAdd, OrgRemove>().await;
}

#[tokio::test]
async fn a_backend_failure_is_a_500_logged_with_the_request_id() {
    org_changes::a_backend_failure_is_a_500_logged_with_the_request_id_and_changes_nothing::<OrgAdd>().await;
}

#[tokio::test]
async fn each_request_logs_one_line_with_its_id_outcome_and_latency_and_never_the_token() {
    org_changes::a_change_logs_its_request_line_and_an_audit_line_and_never_the_token::<OrgAdd>().await;
}
