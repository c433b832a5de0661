//! The org API's DynamoDB round trips, counted by the recorder. A warm process predicts the
//! caller from the key (the user it belonged to when it last authenticated here) and reads the
//! key, the caller and the right's catalog entries in one `BatchGetItem`: a change costs two
//! round trips (that and the transaction), a list one. A cold process is unchanged. Each way a
//! prediction can be stale gets exactly the answer a cold process gives, and the round trips
//! below.

use permissions_service::auth::api_token::token_hash;
use serde_json::{Value, json};

use crate::support::fixtures::org::*;
use crate::support::recorder::{Recorder, Sent, assert_consistent_reads_only};
use crate::support::{Event, OrgAdd, OrgList, OrgRemove, TestEnv, now};

const G: &str = "GetItem";
const B: &str = "BatchGetItem";
const T: &str = "TransactWriteItems";

/// Another editor of org A, to move the editor's key to.
const EDITOR2: &str = "e0000000-0000-4000-8000-000000000007";

async fn world() -> TestEnv {
    let env = org_world().await;
    env.put_user(EDITOR2, Some(ORG_A), None, &[EDIT_RIGHT]).await;
    env
}

fn operations(sent: &[Sent]) -> Vec<&str> {
    sent.iter().map(|sent| sent.operation.as_str()).collect()
}

fn grant(target: &str, uuids: &[&str]) -> Event {
    Event::org(target).token(EDITOR_KEY).json(&json!({ "permission_uuids": uuids }))
}

fn list(target: &str) -> Event {
    Event::org_list(target).token(EDITOR_KEY)
}

/// Calls `E` on `env` and answers its status, body and what it sent.
async fn call<E: crate::support::TestEndpoint>(
    env: &TestEnv,
    recorder: &Recorder,
    event: &Event,
) -> (u16, Value, Vec<Sent>) {
    recorder.take();
    let response = env.call::<E>(event.http_api()).await;
    (response.status, response.body, recorder.take())
}

#[tokio::test]
async fn warm_a_change_is_two_round_trips_and_a_list_one_cold_as_before() {
    let world = world().await;
    let (env, recorder) = world.recorded();
    // Cold: the key's GetItem; the caller; the caller's permissions the catalog cache lacks; the
    // requested uuids; the transaction.
    let (status, _, sent) = call::<OrgAdd>(&env, &recorder, &grant(BARE, &[P1, P2])).await;
    assert_eq!((status, operations(&sent)), (200, vec![G, B, B, B, T]));

    // Warm: the key, the caller and the right's catalog entry in one read, then the transaction.
    for (status, _, sent) in [
        call::<OrgAdd>(&env, &recorder, &grant(TARGET, &[P2])).await,
        call::<OrgRemove>(
            &env,
            &recorder,
            &Event::org_remove(TARGET).token(EDITOR_KEY).json(&json!({ "permission_uuids": [P2] })),
        )
        .await,
    ] {
        assert_eq!((status, operations(&sent)), (200, vec![B, T]), "{sent:?}");
        let batch = &sent[0].body["RequestItems"];
        assert_eq!(batch[&world.tables.tokens]["Keys"], json!([{ "token_hash": { "S": token_hash(EDITOR_KEY) } }]));
        assert_eq!(batch[&world.tables.users]["Keys"], json!([{ "user_id": { "S": EDITOR } }]));
        assert_eq!(batch[&world.tables.permissions]["Keys"], json!([{ "permission_uuid": { "S": EDIT_RIGHT } }]));
        assert_consistent_reads_only(&sent[..1], "the warm read");
    }

    // A list in the same process: the codenames of what the target holds are not cached yet.
    let (status, _, sent) = call::<OrgList>(&env, &recorder, &list(TARGET)).await;
    assert_eq!((status, operations(&sent)), (200, vec![B, B]));
    let (status, body, sent) = call::<OrgList>(&env, &recorder, &list(TARGET)).await;
    assert_eq!((status, operations(&sent)), (200, vec![B]), "{sent:?}");
    assert_eq!(body, json!({ "user_uuid": TARGET, "permissions": [{ "uuid": P3, "codename": "view_users" }] }));
    let batch = &sent[0].body["RequestItems"];
    assert!(batch.get(&world.tables.tokens).is_some(), "{batch}");
    assert_eq!(batch[&world.tables.users]["Keys"].as_array().map(Vec::len), Some(2), "caller and target: {batch}");
    assert_consistent_reads_only(&sent, "the warm list");

    // A cold list is as before: the key, then caller and target, then what the cache lacks.
    let (cold, recorder) = world.recorded();
    let (status, cold_body, sent) = call::<OrgList>(&cold, &recorder, &list(TARGET)).await;
    assert_eq!((status, operations(&sent)), (200, vec![G, B, B, B]));
    assert_eq!(cold_body, body);
}

/// What can change after a process learnt that the editor's key is the editor's.
#[derive(Debug, Clone, Copy)]
enum Stale {
    KeyDeleted,
    KeyExpired,
    KeyMovedToAUserWithoutTheRight,
    KeyMovedToAnotherEditor,
    CallerDeleted,
    CallerMovedToAnotherOrg,
    RightRemoved,
}

const STALE: [Stale; 7] = [
    Stale::KeyDeleted,
    Stale::KeyExpired,
    Stale::KeyMovedToAUserWithoutTheRight,
    Stale::KeyMovedToAnotherEditor,
    Stale::CallerDeleted,
    Stale::CallerMovedToAnotherOrg,
    Stale::RightRemoved,
];

impl Stale {
    async fn apply(self, env: &TestEnv) {
        match self {
            Stale::KeyDeleted => {
                let key = [("token_hash".to_owned(), crate::support::s(&token_hash(EDITOR_KEY)))];
                env.client.delete_item().table_name(&env.tables.tokens).set_key(Some(key.into())).send().await.unwrap();
            }
            Stale::KeyExpired => env.put_token(EDITOR_KEY, EDITOR, Some(now() - 1)).await,
            Stale::KeyMovedToAUserWithoutTheRight => env.put_token(EDITOR_KEY, PLAIN, None).await,
            Stale::KeyMovedToAnotherEditor => env.put_token(EDITOR_KEY, EDITOR2, None).await,
            Stale::CallerDeleted => env.delete_user(EDITOR).await,
            Stale::CallerMovedToAnotherOrg => env.put_user(EDITOR, Some(ORG_B), None, &[EDIT_RIGHT]).await,
            Stale::RightRemoved => env.put_user(EDITOR, Some(ORG_A), None, &[P1]).await,
        }
    }

    /// A change's round trips, warm with this stale prediction and in a cold process.
    fn change_round_trips(self) -> (Vec<&'static str>, Vec<&'static str>) {
        match self {
            Stale::KeyDeleted | Stale::KeyExpired => (vec![B], vec![G]),
            Stale::KeyMovedToAUserWithoutTheRight => (vec![B, B], vec![G, B, B]),
            Stale::KeyMovedToAnotherEditor => (vec![B, B, T], vec![G, B, B, B, T]),
            Stale::CallerDeleted => (vec![B], vec![G, B]),
            Stale::CallerMovedToAnotherOrg => (vec![B, T], vec![G, B, B, B, T]),
            Stale::RightRemoved => (vec![B], vec![G, B, B]),
        }
    }

    /// A list's round trips, warm with this stale prediction and in a cold process.
    fn list_round_trips(self) -> (Vec<&'static str>, Vec<&'static str>) {
        match self {
            Stale::KeyDeleted | Stale::KeyExpired => (vec![B], vec![G]),
            Stale::KeyMovedToAUserWithoutTheRight => (vec![B, B, B], vec![G, B, B]),
            Stale::KeyMovedToAnotherEditor => (vec![B, B], vec![G, B, B, B]),
            Stale::CallerDeleted => (vec![B], vec![G, B]),
            Stale::CallerMovedToAnotherOrg => (vec![B], vec![G, B, B]),
            Stale::RightRemoved => (vec![B, B], vec![G, B, B]),
        }
    }
}

#[tokio::test]
async fn a_stale_prediction_answers_a_change_as_a_cold_process_does() {
    for stale in STALE {
        // Two worlds alike: one served by a process that made a change with the key, one cold.
        let (warm_world, cold_world) = (world().await, world().await);
        let (warm, warm_recorder) = warm_world.recorded();
        let (status, _, _) = call::<OrgAdd>(&warm, &warm_recorder, &grant(BARE, &[P1, P2])).await;
        assert_eq!(status, 200);
        stale.apply(&warm_world).await;
        stale.apply(&cold_world).await;
        let (cold, cold_recorder) = cold_world.recorded();
        let request = grant(TARGET, &[P1, P2]);
        let (warm_status, warm_body, warm_sent) = call::<OrgAdd>(&warm, &warm_recorder, &request).await;
        let (cold_status, cold_body, cold_sent) = call::<OrgAdd>(&cold, &cold_recorder, &request).await;
        assert_eq!((warm_status, &warm_body), (cold_status, &cold_body), "{stale:?}");
        assert_eq!(warm_world.permissions_of(TARGET).await, cold_world.permissions_of(TARGET).await, "{stale:?}");
        let (warm_trips, cold_trips) = stale.change_round_trips();
        assert_eq!(
            (operations(&warm_sent), operations(&cold_sent)),
            (warm_trips, cold_trips),
            "{stale:?}: {warm_status}"
        );
    }
}

#[tokio::test]
async fn a_stale_prediction_answers_a_list_as_a_cold_process_does() {
    for stale in STALE {
        let (warm_world, cold_world) = (world().await, world().await);
        let (warm, warm_recorder) = warm_world.recorded();
        let (status, _, _) = call::<OrgList>(&warm, &warm_recorder, &list(TARGET)).await;
        assert_eq!(status, 200);
        stale.apply(&warm_world).await;
        stale.apply(&cold_world).await;
        let (cold, cold_recorder) = cold_world.recorded();
        let (warm_status, warm_body, warm_sent) = call::<OrgList>(&warm, &warm_recorder, &list(TARGET)).await;
        let (cold_status, cold_body, cold_sent) = call::<OrgList>(&cold, &cold_recorder, &list(TARGET)).await;
        assert_eq!((warm_status, &warm_body), (cold_status, &cold_body), "{stale:?}");
        let (warm_trips, cold_trips) = stale.list_round_trips();
        assert_eq!(
            (operations(&warm_sent), operations(&cold_sent)),
            (warm_trips, cold_trips),
            "{stale:?}: {warm_status}"
        );
    }
}

#[tokio::test]
async fn a_key_refused_once_is_no_longer_predicted() {
    let world = world().await;
    let (env, recorder) = world.recorded();
    assert_eq!(call::<OrgList>(&env, &recorder, &list(TARGET)).await.0, 200);
    Stale::KeyDeleted.apply(&world).await;
    let (status, _, sent) = call::<OrgList>(&env, &recorder, &list(TARGET)).await;
    assert_eq!((status, operations(&sent)), (401, vec![B]));
    // The key is back: its first request takes the cold path (the key alone first), then the
    // prediction is learnt again.
    world.put_token(EDITOR_KEY, EDITOR, None).await;
    let (status, _, sent) = call::<OrgList>(&env, &recorder, &list(TARGET)).await;
    assert_eq!((status, operations(&sent)), (200, vec![G, B]));
    let (status, _, sent) = call::<OrgList>(&env, &recorder, &list(TARGET)).await;
    assert_eq!((status, operations(&sent)), (200, vec![B]));
}
