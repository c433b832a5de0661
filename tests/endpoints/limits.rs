//! The per-user limit (1,000 permissions), enforced inside the grant's own condition: refused in
//! each endpoint's shape with nothing written, exact at the boundary whatever part of a request
//! is held already, and never DynamoDB's 400 KB item limit answering instead.

use serde_json::json;

use crate::support::fixtures::admin::{self, ADMIN, TARGET as ADMIN_TARGET, admin_world};
use crate::support::fixtures::org::{self, EDITOR_KEY, TARGET as ORG_TARGET, org_world};
use crate::support::{AdminAdd, OrgAdd};
use crate::support::{Event, TestEnv};

const LIMIT: usize = 1_000;

fn org_uuid(i: usize) -> String {
    format!("d0000000-0000-4000-8000-{i:012}")
}

/// The longest permission the admin API accepts: `compass.` and two 64-character names.
fn longest_permission(i: usize) -> String {
    format!("compass.{}.a{i:0>63}", "m".repeat(64))
}

fn limit_message(would_hold: usize) -> String {
    format!("A user can hold at most {LIMIT} permissions; this grant would bring the user to {would_hold}.")
}

async fn give(env: &TestEnv, user_id: &str, org_uuid_of_user: Option<&str>, role: Option<&str>, held: &[String]) {
    let held: Vec<&str> = held.iter().map(String::as_str).collect();
    env.put_user(user_id, org_uuid_of_user, role, &held).await;
}

fn org_grant(uuids: &[String]) -> Event {
    Event::org(ORG_TARGET).token(EDITOR_KEY).json(&json!({ "permission_uuids": uuids }))
}

fn admin_grant(permissions: &[String]) -> Event {
    Event::admin()
        .bearer(&admin::jwt_for(ADMIN))
        .json(&json!({ "payload": { "userId": ADMIN_TARGET, "permissions": permissions } }))
}

/// An org world whose target holds `held` catalog uuids, with `extra` more in the catalog.
async fn org_target_holding(held: usize, extra: usize) -> (TestEnv, Vec<String>) {
    let env = org_world().await;
    let uuids: Vec<String> = (0..held + extra).map(org_uuid).collect();
    for uuid in &uuids {
        env.put_permission(uuid, "limit_test").await;
    }
    give(&env, ORG_TARGET, Some(org::ORG_A), None, &uuids[..held]).await;
    (env, uuids)
}

#[tokio::test]
async fn an_org_grant_past_the_limit_is_a_field_error_and_writes_nothing() {
    let (env, uuids) = org_target_holding(LIMIT - 1, 2).await;
    let response = env.refuses::<OrgAdd>(org_grant(&uuids[LIMIT - 1..]).http_api(), 400).await;
    assert_eq!(response.body, json!({ "permission_uuids": [limit_message(LIMIT + 1)] }));
    // Exactly at the limit is allowed.
    env.changes::<OrgAdd>(org_grant(&uuids[LIMIT - 1..LIMIT]).http_api()).await;
    assert_eq!(env.permissions_of(ORG_TARGET).await.unwrap().len(), LIMIT);
}

#[tokio::test]
async fn what_is_held_already_does_not_count_against_the_limit() {
    // 999 held; asking for 99 of them and one new one lands at exactly 1,000.
    let (env, uuids) = org_target_holding(LIMIT - 1, 1).await;
    env.changes::<OrgAdd>(org_grant(&uuids[LIMIT - 100..]).http_api()).await;
    assert_eq!(env.permissions_of(ORG_TARGET).await.unwrap().len(), LIMIT);
    // At the limit, a grant of what is held is a no-op, still answered 200 and audited.
    env.changes::<OrgAdd>(org_grant(&uuids[..100]).http_api()).await;
    let response = env.refuses::<OrgAdd>(org_grant(&[org_uuid(LIMIT + 5)]).http_api(), 400).await;
    assert!(response.body["permission_uuids"][0].as_str().unwrap().starts_with("Invalid pk"), "{:?}", response.body);
}

#[tokio::test]
async fn a_large_request_to_a_user_near_the_limit_is_judged_exactly() {
    // 950 held: the first attempt's "room for all 100" fails, the exact retry counts 50 new.
    let (env, uuids) = org_target_holding(950, 100).await;
    env.changes::<OrgAdd>(org_grant(&uuids[900..1000]).http_api()).await;
    assert_eq!(env.permissions_of(ORG_TARGET).await.unwrap().len(), LIMIT);
    let (env, uuids) = org_target_holding(950, 100).await;
    let response = env.refuses::<OrgAdd>(org_grant(&uuids[940..1040]).http_api(), 400).await;
    assert_eq!(response.body, json!({ "permission_uuids": [limit_message(1040)] }));
}

#[tokio::test]
async fn an_admin_grant_past_the_limit_is_a_validation_error_and_writes_nothing() {
    let env = admin_world().await;
    let held: Vec<String> = (0..LIMIT - 1).map(longest_permission).collect();
    give(&env, ADMIN_TARGET, None, Some("user"), &held).await;
    let request = admin_grant(&[longest_permission(5000), longest_permission(5001)]);
    let response = env.refuses::<AdminAdd>(request.http_api(), 400).await;
    assert_eq!(response.body, json!({ "error": { "code": "VALIDATION_ERROR", "message": limit_message(LIMIT + 1) } }));
    env.changes::<AdminAdd>(admin_grant(&[longest_permission(5000)]).http_api()).await;
}

#[tokio::test]
async fn the_item_limit_is_never_what_answers() {
    // Grown through the API only, with the longest permissions there are: ten full requests
    // reach the limit (about 140 KB of permissions), and the eleventh is the limit's 400.
    let env = admin_world().await;
    give(&env, ADMIN_TARGET, None, Some("user"), &[]).await;
    for batch in 0..LIMIT / 100 {
        let permissions: Vec<String> = (batch * 100..(batch + 1) * 100).map(longest_permission).collect();
        env.changes::<AdminAdd>(admin_grant(&permissions).http_api()).await;
    }
    assert_eq!(env.permissions_of(ADMIN_TARGET).await.unwrap().len(), LIMIT);
    let response = env.refuses::<AdminAdd>(admin_grant(&[longest_permission(LIMIT + 1)]).http_api(), 400).await;
    assert_eq!(response.body["error"]["code"], "VALIDATION_ERROR");
}

#[tokio::test]
async fn the_largest_condition_a_request_can_cause_stays_within_dynamodb_expression_limits() {
    // A self-grant (the right folded into the target's condition) of 100 uuids, 99 of them held,
    // by a user near the limit: the first attempt's "room for all 100" fails, and the exact retry
    // names every one of them. DynamoDB Local enforces the 300-operator and 4 KB limits; breaking
    // either would be a ValidationException, a 500.
    let env = org_world().await;
    let uuids: Vec<String> = (0..100).map(org_uuid).collect();
    for uuid in &uuids {
        env.put_permission(uuid, "limit_test").await;
    }
    let mut held: Vec<String> = uuids[..99].to_vec();
    held.push(org::EDIT_RIGHT.to_owned());
    held.extend((1000..1850).map(org_uuid));
    give(&env, org::EDITOR, Some(org::ORG_A), None, &held).await;
    let request = Event::org(org::EDITOR).token(EDITOR_KEY).json(&json!({ "permission_uuids": uuids }));
    env.changes::<OrgAdd>(request.http_api()).await;
    assert_eq!(env.permissions_of(org::EDITOR).await.unwrap().len(), 951);
}
