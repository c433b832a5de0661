//! A user's history is in commit order: per target user, each committed change's event id is
//! greater than every earlier one's, so reading the trail in event-id order and replaying it
//! gives what the user holds. The case that broke it: the SDK resends an attempt (its request
//! lost, then its attempt timeout) with the attempt's event id and time, and the resend commits
//! after a change that was made meanwhile, with a later event id. `at` is the event id's time.

use std::collections::BTreeSet;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::AttributeValue;
use permissions_service::store::audit::Action;
use permissions_service::store::users::LAST_EVENT_ID;
use serde_json::json;

use crate::support::fixtures::admin::*;
use crate::support::{AdminAdd, AdminHistory, AdminRemove, CapturedLogs, Event, TestEnv, TestResponse, s};

const BASE: &str = "compass.base";
const X: &str = "compass.reports";

fn change(event: Event, permissions: &[&str]) -> Event {
    event.bearer(&jwt_for(ADMIN)).json(&json!({ "payload": { "userId": TARGET, "permissions": permissions } }))
}

/// The event id's time, as a UUIDv7 carries it: its first 48 bits, in epoch milliseconds.
fn event_time(event_id: &str) -> SystemTime {
    let millis = u64::from_str_radix(&event_id.replace('-', "")[..12], 16).unwrap();
    UNIX_EPOCH + Duration::from_millis(millis)
}

#[tokio::test]
async fn an_sdk_resend_that_commits_after_another_change_still_sorts_after_it() {
    let (env, emulator) = TestEnv::behind_conflict_emulator_as_deployed(Duration::from_millis(1)).await;
    env.put_user(ADMIN, None, Some("admin"), &[]).await;
    env.put_user(TARGET, None, Some("user"), &[BASE]).await;

    // The revoke's first request is lost on the way; the SDK resends it after its attempt
    // timeout, under the same token, with the same items (event id and time included).
    emulator.lose_next_transaction();
    let revoke = change(Event::admin_remove(), &[X]);
    let frame = env.frame::<AdminRemove>();
    let request = revoke.http_api();
    let revoking = tokio::spawn(async move { TestResponse::from(frame.handle(request).await) });
    let deadline = Instant::now() + Duration::from_secs(10);
    while emulator.counts().transactions_lost == 0 {
        assert!(Instant::now() < deadline, "the revoke never sent its transaction");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Meanwhile a grant of what the revoke removes commits, with a later event id.
    let grant = change(Event::admin(), &[X]);
    let granted = env.call::<AdminAdd>(grant.http_api()).await;
    assert_eq!(granted.status, 200, "{granted:?}");
    let revoked = revoking.await.unwrap();
    assert_eq!(revoked.status, 200, "{revoked:?}; {:?}", emulator.counts());
    // The revoke committed last: X is gone.
    assert_eq!(env.permissions_of(TARGET).await, Some(vec![BASE.to_owned()]));

    // The trail, in event-id order (the audit table's), is the commit order...
    let records = env.audit_of(TARGET).await;
    let order: Vec<&str> = records.iter().map(|record| record.request_id.as_str()).collect();
    assert_eq!(order, [grant.request_id.as_str(), revoke.request_id.as_str()], "{records:?}");
    // ...so replaying it gives what the user holds.
    let mut replayed = BTreeSet::from([BASE.to_owned()]);
    for record in &records {
        for permission in &record.permissions {
            match record.action {
                Action::Grant => replayed.insert(permission.clone()),
                Action::Revoke => replayed.remove(permission),
            };
        }
    }
    assert_eq!(Some(replayed.into_iter().collect::<Vec<_>>()), env.permissions_of(TARGET).await);
    // `at` is the event id's time, so it never goes back along the trail.
    for record in &records {
        let at = humantime::parse_rfc3339(&record.at).unwrap();
        assert_eq!(at, event_time(&record.event_id), "{record:?}");
    }
    // The history shows it newest first: the revoke, then the grant.
    let history = Event::admin_history(&format!("userId={TARGET}")).bearer(&jwt_for(ADMIN));
    let page = env.call::<AdminHistory>(history.http_api()).await;
    let shown: Vec<&str> = page.body["data"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["requestId"].as_str().unwrap())
        .collect();
    assert_eq!(shown, [revoke.request_id.as_str(), grant.request_id.as_str()]);
}

#[tokio::test]
async fn a_target_whose_last_event_id_is_ahead_of_the_clock_gets_the_next_one_after_it() {
    // Another function whose clock runs an hour ahead made the last change.
    let env = admin_world().await;
    let ahead = uuid::Uuid::new_v7(uuid::Timestamp::from_unix(
        uuid::NoContext,
        SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() + 3600,
        0,
    ))
    .to_string();
    let mut item = env.user(TARGET).await.unwrap();
    item.insert(LAST_EVENT_ID.to_owned(), s(&ahead));
    env.put(&env.tables.users, item).await;
    for permissions in [[X], [BASE]] {
        env.changes::<AdminAdd>(change(Event::admin(), &permissions).http_api()).await;
    }
    let records = env.audit_of(TARGET).await;
    assert_eq!(records.len(), 2);
    let ahead_time = event_time(&ahead);
    assert!(records[0].event_id > ahead, "{records:?}");
    assert_eq!(event_time(&records[0].event_id), ahead_time + Duration::from_millis(1));
    assert_eq!(event_time(&records[1].event_id), ahead_time + Duration::from_millis(2));
    assert_eq!(env.user(TARGET).await.unwrap()[LAST_EVENT_ID], s(&records[1].event_id));
}

#[tokio::test(flavor = "current_thread")]
async fn a_target_whose_last_event_id_no_request_wrote_is_left_alone_and_reported() {
    let env = admin_world().await;
    for (stored, logged) in [
        (AttributeValue::N("5".into()), "the target's last_event_id is not a string"),
        (s("zzz"), "the target's last_event_id \"zzz\" is not an event id"),
    ] {
        let mut item = env.user(TARGET).await.unwrap();
        item.insert(LAST_EVENT_ID.to_owned(), stored);
        env.put(&env.tables.users, item).await;
        let logs = CapturedLogs::start();
        let response = env.refuses::<AdminAdd>(change(Event::admin(), &[X]).http_api(), 500).await;
        assert_eq!(response.body["error"]["code"], "SERVER_ERROR");
        assert!(logs.text().contains(logged), "{}", logs.text());
    }
    // An event id from before this one's time is simply passed.
    let mut item = env.user(TARGET).await.unwrap();
    item.insert(LAST_EVENT_ID.to_owned(), s("00000000-0000-7000-8000-000000000000"));
    env.put(&env.tables.users, item).await;
    env.changes::<AdminAdd>(change(Event::admin(), &[X]).http_api()).await;
}
