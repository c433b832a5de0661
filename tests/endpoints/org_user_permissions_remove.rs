//! `DELETE /organizations/users/permissions/{user_uuid}/` end to end on DynamoDB Local: every
//! status, the check order, what is removed (held, not held, mixed, all), self-removal of the
//! right, the audit record, the log lines and both payload formats.

use permissions_service::auth::jwt::JwtVerifier;
use permissions_service::store::audit::{Action, AuditRecord};
use permissions_service::store::users::PERMISSIONS;
use serde_json::{Value, json};

use crate::support::fixtures::org::*;
use crate::support::{CapturedLogs, Event, JWT_SECRET, TableNames, TestEnv, now};
use crate::support::{OrgAdd, OrgRemove};

const ENDPOINT: &str = "org-user-permissions-remove";
const MISSING: &str = "f0000000-0000-4000-8000-00000000000f";

fn remove(target: &str, uuids: &[&str]) -> Event {
    Event::org_remove(target).token(EDITOR_KEY).json(&json!({ "permission_uuids": uuids }))
}

fn grant(target: &str, uuids: &[&str]) -> Event {
    Event::org(target).token(EDITOR_KEY).json(&json!({ "permission_uuids": uuids }))
}

fn sorted(uuids: &[&str]) -> Vec<String> {
    let mut uuids: Vec<String> = uuids.iter().map(|uuid| (*uuid).to_owned()).collect();
    uuids.sort();
    uuids.dedup();
    uuids
}

fn forbidden() -> Value {
    json!({ "detail": "You do not have permission to perform this action." })
}

/// The org world with the seed's target holding P1, P2 and P3.
async fn target_holding_all() -> TestEnv {
    let env = org_world().await;
    env.put_user(TARGET, Some(ORG_A), None, &[P1, P2, P3]).await;
    env
}

#[tokio::test]
async fn removes_the_seed_example_and_answers_with_sorted_unique_lowercase_uuids() {
    let env = target_holding_all().await;
    let body = json!({ "permission_uuids": [P1.to_uppercase(), P2, P1] });
    let request = Event::org_remove(TARGET)
        .token(EDITOR_KEY)
        .header("content-type", "application/json; charset=utf-8")
        .body(&body.to_string());
    let response = env.changes::<OrgRemove>(request.http_api()).await;
    assert_eq!(response.body, json!({ "user_uuid": TARGET, "permission_uuids": [P2, P1] }));
    assert_eq!(env.permissions_of(TARGET).await.unwrap(), vec![P3]);
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
    let env = target_holding_all().await;
    let event = remove(&TARGET.to_uppercase(), &[P2, P1.to_uppercase().as_str()]);
    env.changes::<OrgRemove>(event.http_api()).await;
    let records = env.audit_of(TARGET).await;
    assert_eq!(records.len(), 1);
    let record = &records[0];
    let expected = AuditRecord {
        user_id: TARGET.to_owned(),
        event_id: record.event_id.clone(),
        action: Action::Revoke,
        actor_id: EDITOR.to_owned(),
        endpoint: ENDPOINT.to_owned(),
        permissions: sorted(&[P1, P2]),
        at: record.at.clone(),
        request_id: event.request_id.clone(),
        org_uuid: Some(ORG_A.to_owned()),
    };
    assert_eq!(record, &expected);
    assert_eq!(uuid::Uuid::parse_str(&record.event_id).unwrap().get_version_num(), 7);
    let at = humantime::parse_rfc3339(&record.at).expect("an RFC 3339 time");
    let age = std::time::SystemTime::now().duration_since(at).unwrap();
    assert!(age < std::time::Duration::from_secs(60), "{record:?}");
    // Stored as a revoke: its action, and its time under `revoked_at`.
    let items = env.audit_items_of(TARGET).await;
    assert_eq!(items[0].get("action").and_then(|value| value.as_s().ok()).map(String::as_str), Some("revoke"));
    assert_eq!(items[0].get("revoked_at").and_then(|value| value.as_s().ok()), Some(&record.at));
    assert!(!items[0].contains_key("granted_at"), "{:?}", items[0]);
}

#[tokio::test]
async fn the_path_works_with_and_without_the_trailing_slash_and_in_any_case() {
    let env = target_holding_all().await;
    let slashless = remove(TARGET, &[P1]).path(&format!("/organizations/users/permissions/{TARGET}"));
    env.changes::<OrgRemove>(slashless.http_api()).await;
    let response = env.changes::<OrgRemove>(remove(&TARGET.to_uppercase(), &[P2]).http_api()).await;
    assert_eq!(response.body["user_uuid"], TARGET);
    assert_eq!(env.permissions_of(TARGET).await.unwrap(), vec![P3]);
}

#[tokio::test]
async fn the_token_keyword_is_case_insensitive() {
    let env = target_holding_all().await;
    for (keyword, uuid) in [("token", P1), ("TOKEN", P2)] {
        let request = Event::org_remove(TARGET)
            .header("authorization", &format!("{keyword} {EDITOR_KEY}"))
            .json(&json!({ "permission_uuids": [uuid] }));
        env.changes::<OrgRemove>(request.http_api()).await;
    }
    assert_eq!(env.permissions_of(TARGET).await.unwrap(), vec![P3]);
}

#[tokio::test]
async fn rest_api_events_are_served_too() {
    let env = target_holding_all().await;
    let response = env.changes::<OrgRemove>(remove(TARGET, &[P1]).rest_api()).await;
    assert_eq!(response.body, json!({ "user_uuid": TARGET, "permission_uuids": [P1] }));
    assert_eq!(env.permissions_of(TARGET).await.unwrap(), sorted(&[P2, P3]));
}

#[tokio::test]
async fn function_url_events_without_path_parameters_take_the_uuid_from_the_path() {
    let env = target_holding_all().await;
    let request = remove(TARGET, &[P1])
        .without_path_parameters()
        .path(&format!("/lambda-url/{ENDPOINT}/organizations/users/permissions/{TARGET}/"));
    let response = env.changes::<OrgRemove>(request.http_api()).await;
    assert_eq!(response.body, json!({ "user_uuid": TARGET, "permission_uuids": [P1] }));
    assert_eq!(env.permissions_of(TARGET).await.unwrap(), sorted(&[P2, P3]));
    // Without path parameters, a path whose segment is not a uuid is the field error.
    let bad = remove(TARGET, &[P2]).without_path_parameters().path("/organizations/users/permissions/nope/");
    let response = env.refuses::<OrgRemove>(bad.http_api(), 400).await;
    assert_eq!(response.body, json!({ "user_uuid": ["Must be a valid UUID."] }));
}

#[tokio::test]
async fn base64_encoded_bodies_are_decoded() {
    let env = target_holding_all().await;
    let body = json!({ "permission_uuids": [P1] }).to_string();
    let request = Event::org_remove(TARGET)
        .token(EDITOR_KEY)
        .header("content-type", "application/json")
        .binary_body(body.as_bytes());
    env.changes::<OrgRemove>(request.http_api()).await;
    assert_eq!(env.permissions_of(TARGET).await.unwrap(), sorted(&[P2, P3]));
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
    let env = target_holding_all().await;
    let too_many: Vec<String> = (0..101).map(|i| format!("00000000-0000-4000-8000-{i:012}")).collect();
    let cases: Vec<(&str, Value, Value)> = vec![
        ("not-a-uuid", json!({ "permission_uuids": [P1] }), json!({ "user_uuid": ["Must be a valid UUID."] })),
        (TARGET, json!({}), json!({ "permission_uuids": ["This field is required."] })),
        (TARGET, json!({ "permission_uuids": null }), json!({ "permission_uuids": ["This field may not be null."] })),
        (
            TARGET,
            json!({ "permission_uuids": P1 }),
            json!({ "permission_uuids": ["Expected a list of items but got type \"str\"."] }),
        ),
        (
            TARGET,
            json!({ "permission_uuids": { "a": P1 } }),
            json!({ "permission_uuids": ["Expected a list of items but got type \"dict\"."] }),
        ),
        (TARGET, json!({ "permission_uuids": [] }), json!({ "permission_uuids": ["This list may not be empty."] })),
        (
            TARGET,
            json!({ "permission_uuids": too_many }),
            json!({ "permission_uuids": ["Ensure this field has no more than 100 elements."] }),
        ),
        (
            TARGET,
            json!({ "permission_uuids": [P1, 7, "2a0295b6dd744239998824fcdb1adcea"] }),
            json!({ "permission_uuids": ["Item 1: Must be a valid UUID.", "Item 2: Must be a valid UUID."] }),
        ),
        (
            "x",
            json!({ "permission_uuids": ["{2a0295b6-dd74-4239-9988-24fcdb1adcea}"] }),
            json!({ "user_uuid": ["Must be a valid UUID."], "permission_uuids": ["Item 0: Must be a valid UUID."] }),
        ),
    ];
    for (target, body, expected) in cases {
        let request = Event::org_remove(target).token(EDITOR_KEY).json(&body);
        let response = env.refuses::<OrgRemove>(request.http_api(), 400).await;
        assert_eq!(response.body, expected, "for body {body}");
    }
    // 100 items as sent, duplicates included, are accepted.
    let hundred = vec![P1; 100];
    env.changes::<OrgRemove>(remove(TARGET, &hundred).http_api()).await;
    assert_eq!(env.permissions_of(TARGET).await.unwrap(), sorted(&[P2, P3]));
}

#[tokio::test]
async fn an_empty_body_reports_the_missing_field() {
    let env = org_world().await;
    let response = env.refuses::<OrgRemove>(Event::org_remove(TARGET).token(EDITOR_KEY).http_api(), 400).await;
    assert_eq!(response.body, json!({ "permission_uuids": ["This field is required."] }));
}

#[tokio::test]
async fn malformed_and_non_object_json_are_400_and_write_nothing() {
    let env = org_world().await;
    let malformed = Event::org_remove(TARGET).token(EDITOR_KEY).header("content-type", "application/json");
    let response = env.refuses::<OrgRemove>(malformed.clone().body("{\"permission_uuids\": [").http_api(), 400).await;
    let detail = response.body["detail"].as_str().unwrap();
    assert!(detail.starts_with("JSON parse error - "), "{detail}");
    assert_eq!(response.body.as_object().unwrap().len(), 1, "{:?}", response.body);
    let response = env.refuses::<OrgRemove>(malformed.clone().binary_body(b"{\"a\": \"\xff\"}").http_api(), 400).await;
    assert!(response.body["detail"].as_str().unwrap().starts_with("JSON parse error - "));
    for (body, type_name) in
        [("[1]", "list"), ("\"x\"", "str"), ("3", "int"), ("1.5", "float"), ("true", "bool"), ("null", "NoneType")]
    {
        let response = env.refuses::<OrgRemove>(malformed.clone().body(body).http_api(), 400).await;
        let message = format!("Invalid data. Expected a dictionary, but got {type_name}.");
        assert_eq!(response.body, json!({ "non_field_errors": [message] }), "for {body}");
    }
}

#[tokio::test]
async fn unknown_catalog_uuids_are_named_and_nothing_is_written() {
    let env = target_holding_all().await;
    let other_unknown = "99999999-0000-4000-8000-000000000098";
    let response = env.refuses::<OrgRemove>(remove(TARGET, &[P1, UNKNOWN, other_unknown]).http_api(), 400).await;
    let message = |uuid: &str| format!("Invalid pk \"{uuid}\" - object does not exist.");
    assert_eq!(response.body, json!({ "permission_uuids": [message(other_unknown), message(UNKNOWN)] }));
    assert_eq!(env.permissions_of(TARGET).await.unwrap(), sorted(&[P1, P2, P3]));
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
    let env = target_holding_all().await;
    let base = Event::org_remove(TARGET).token(EDITOR_KEY);
    let body = json!({ "permission_uuids": [P1] }).to_string();
    let plain = base.clone().header("content-type", "text/plain").body(&body);
    let response = env.refuses::<OrgRemove>(plain.http_api(), 415).await;
    assert_eq!(response.body, json!({ "detail": "Unsupported media type \"text/plain\" in request." }));
    let form = base.clone().header("content-type", "application/x-www-form-urlencoded").body("a=b");
    let response = env.refuses::<OrgRemove>(form.http_api(), 415).await;
    assert_eq!(
        response.body,
        json!({ "detail": "Unsupported media type \"application/x-www-form-urlencoded\" in request." })
    );
    let missing = env.refuses::<OrgRemove>(base.body(&body).http_api(), 415).await;
    assert_eq!(missing.body, json!({ "detail": "Unsupported media type \"\" in request." }));
}

#[tokio::test]
async fn unauthenticated_requests_get_401_with_a_token_challenge() {
    let env = target_holding_all().await;
    env.put_token("expired-key", EDITOR, Some(now() - 1)).await;
    env.put_token("orphaned-key", "e0000000-0000-4000-8000-0000000000ff", None).await;
    let body = json!({ "permission_uuids": [P1] });
    let not_provided = json!({ "detail": "Authentication credentials were not provided." });
    let invalid = json!({ "detail": "Invalid token." });
    let cases: Vec<(Event, &Value)> = vec![
        (Event::org_remove(TARGET), &not_provided),
        (Event::org_remove(TARGET).header("authorization", &format!("Bearer {EDITOR_KEY}")), &not_provided),
        (Event::org_remove(TARGET).header("authorization", "Token"), &invalid),
        (Event::org_remove(TARGET).header("authorization", &format!("Token {EDITOR_KEY} extra")), &invalid),
        (Event::org_remove(TARGET).token("no-such-key"), &invalid),
        (Event::org_remove(TARGET).token("expired-key"), &invalid),
        (Event::org_remove(TARGET).token("orphaned-key"), &invalid),
        (Event::org_remove(TARGET).token(EDITOR_KEY).token(EDITOR_KEY), &invalid),
    ];
    for (event, expected) in cases {
        let response = env.refuses::<OrgRemove>(event.json(&body).http_api(), 401).await;
        assert_eq!(&response.body, expected);
        assert_eq!(response.headers["www-authenticate"], "Token");
    }
}

#[tokio::test]
async fn callers_without_the_right_or_without_an_org_get_403() {
    let env = target_holding_all().await;
    for key in [PLAIN_KEY, ORGLESS_KEY] {
        let request = Event::org_remove(TARGET).token(key).json(&json!({ "permission_uuids": [P1] }));
        assert_eq!(env.refuses::<OrgRemove>(request.http_api(), 403).await.body, forbidden(), "{key}");
    }
    // Not even from itself: a plain member cannot remove its own permissions.
    let own = Event::org_remove(PLAIN).token(PLAIN_KEY).json(&json!({ "permission_uuids": [P1] }));
    assert_eq!(env.refuses::<OrgRemove>(own.http_api(), 403).await.body, forbidden());
}

#[tokio::test]
async fn the_warm_catalog_cache_never_authorizes_on_its_own() {
    let env = target_holding_all().await;
    env.changes::<OrgRemove>(remove(TARGET, &[P1]).http_api()).await;
    env.put_permission(EDIT_RIGHT, "view_users").await;
    assert_eq!(env.refuses::<OrgRemove>(remove(TARGET, &[P2]).http_api(), 403).await.body, forbidden());
}

#[tokio::test]
async fn a_missing_target_is_404_and_is_not_created() {
    let env = org_world().await;
    let response = env.refuses::<OrgRemove>(remove(MISSING, &[P1]).http_api(), 404).await;
    assert_eq!(response.body, json!({ "detail": "Not found." }));
    assert!(env.user(MISSING).await.is_none());
}

#[tokio::test]
async fn a_user_of_another_org_is_indistinguishable_from_a_missing_one() {
    let env = org_world().await;
    // Held by the outsider, and not held: both the 404 of a missing user, and nothing changes.
    for uuids in [&[P3][..], &[P1][..], &[P1, P3][..]] {
        let other_org = env.refuses::<OrgRemove>(remove(OUTSIDER, uuids).http_api(), 404).await;
        let missing = env.refuses::<OrgRemove>(remove(MISSING, uuids).http_api(), 404).await;
        assert_eq!(other_org.body, json!({ "detail": "Not found." }));
        assert_eq!((other_org.body, other_org.headers), (missing.body, missing.headers));
    }
    assert_eq!(env.permissions_of(OUTSIDER).await.unwrap(), vec![P3]);
    // A user with no organization is outside every organization.
    let orgless = env.refuses::<OrgRemove>(remove(ORGLESS, &[EDIT_RIGHT]).http_api(), 404).await;
    assert_eq!(orgless.body, json!({ "detail": "Not found." }));
    assert_eq!(env.permissions_of(ORGLESS).await.unwrap(), vec![EDIT_RIGHT]);
}

#[tokio::test]
async fn bodies_over_64_kib_get_413_before_authentication() {
    let env = org_world().await;
    let huge = format!("{{\"permission_uuids\": [\"{}\"]}}", "a".repeat(64 * 1024));
    let request = Event::org_remove(TARGET).header("content-type", "application/json").body(&huge);
    let response = env.refuses::<OrgRemove>(request.http_api(), 413).await;
    assert_eq!(response.body, json!({ "detail": "Request body must not exceed 65536 bytes." }));
    // At the limit exactly, the body is read (and here, the missing credentials answer).
    let pad = 64 * 1024 - format!("{{\"permission_uuids\": [\"{P1}\"], \"pad\": \"\"}}").len();
    let at_limit = format!("{{\"permission_uuids\": [\"{P1}\"], \"pad\": \"{}\"}}", "a".repeat(pad));
    assert_eq!(at_limit.len(), 64 * 1024);
    let request = Event::org_remove(TARGET).header("content-type", "application/json").body(&at_limit);
    env.refuses::<OrgRemove>(request.http_api(), 401).await;
    let request = Event::org_remove(TARGET).token(EDITOR_KEY).header("content-type", "application/json");
    env.changes::<OrgRemove>(request.body(&at_limit).http_api()).await;
}

#[tokio::test]
async fn checks_run_in_the_contract_order() {
    let env = target_holding_all().await;
    let huge = format!("{{\"permission_uuids\": [\"{}\"]}}", "a".repeat(64 * 1024));
    let bad_body = json!({ "permission_uuids": "nope" });
    let bad_body_error = json!({ "permission_uuids": ["Expected a list of items but got type \"str\"."] });
    let unknown = json!({ "permission_uuids": [UNKNOWN] });
    let unknown_error = json!({ "permission_uuids": [format!("Invalid pk \"{UNKNOWN}\" - object does not exist.")] });
    let not_found = json!({ "detail": "Not found." });

    // The route comes before the body's size.
    let wrong_method = Event::org_remove(TARGET).method("PATCH").header("content-type", "application/json");
    let response = env.refuses::<OrgRemove>(wrong_method.body(&huge).http_api(), 404).await;
    assert_eq!(response.body, json!({ "message": "Not Found" }));
    // The body's size comes before authentication.
    let response =
        env.refuses::<OrgRemove>(Event::org_remove(TARGET).token("no-such-key").body(&huge).http_api(), 413).await;
    assert!(response.body["detail"].as_str().unwrap().contains("65536"));
    // Authentication comes before the request's form: none, and an invalid key.
    let response = env.refuses::<OrgRemove>(Event::org_remove("nope").json(&bad_body).http_api(), 401).await;
    assert_eq!(response.body, json!({ "detail": "Authentication credentials were not provided." }));
    let invalid = Event::org_remove("nope").token("no-such-key").header("content-type", "text/plain").body("x");
    assert_eq!(env.refuses::<OrgRemove>(invalid.http_api(), 401).await.body, json!({ "detail": "Invalid token." }));
    // The form comes before the right: a field error, a media type, malformed JSON.
    let plain = |event: Event| event.token(PLAIN_KEY);
    let response = env.refuses::<OrgRemove>(plain(Event::org_remove(TARGET)).json(&bad_body).http_api(), 400).await;
    assert_eq!(response.body, bad_body_error);
    let response = env.refuses::<OrgRemove>(plain(Event::org_remove("nope")).json(&unknown).http_api(), 400).await;
    assert_eq!(response.body, json!({ "user_uuid": ["Must be a valid UUID."] }));
    let text = plain(Event::org_remove(TARGET)).header("content-type", "text/plain").body("{}");
    assert_eq!(env.refuses::<OrgRemove>(text.http_api(), 415).await.status, 415);
    let broken = plain(Event::org_remove(TARGET)).header("content-type", "application/json").body("{");
    assert!(env.refuses::<OrgRemove>(broken.http_api(), 400).await.body["detail"].is_string());
    // The right comes before the catalog and the target: the catalog is not revealed, nor is
    // whether the target exists, to a caller without the right or without an org.
    for key in [PLAIN_KEY, ORGLESS_KEY] {
        for target in [TARGET, MISSING, OUTSIDER] {
            let request = Event::org_remove(target).token(key).json(&unknown);
            assert_eq!(env.refuses::<OrgRemove>(request.http_api(), 403).await.body, forbidden(), "{key} {target}");
            let request = Event::org_remove(target).token(key).json(&json!({ "permission_uuids": [P1] }));
            assert_eq!(env.refuses::<OrgRemove>(request.http_api(), 403).await.body, forbidden(), "{key} {target}");
        }
    }
    // The catalog comes before the write: unknown uuids are a 400 for any target.
    for target in [MISSING, OUTSIDER, TARGET] {
        let response = env.refuses::<OrgRemove>(remove(target, &[P1, UNKNOWN]).http_api(), 400).await;
        assert_eq!(response.body, unknown_error, "{target}");
    }
    // Then the write: the target is missing or out of scope.
    assert_eq!(env.refuses::<OrgRemove>(remove(MISSING, &[P1]).http_api(), 404).await.body, not_found);
    assert_eq!(env.permissions_of(TARGET).await.unwrap(), sorted(&[P1, P2, P3]));
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_like_api_gateway() {
    let env = target_holding_all().await;
    let not_found = json!({ "message": "Not Found" });
    for event in [
        remove(TARGET, &[P1]).method("PATCH"),
        remove(TARGET, &[P1]).method("POST"),
        remove(TARGET, &[P1]).method("GET"),
        remove(TARGET, &[P1]).method("PUT"),
        remove(TARGET, &[P1]).path("/organizations/users/permission/x/"),
        remove(TARGET, &[P1]).path(&format!("/organizations/users/permissions/{TARGET}/extra/")),
        remove(TARGET, &[P1]).path("/"),
    ] {
        assert_eq!(env.refuses::<OrgRemove>(event.http_api(), 404).await.body, not_found);
    }
    // And the add endpoint does not remove: a DELETE sent to it is its 404.
    assert_eq!(env.refuses::<OrgAdd>(remove(TARGET, &[P1]).http_api(), 404).await.body, not_found);
}

#[tokio::test]
async fn a_backend_failure_is_a_500_logged_with_the_request_id_and_removes_nothing() {
    let healthy = target_holding_all().await;
    let tables = TableNames { audit: format!("{}-missing", healthy.tables.audit), ..healthy.tables.clone() };
    let broken =
        TestEnv::over(healthy.client.clone(), tables, JwtVerifier::new(JWT_SECRET.as_bytes(), None, None).unwrap());
    let logs = CapturedLogs::start();
    let event = remove(TARGET, &[P1]);
    let before = healthy.snapshot().await;
    let response = broken.call::<OrgRemove>(event.http_api()).await;
    assert_eq!(response.status, 500);
    assert_eq!(response.body, json!({ "detail": "A server error occurred." }));
    assert_eq!(healthy.snapshot().await, before, "the removal must not land without its audit record");
    let text = logs.text();
    assert!(text.contains(&event.request_id) && text.contains("backend failure"), "{text}");
    assert!(text.contains("ResourceNotFoundException"), "{text}");
    assert!(!text.contains(EDITOR_KEY), "the token leaked into the log: {text}");
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

/// The lines logged at INFO about one request: its request line and its audit line.
fn lines_of<'a>(text: &'a str, request_id: &str) -> Vec<&'a str> {
    text.lines().filter(|line| line.contains(&format!("request_id=\"{request_id}\""))).collect()
}

fn assert_has(line: &str, expected: &[&str]) {
    for part in expected {
        assert!(line.contains(part), "{part} missing from {line}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_removal_logs_its_request_line_and_an_audit_line_and_never_the_token() {
    let env = org_world().await;
    env.put_user(TARGET, Some(ORG_A), None, &[P1, P3]).await;
    let logs = CapturedLogs::start();
    let revoked = remove(TARGET, &[P2, P1]);
    env.changes::<OrgRemove>(revoked.http_api()).await;
    let not_held = remove(TARGET, &[P2]);
    env.changes::<OrgRemove>(not_held.http_api()).await;
    let refused = Event::org_remove(TARGET).token("a-wrong-key-that-must-not-be-logged").json(&json!({}));
    env.refuses::<OrgRemove>(refused.http_api(), 401).await;
    let text = logs.text();

    let endpoint = format!("endpoint=\"{ENDPOINT}\"");
    let target = format!("target=\"{TARGET}\"");
    let actor = format!("actor=\"{EDITOR}\"");
    let lines = lines_of(&text, &revoked.request_id);
    assert_eq!(lines.len(), 2, "a request line and an audit line: {text}");
    assert_has(lines[0], &["request completed", &endpoint, "status=200", "outcome=\"revoked\"", &target]);
    assert_has(lines[0], &["latency_us=", "permissions_requested=2"]);
    let permissions = format!("permissions=\"{P2},{P1}\"");
    assert_has(lines[1], &["permissions revoked", "log_type=\"audit\"", "action=\"revoke\"", &endpoint, &actor]);
    assert_has(lines[1], &[&target, &permissions, "changed=true"]);

    let lines = lines_of(&text, &not_held.request_id);
    assert_eq!(lines.len(), 2, "a no-op is logged and audited too: {text}");
    assert_has(lines[0], &["request completed", "status=200", "outcome=\"not_held\""]);
    assert_has(lines[1], &["permissions revoked", "log_type=\"audit\"", "action=\"revoke\"", "changed=false"]);

    let lines = lines_of(&text, &refused.request_id);
    assert_eq!(lines.len(), 1, "a refusal has no audit line: {text}");
    assert_has(lines[0], &["request completed", "status=401", "outcome=\"invalid_token\""]);
    assert!(!text.contains("permissions granted"), "{text}");
    assert!(!text.contains(EDITOR_KEY) && !text.contains("a-wrong-key"), "a token leaked: {text}");
}
