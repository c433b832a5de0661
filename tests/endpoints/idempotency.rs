//! `Idempotency-Key` on the four write endpoints: the same caller, key and request get the first
//! answer and nothing is written again; another request under the key is a 422; a refused
//! request stores nothing; keys are per caller; a malformed key is a 400; concurrent duplicates
//! write once; and the case it exists for: a first attempt that commits but whose answer is lost.

use std::sync::Arc;
use std::time::Duration;

use permissions_service::auth::jwt::JwtVerifier;
use serde_json::{Value, json};

use crate::raw_events::invoke;
use crate::support::fixtures::admin::{self, admin_world};
use crate::support::fixtures::org::{EDIT_RIGHT, EDITOR, EDITOR_KEY, ORG_A, P1, P2, P3, TARGET, org_world};
use crate::support::{AdminAdd, AdminRemove, Event, JWT_SECRET, OrgAdd, OrgRemove, TestEnv, TestResponse, now};

const KEY: &str = "8e03978e-40d5-43e8-bc93-6894a57f9324";

fn org_grant(uuids: &[&str]) -> Event {
    Event::org(TARGET).token(EDITOR_KEY).json(&json!({ "permission_uuids": uuids }))
}

fn admin_body(target: &str, permissions: &[&str]) -> Value {
    json!({ "payload": { "userId": target, "permissions": permissions } })
}

fn admin_grant(caller: &str, permissions: &[&str]) -> Event {
    Event::admin().bearer(&admin::jwt_for(caller)).json(&admin_body(admin::TARGET, permissions))
}

fn replayed(response: &TestResponse) -> bool {
    response.headers.get("idempotent-replayed").is_some_and(|value| value == "true")
}

#[tokio::test]
async fn the_same_request_under_one_key_is_answered_once_and_written_once() {
    let env = org_world().await;
    let first = env.changes::<OrgAdd>(org_grant(&[P1]).header("idempotency-key", KEY).http_api()).await;
    assert!(!replayed(&first));
    let before = env.snapshot().await;
    let again = env.call::<OrgAdd>(org_grant(&[P1]).header("idempotency-key", KEY).http_api()).await;
    assert_eq!((again.status, &again.body), (first.status, &first.body));
    assert!(replayed(&again), "{:?}", again.headers);
    assert_eq!(env.snapshot().await, before, "a replay wrote something");
    assert_eq!(env.audit_of(TARGET).await.len(), 1);

    let env = admin_world().await;
    let request = || admin_grant(admin::ADMIN, &["compass.reports"]).header("idempotency-key", KEY);
    let first = env.changes::<AdminAdd>(request().http_api()).await;
    let before = env.snapshot().await;
    let again = env.call::<AdminAdd>(request().rest_api()).await;
    assert_eq!((again.status, &again.body), (200, &first.body));
    assert_eq!(env.snapshot().await, before);
}

#[tokio::test]
async fn a_replay_is_the_first_answer_even_after_the_state_changed() {
    // The first answer, not a new evaluation: after a revoke, the replayed grant still says 200
    // with its body, and does not grant again.
    let env = org_world().await;
    let first = env.changes::<OrgAdd>(org_grant(&[P1]).header("idempotency-key", KEY).http_api()).await;
    let revoke = Event::org_remove(TARGET).token(EDITOR_KEY).json(&json!({ "permission_uuids": [P1] }));
    env.changes::<OrgRemove>(revoke.http_api()).await;
    let again = env.call::<OrgAdd>(org_grant(&[P1]).header("idempotency-key", KEY).http_api()).await;
    assert_eq!((again.status, &again.body), (200, &first.body));
    assert_eq!(env.permissions_of(TARGET).await.unwrap(), vec![P3], "the replay granted again");
}

#[tokio::test]
async fn another_request_under_the_same_key_is_a_422_and_writes_nothing() {
    let env = org_world().await;
    env.changes::<OrgAdd>(org_grant(&[P1]).header("idempotency-key", KEY).http_api()).await;
    let other_permissions = org_grant(&[P2]).header("idempotency-key", KEY);
    let response = env.refuses::<OrgAdd>(other_permissions.http_api(), 422).await;
    assert_eq!(response.body, json!({ "detail": "This Idempotency-Key was already used for a different request." }));
    // The same body on the remove endpoint is another request too.
    let remove = Event::org_remove(TARGET).token(EDITOR_KEY).json(&json!({ "permission_uuids": [P1] }));
    env.refuses::<OrgRemove>(remove.header("idempotency-key", KEY).http_api(), 422).await;

    let env = admin_world().await;
    env.changes::<AdminAdd>(admin_grant(admin::ADMIN, &["compass.reports"]).header("idempotency-key", KEY).http_api())
        .await;
    let other_target = Event::admin()
        .bearer(&admin::jwt_for(admin::ADMIN))
        .json(&admin_body(admin::MEMBER, &["compass.reports"]))
        .header("idempotency-key", KEY);
    let response = env.refuses::<AdminAdd>(other_target.http_api(), 422).await;
    assert_eq!(response.body["error"]["code"], "IDEMPOTENCY_KEY_REUSED");
}

#[tokio::test]
async fn a_refused_request_stores_nothing_and_a_corrected_retry_is_judged_afresh() {
    let env = org_world().await;
    let missing = "e0000000-0000-4000-8000-0000000000ff";
    let wrong_target = Event::org(missing).token(EDITOR_KEY).json(&json!({ "permission_uuids": [P1] }));
    env.refuses::<OrgAdd>(wrong_target.header("idempotency-key", KEY).http_api(), 404).await;
    let invalid = Event::org(TARGET).token(EDITOR_KEY).json(&json!({ "permission_uuids": [] }));
    env.refuses::<OrgAdd>(invalid.header("idempotency-key", KEY).http_api(), 400).await;
    let corrected = env.changes::<OrgAdd>(org_grant(&[P1]).header("idempotency-key", KEY).http_api()).await;
    assert!(!replayed(&corrected));

    // The limit's 400 comes from the cancelled transaction: nothing is stored either.
    let env = admin_world().await;
    let too_many: Vec<String> = (0..1_000).map(|index| format!("compass.m{index}")).collect();
    env.put_user(admin::TARGET, None, Some("user"), &too_many.iter().map(String::as_str).collect::<Vec<_>>()).await;
    let over = admin_grant(admin::ADMIN, &["compass.one-more"]).header("idempotency-key", KEY);
    env.refuses::<AdminAdd>(over.http_api(), 400).await;
    let revoke = Event::admin_remove()
        .bearer(&admin::jwt_for(admin::ADMIN))
        .json(&admin_body(admin::TARGET, &["compass.m0"]))
        .header("idempotency-key", KEY);
    env.changes::<AdminRemove>(revoke.http_api()).await;
}

#[tokio::test]
async fn keys_are_per_caller() {
    let env = org_world().await;
    let other_editor = "e0000000-0000-4000-8000-000000000009";
    env.put_user(other_editor, Some(ORG_A), None, &[EDIT_RIGHT]).await;
    env.put_token("other-editor-key", other_editor, Some(now() + 3600)).await;
    env.changes::<OrgAdd>(org_grant(&[P1]).header("idempotency-key", KEY).http_api()).await;
    let theirs = Event::org(TARGET).token("other-editor-key").json(&json!({ "permission_uuids": [P2] }));
    let response = env.changes::<OrgAdd>(theirs.header("idempotency-key", KEY).http_api()).await;
    assert!(!replayed(&response), "one caller saw another's answer");
    assert_eq!(env.audit_of(TARGET).await.len(), 2);
    assert!(env.audit_of(TARGET).await.iter().any(|record| record.actor_id == EDITOR));
}

#[tokio::test]
async fn a_replay_is_answered_only_to_a_caller_that_still_holds_the_right() {
    let env = org_world().await;
    env.changes::<OrgAdd>(org_grant(&[P1]).header("idempotency-key", KEY).http_api()).await;
    env.put_user(EDITOR, Some(ORG_A), None, &[]).await;
    let response = env.refuses::<OrgAdd>(org_grant(&[P1]).header("idempotency-key", KEY).http_api(), 403).await;
    assert_eq!(response.body, json!({ "detail": "You do not have permission to perform this action." }));

    let env = admin_world().await;
    env.changes::<AdminAdd>(admin_grant(admin::ADMIN, &["compass.reports"]).header("idempotency-key", KEY).http_api())
        .await;
    env.put_user(admin::ADMIN, None, Some("user"), &[]).await;
    let again = admin_grant(admin::ADMIN, &["compass.reports"]).header("idempotency-key", KEY);
    assert_eq!(env.refuses::<AdminAdd>(again.http_api(), 403).await.body["error"]["code"], "FORBIDDEN");
}

#[tokio::test]
async fn a_malformed_key_is_a_400_in_each_shape() {
    let env = org_world().await;
    let long = "k".repeat(256);
    for key in ["two words", "é", "tab\there", long.as_str()] {
        let response = env.call::<OrgAdd>(org_grant(&[P1]).header("idempotency-key", key).http_api()).await;
        assert_eq!(response.status, 400, "{key:?}: {response:?}");
        let message = "Idempotency-Key must be 1 to 255 visible ASCII characters, sent once.";
        assert_eq!(response.body, json!({ "detail": message }), "{key:?}");
    }
    // Two headers, kept apart in a REST API event: through the binaries' own entry path.
    let twice = org_grant(&[P1]).header("idempotency-key", "a").header("idempotency-key", "b");
    let response = invoke(&env.frame::<OrgAdd>(), twice.rest_api_json(), "twice").await;
    assert_eq!(response.status, 400, "two keys: {response:?}");
    assert_eq!(env.audit_count().await, 0);
    // The usual checks come first: no token is a 401, an invalid body its own 400.
    let anonymous = Event::org(TARGET).json(&json!({ "permission_uuids": [P1] })).header("idempotency-key", "a b");
    env.refuses::<OrgAdd>(anonymous.http_api(), 401).await;

    let env = admin_world().await;
    let request = admin_grant(admin::ADMIN, &["compass.reports"]).header("idempotency-key", "a b");
    let response = env.refuses::<AdminAdd>(request.http_api(), 400).await;
    assert_eq!(response.body["error"]["code"], "VALIDATION_ERROR");
    let unknown = admin_grant(admin::NOBODY, &["compass.reports"]).header("idempotency-key", "a b");
    env.refuses::<AdminAdd>(unknown.http_api(), 401).await;
}

#[tokio::test]
async fn sixteen_duplicates_at_once_write_once() {
    // Through the emulator, the duplicates meet on the key's record as they would in DynamoDB.
    let (env, _emulator) = TestEnv::behind_conflict_emulator(Duration::from_millis(15)).await;
    env.put_user(admin::ADMIN, None, Some("admin"), &[]).await;
    env.put_user(admin::TARGET, None, Some("user"), &[]).await;
    let env = Arc::new(env);
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (env, request) = (env.clone(), admin_grant(admin::ADMIN, &["compass.reports"]));
            tokio::spawn(async move { env.call::<AdminAdd>(request.header("idempotency-key", KEY).http_api()).await })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    let first = json!({ "message": "Successfully added permissions for this user.", "data": {} });
    for answer in &answers {
        let in_progress = answer.status == 409 && answer.body["error"]["code"] == "REQUEST_IN_PROGRESS";
        assert!(answer.status == 200 && answer.body == first || in_progress, "{answer:?}");
    }
    assert!(answers.iter().any(|answer| answer.status == 200));
    assert_eq!(env.audit_of(admin::TARGET).await.len(), 1, "duplicates wrote twice");
    assert_eq!(env.permissions_of(admin::TARGET).await.unwrap(), vec!["compass.reports"]);
}

#[tokio::test]
async fn a_first_attempt_that_committed_but_lost_its_answer_is_answered_on_retry() {
    // The function reaches DynamoDB, the transaction commits, and the answer never comes back:
    // the function answers its own 500 at its deadline. The client retries under its key.
    let (lossy, emulator) = TestEnv::behind_conflict_emulator(Duration::from_millis(1)).await;
    lossy.put_user(admin::ADMIN, None, Some("admin"), &[]).await;
    lossy.put_user(admin::TARGET, None, Some("user"), &[]).await;
    emulator.lose_transaction_answers();
    let request = || admin_grant(admin::ADMIN, &["compass.reports"]).header("idempotency-key", KEY);
    // A 3 s budget: time enough to reach DynamoDB however busy the machine, not to hear back.
    let lost = lossy.call::<AdminAdd>(request().http_api_with_deadline_in(Duration::from_millis(4_000))).await;
    assert_eq!(lost.status, 500, "{lost:?}");
    let direct = TestEnv::over(
        crate::support::client(),
        lossy.tables.clone(),
        JwtVerifier::new(JWT_SECRET.as_bytes(), None, None).unwrap(),
    );
    assert_eq!(direct.audit_of(admin::TARGET).await.len(), 1, "the first attempt committed");
    let retry = direct.call::<AdminAdd>(request().http_api()).await;
    assert_eq!(retry.status, 200, "{retry:?}");
    assert_eq!(retry.body, json!({ "message": "Successfully added permissions for this user.", "data": {} }));
    assert_eq!(direct.audit_of(admin::TARGET).await.len(), 1, "the retry wrote a second audit record");
}

#[tokio::test]
async fn without_the_header_a_retry_is_a_second_change() {
    let env = org_world().await;
    env.changes::<OrgAdd>(org_grant(&[P1]).http_api()).await;
    let again = env.changes::<OrgAdd>(org_grant(&[P1]).http_api()).await;
    assert!(!replayed(&again));
    assert_eq!(env.audit_of(TARGET).await.len(), 2);
}
