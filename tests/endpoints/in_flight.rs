//! What changes while a request is in flight, between its reads and its transaction: a key
//! revoked or expired, a right removed, an audit record that already exists. An SDK interceptor
//! makes the change just before the grant's `TransactWriteItems` leaves, so the transaction's own
//! conditions, not the earlier reads, must catch it. Also what a warm catalog cache may decide,
//! and what a caller without the right can make the endpoint read.

use std::future::Future;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::Client;
use permissions_service::auth::api_token::token_hash;
use permissions_service::auth::jwt::JwtVerifier;
use permissions_service::store::audit::{AUDIT_EVENT_ID, Action as ChangeAction, AuditRecord};
use permissions_service::store::tokens::{Expiry, TOKEN_HASH, TokenRecord};
use permissions_service::store::users::UserRecord;
use serde_json::{Value, json};

use crate::support;
use crate::support::OrgAdd;
use crate::support::fixtures::org::{EDIT_RIGHT, EDITOR, EDITOR_KEY, ORG_A, P1, P2, P3, PLAIN, PLAIN_KEY, TARGET};
use crate::support::recorder::OnSend;
use crate::support::{JWT_SECRET, TestEnv, client_config, now, s};

type Action = Box<dyn FnOnce(&[u8]) + Send>;

/// Runs an armed action, once, with the body of the next `TransactWriteItems` about to be sent;
/// and keeps every request body it saw.
#[derive(Clone, Default)]
struct BeforeTransaction {
    armed: Arc<Mutex<Option<Action>>>,
    bodies: Arc<Mutex<Vec<String>>>,
}

impl BeforeTransaction {
    fn arm(&self, action: impl FnOnce(&[u8]) + Send + 'static) {
        *self.armed.lock().unwrap() = Some(Box::new(action));
    }

    fn bodies(&self) -> Vec<String> {
        self.bodies.lock().unwrap().clone()
    }

    /// What a client calls with each request it sends.
    fn on_send(&self) -> OnSend {
        let this = self.clone();
        OnSend::new(move |operation, body| {
            this.bodies.lock().unwrap().push(String::from_utf8_lossy(body).into_owned());
            if operation == "TransactWriteItems"
                && let Some(action) = this.armed.lock().unwrap().take()
            {
                action(body);
            }
        })
    }
}

/// Does `work` to completion on a thread of its own: the interceptor is synchronous, and the
/// request it holds up must not be the one to run the change.
fn meanwhile(work: impl Future<Output = ()> + Send + 'static) {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(work)
    })
    .join()
    .unwrap();
}

/// The org world of `org_user_permissions`, behind the interceptor.
async fn intercepted_org_world() -> (TestEnv, BeforeTransaction) {
    let interceptor = BeforeTransaction::default();
    let client = Client::from_conf(client_config().interceptor(interceptor.on_send()).build());
    let env = TestEnv::with_client(client, JwtVerifier::new(JWT_SECRET.as_bytes(), None, None).unwrap()).await;
    env.put_permission(EDIT_RIGHT, "edit_org_users").await;
    env.put_permission(P1, "view_reports").await;
    env.put_permission(P2, "edit_reports").await;
    env.put_user(EDITOR, Some(ORG_A), None, &[EDIT_RIGHT]).await;
    env.put_user(PLAIN, Some(ORG_A), None, &[P1]).await;
    env.put_user(TARGET, Some(ORG_A), None, &[P3]).await;
    env.put_token(EDITOR_KEY, EDITOR, Some(now() + 3600)).await;
    env.put_token(PLAIN_KEY, PLAIN, None).await;
    (env, interceptor)
}

fn grant_p1() -> support::Event {
    support::Event::org(TARGET).token(EDITOR_KEY).json(&json!({ "permission_uuids": [P1] }))
}

/// Answers `request` with the change made in flight, and proves the grant wrote nothing: the
/// target's set and the audit table are as before.
async fn refused_after(
    env: &TestEnv,
    interceptor: &BeforeTransaction,
    change: impl Future<Output = ()> + Send + 'static,
) -> (u16, Value) {
    let before = (env.permissions_of(TARGET).await, env.audit_count().await);
    interceptor.arm(move |_| meanwhile(change));
    let response = env.call::<OrgAdd>(grant_p1().http_api()).await;
    assert_eq!((env.permissions_of(TARGET).await, env.audit_count().await), before, "a refused grant wrote");
    (response.status, response.body)
}

#[tokio::test]
async fn a_key_revoked_in_flight_stops_its_own_request() {
    let (env, interceptor) = intercepted_org_world().await;
    let tokens = env.tables.tokens.clone();
    let (status, body) = refused_after(&env, &interceptor, async move {
        let hash = token_hash(EDITOR_KEY);
        support::client().delete_item().table_name(tokens).key(TOKEN_HASH, s(&hash)).send().await.unwrap();
    })
    .await;
    assert_eq!((status, body), (401, json!({ "detail": "Invalid token." })));
}

#[tokio::test]
async fn a_key_that_expires_in_flight_stops_its_own_request() {
    let (env, interceptor) = intercepted_org_world().await;
    let tokens = env.tables.tokens.clone();
    let (status, _) = refused_after(&env, &interceptor, async move {
        let item = TokenRecord { user_id: EDITOR.to_owned(), expiry: Expiry::At((now() - 1) as f64) }
            .to_item(&token_hash(EDITOR_KEY));
        support::client().put_item().table_name(tokens).set_item(Some(item)).send().await.unwrap();
    })
    .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn a_key_moved_to_another_user_in_flight_stops_its_request() {
    let (env, interceptor) = intercepted_org_world().await;
    let tokens = env.tables.tokens.clone();
    let (status, _) = refused_after(&env, &interceptor, async move {
        let item = TokenRecord { user_id: PLAIN.to_owned(), expiry: Expiry::Never }.to_item(&token_hash(EDITOR_KEY));
        support::client().put_item().table_name(tokens).set_item(Some(item)).send().await.unwrap();
    })
    .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn a_right_removed_in_flight_stops_the_grant() {
    let (env, interceptor) = intercepted_org_world().await;
    let users = env.tables.users.clone();
    let (status, body) = refused_after(&env, &interceptor, async move {
        let item = UserRecord {
            user_id: EDITOR.to_owned(),
            org_uuid: Some(ORG_A.to_owned()),
            role: None,
            permissions: Vec::new(),
        }
        .to_item();
        support::client().put_item().table_name(users).set_item(Some(item)).send().await.unwrap();
    })
    .await;
    assert_eq!((status, body), (403, json!({ "detail": "You do not have permission to perform this action." })));
}

#[tokio::test]
async fn an_existing_audit_record_is_never_overwritten() {
    let (env, interceptor) = intercepted_org_world().await;
    let audit = env.tables.audit.clone();
    let planted = Arc::new(Mutex::new(None));
    let planted_key = planted.clone();
    interceptor.arm(move |body| {
        // Plant a record under the very key this grant's audit Put is about to use.
        let request: Value = serde_json::from_slice(body).unwrap();
        let put = request["TransactItems"].as_array().unwrap().iter().find_map(|item| item.get("Put")).unwrap();
        let event_id = put["Item"][AUDIT_EVENT_ID]["S"].as_str().unwrap().to_owned();
        *planted_key.lock().unwrap() = Some(event_id.clone());
        meanwhile(async move {
            let item = AuditRecord {
                user_id: TARGET.to_owned(),
                event_id: event_id.clone(),
                action: ChangeAction::Grant,
                actor_id: "someone-else".to_owned(),
                endpoint: "elsewhere".to_owned(),
                permissions: vec![P2.to_owned()],
                at: "2026-01-01T00:00:00.000Z".to_owned(),
                request_id: "planted".to_owned(),
                org_uuid: None,
            }
            .to_item();
            support::client().put_item().table_name(audit).set_item(Some(item)).send().await.unwrap();
        });
    });
    let held_before = env.permissions_of(TARGET).await;
    let response = env.call::<OrgAdd>(grant_p1().http_api()).await;
    // Nothing of this change committed: a backend failure, never a 200 for a grant not made.
    assert_eq!((response.status, response.body), (500, json!({ "detail": "A server error occurred." })));
    assert_eq!(env.permissions_of(TARGET).await, held_before, "the grant landed without its audit record");
    let event_id = planted.lock().unwrap().clone().expect("the grant sent a transaction");
    let records = env.audit_of(TARGET).await;
    let record = records.iter().find(|record| record.event_id == event_id).unwrap();
    assert_eq!(record.actor_id, "someone-else", "the audit record was overwritten");
    assert_eq!(records.len(), 1, "{records:?}");
}

#[tokio::test]
async fn a_warm_catalog_cache_never_authorizes_alone() {
    let (env, _) = intercepted_org_world().await;
    env.changes::<OrgAdd>(grant_p1().http_api()).await;
    // An operator breaks the catalog's immutability: the right's entry now names another right.
    env.put_permission(EDIT_RIGHT, "view_org_users").await;
    let request = support::Event::org(TARGET).token(EDITOR_KEY).json(&json!({ "permission_uuids": [P2] }));
    let response = env.refuses::<OrgAdd>(request.http_api(), 403).await;
    assert_eq!(response.body["detail"], "You do not have permission to perform this action.");
}

#[tokio::test]
async fn a_caller_without_the_right_makes_no_requested_uuid_be_read() {
    let (env, interceptor) = intercepted_org_world().await;
    // Warm the catalog cache the way an editor's requests would.
    env.changes::<OrgAdd>(grant_p1().http_api()).await;
    let probes: Vec<String> = (0..100).map(|i| format!("f0000000-0000-4000-8000-{i:012}")).collect();
    let seen_before = interceptor.bodies().len();
    let request = support::Event::org(TARGET).token(PLAIN_KEY).json(&json!({ "permission_uuids": probes }));
    env.refuses::<OrgAdd>(request.http_api(), 403).await;
    let sent = interceptor.bodies()[seen_before..].join("\n");
    assert!(!sent.is_empty(), "the refusal made no DynamoDB call at all");
    for probe in &probes {
        assert!(!sent.contains(probe.as_str()), "requested uuid {probe} was looked up for a caller without the right");
    }
}

#[tokio::test]
async fn the_same_probe_from_an_editor_does_read_the_catalog() {
    // The test above must be able to fail: the same request from the editor reads the uuids.
    let (env, interceptor) = intercepted_org_world().await;
    let probe = "f0000000-0000-4000-8000-000000000001";
    let request = support::Event::org(TARGET).token(EDITOR_KEY).json(&json!({ "permission_uuids": [probe] }));
    let response = env.refuses::<OrgAdd>(request.http_api(), 400).await;
    assert_eq!(
        response.body,
        json!({ "permission_uuids": [format!("Invalid pk \"{probe}\" - object does not exist.")] })
    );
    assert!(interceptor.bodies().iter().any(|body| body.contains(probe)));
}
