//! A change whose transaction outlives the SDK's attempt timeout: the SDK resends it under the
//! same `ClientRequestToken` while DynamoDB is still running the first, and DynamoDB answers
//! `TransactionInProgressException`. The change then commits, so its answer must be the commit's
//! (200, one audit record), not a 500 that sends a client without an `Idempotency-Key` to make
//! the change a second time. Through the conflict emulator, which answers as DynamoDB does, with
//! the SDK's timeouts and retries as deployed.

use std::time::Duration;

use permissions_service::store::ATTEMPT_TIMEOUT;
use serde_json::json;

use crate::support::fixtures::{admin, org};
use crate::support::{AdminAdd, Event, OrgRemove, TestEnv};

const QUICK: Duration = Duration::from_millis(1);
/// Past the attempt timeout, so the SDK resends while the first is still running.
const SLOW: Duration = Duration::from_millis(ATTEMPT_TIMEOUT.as_millis() as u64 + 600);

#[tokio::test]
async fn a_grant_still_in_flight_when_resent_is_answered_as_its_commit() {
    let (env, emulator) = TestEnv::behind_conflict_emulator_as_deployed(QUICK).await;
    let env = admin::seed(env).await;
    emulator.slow_down_next_transaction(SLOW);
    let body = json!({ "payload": { "userId": admin::TARGET, "permissions": ["compass.reports"] } });
    let grant = Event::admin().bearer(&admin::jwt_for(admin::ADMIN)).json(&body);
    let response = env.call::<AdminAdd>(grant.http_api()).await;
    assert_eq!(
        (response.status, &response.body),
        (200, &json!({ "message": "Successfully added permissions for this user.", "data": {} })),
        "{:?}",
        emulator.counts()
    );
    let mut held = env.permissions_of(admin::TARGET).await.unwrap();
    held.sort();
    assert_eq!(held, ["compass.reports", "compass.users.*"]);
    let records = env.audit_of(admin::TARGET).await;
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].request_id, grant.request_id);
    let counts = emulator.counts();
    // The scenario happened: a resend met the first still running, and one was answered as it.
    assert!(counts.in_progress_answered >= 1, "{counts:?}");
    assert_eq!((counts.transactions_forwarded, counts.replays_answered), (1, 1), "{counts:?}");
}

#[tokio::test]
async fn an_org_revoke_still_in_flight_when_resent_is_answered_as_its_commit() {
    let (env, emulator) = TestEnv::behind_conflict_emulator_as_deployed(QUICK).await;
    env.put_permission(org::EDIT_RIGHT, "edit_org_users").await;
    env.put_permission(org::P3, "view_users").await;
    env.put_user(org::EDITOR, Some(org::ORG_A), None, &[org::EDIT_RIGHT]).await;
    env.put_user(org::TARGET, Some(org::ORG_A), None, &[org::P3]).await;
    env.put_token(org::EDITOR_KEY, org::EDITOR, None).await;
    emulator.slow_down_next_transaction(SLOW);
    let revoke = Event::org_remove(org::TARGET).token(org::EDITOR_KEY).json(&json!({ "permission_uuids": [org::P3] }));
    let response = env.call::<OrgRemove>(revoke.http_api()).await;
    assert_eq!(
        (response.status, &response.body),
        (200, &json!({ "user_uuid": org::TARGET, "permission_uuids": [org::P3] })),
        "{:?}",
        emulator.counts()
    );
    assert_eq!(env.permissions_of(org::TARGET).await, Some(vec![]));
    assert_eq!(env.audit_of(org::TARGET).await.len(), 1);
    assert!(emulator.counts().in_progress_answered >= 1, "{:?}", emulator.counts());
}
