//! A caller the history refuses reads nothing of the target's history: the audit table is
//! queried only once the caller is known to be an admin and the target to exist. A refusal costs
//! one `BatchGetItem` (caller and target), whatever the size of the target's history; a page
//! costs that and then the `Query`.

use serde_json::json;

use crate::support::fixtures::admin::*;
use crate::support::recorder::Sent;
use crate::support::{AdminAdd, AdminHistory, Event};

fn operations(sent: &[Sent]) -> Vec<&str> {
    sent.iter().map(|sent| sent.operation.as_str()).collect()
}

#[tokio::test]
async fn a_refused_caller_makes_no_query_of_the_targets_history() {
    let world = admin_world().await;
    for i in 0..3 {
        let body = json!({ "payload": { "userId": TARGET, "permissions": [format!("compass.m{i}")] } });
        world.changes::<AdminAdd>(Event::admin().bearer(&jwt_for(ADMIN)).json(&body).http_api()).await;
    }
    let (env, recorder) = world.recorded();
    for (caller, target, status) in
        [(MEMBER, TARGET, 403), (BARE, TARGET, 403), (TARGET, TARGET, 403), (NOBODY, TARGET, 401), (ADMIN, NOBODY, 404)]
    {
        let before = world.snapshot().await;
        recorder.take();
        let event = Event::admin_history(&format!("userId={target}")).bearer(&jwt_for(caller));
        let response = env.call::<AdminHistory>(event.http_api()).await;
        let sent = recorder.take();
        assert_eq!(response.status, status, "{caller} reading {target}: {response:?}");
        assert_eq!(world.snapshot().await, before, "a read wrote something");
        assert_eq!(operations(&sent), ["BatchGetItem"], "{caller} reading {target}: {sent:?}");
        assert!(!format!("{sent:?}").contains(&world.tables.audit), "{caller} reading {target}: {sent:?}");
    }
    // The same request from an admin does read the history, after the caller and the target: the
    // cases above can fail.
    let event = Event::admin_history(&format!("userId={TARGET}")).bearer(&jwt_for(ADMIN));
    let response = env.call::<AdminHistory>(event.http_api()).await;
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(response.body["data"]["events"].as_array().map(Vec::len), Some(3));
    assert_eq!(operations(&recorder.take()), ["BatchGetItem", "Query"]);
}
