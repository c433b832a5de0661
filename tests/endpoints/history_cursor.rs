//! What the history cursor is, exactly: validated and bound to its `userId`, not secret. Its
//! digest is an unkeyed SHA-256, so anyone who knows the format can mint one; a minted cursor
//! is accepted for the user it names, and only ever yields that user's events (the caller is
//! checked on every page, as without a cursor). A cursor with any byte changed, or bound to
//! another user, is a 400.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::support::fixtures::admin::*;
use crate::support::{AdminAdd, AdminHistory, Event, TestEnv};

/// A cursor made outside the service, from its published format alone.
fn minted(user_id: &str, after: &str) -> String {
    let digest = Sha256::digest(format!("permission-history-cursor/v1\n{user_id}\n{after}").as_bytes());
    let check: String = digest[..12].iter().map(|byte| format!("{byte:02x}")).collect();
    URL_SAFE_NO_PAD.encode(format!("v1.{user_id}.{after}.{check}"))
}

async fn grant(env: &TestEnv, target: &str, permission: &str) {
    let body = json!({ "payload": { "userId": target, "permissions": [permission] } });
    env.changes::<AdminAdd>(Event::admin().bearer(&jwt_for(ADMIN)).json(&body).http_api()).await;
}

async fn history(env: &TestEnv, caller: &str, query: &str) -> (u16, Value) {
    let response = env.call::<AdminHistory>(Event::admin_history(query).bearer(&jwt_for(caller)).http_api()).await;
    (response.status, response.body)
}

fn event_ids(body: &Value) -> Vec<String> {
    let events = body["data"]["events"].as_array().expect("events");
    events.iter().map(|event| event["eventId"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn a_minted_cursor_is_accepted_for_its_own_user_and_never_yields_anothers_events() {
    let env = admin_world().await;
    // Interleaved, so the other user's event ids fall between the target's.
    for i in 0..3 {
        grant(&env, TARGET, &format!("compass.target{i}")).await;
        grant(&env, MEMBER, &format!("compass.member{i}")).await;
    }
    let (_, all) = history(&env, ADMIN, &format!("userId={TARGET}")).await;
    let target_ids = event_ids(&all);
    let (_, member_all) = history(&env, ADMIN, &format!("userId={MEMBER}")).await;
    let member_ids = event_ids(&member_all);
    assert_eq!((target_ids.len(), member_ids.len()), (3, 3));

    // Minted after the target's newest event: the same page the service's own cursor gives.
    let (status, minted_page) =
        history(&env, ADMIN, &format!("userId={TARGET}&limit=1&cursor={}", minted(TARGET, &target_ids[0]))).await;
    assert_eq!(status, 200, "{minted_page}");
    let (_, first) = history(&env, ADMIN, &format!("userId={TARGET}&limit=1")).await;
    let issued = first["data"]["nextCursor"].as_str().unwrap();
    assert_eq!(issued, minted(TARGET, &target_ids[0]), "the service issues exactly what anyone can mint");
    assert_eq!(event_ids(&minted_page), [target_ids[1].clone()]);

    // Minted for the target, starting after one of the other user's event ids: still only the
    // target's events (those older than that id), never the other user's.
    let (status, page) =
        history(&env, ADMIN, &format!("userId={TARGET}&cursor={}", minted(TARGET, &member_ids[0]))).await;
    assert_eq!(status, 200, "{page}");
    let shown = event_ids(&page);
    assert!(!shown.is_empty() && shown.iter().all(|id| target_ids.contains(id)), "{page}");
    assert!(shown.iter().all(|id| id < &member_ids[0]), "{page}");

    // Bound to its user: the other user's cursor (minted or issued) on the target is a 400.
    let (status, body) =
        history(&env, ADMIN, &format!("userId={TARGET}&cursor={}", minted(MEMBER, &member_ids[0]))).await;
    assert_eq!((status, &body["error"]["code"]), (400, &json!("VALIDATION_ERROR")), "{body}");

    // Any byte changed: a 400.
    let mut text = URL_SAFE_NO_PAD.decode(minted(TARGET, &target_ids[0])).unwrap();
    let last = text.len() - 1;
    text[last] = if text[last] == b'0' { b'1' } else { b'0' };
    let (status, body) =
        history(&env, ADMIN, &format!("userId={TARGET}&cursor={}", URL_SAFE_NO_PAD.encode(&text))).await;
    assert_eq!((status, &body["error"]["code"]), (400, &json!("VALIDATION_ERROR")), "{body}");

    // A cursor grants nothing: a non-admin with a well-formed cursor is refused as without one.
    let (status, body) =
        history(&env, MEMBER, &format!("userId={TARGET}&cursor={}", minted(TARGET, &target_ids[0]))).await;
    assert_eq!((status, &body["error"]["code"]), (403, &json!("FORBIDDEN")), "{body}");
}
