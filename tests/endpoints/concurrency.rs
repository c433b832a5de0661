//! Concurrent grants to one user: every one succeeds, none is lost, each is audited once.

use std::sync::Arc;

use serde_json::json;

use crate::org_user_permissions as org;
use crate::support::{Event, TestEnv, now};
use crate::user_add_permissions as admin;

const WRITERS: usize = 32;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_org_grants_to_one_user_all_land() {
    let env = Arc::new(TestEnv::new().await);
    env.put_permission(org::EDIT_RIGHT, "edit_org_users").await;
    env.put_user(org::EDITOR, Some(org::ORG_A), None, &[org::EDIT_RIGHT]).await;
    env.put_user(org::TARGET, Some(org::ORG_A), None, &[]).await;
    env.put_token(org::EDITOR_KEY, org::EDITOR, Some(now() + 3600)).await;
    let uuids: Vec<String> = (0..WRITERS).map(|i| format!("c0000000-0000-4000-8000-{i:012}")).collect();
    for uuid in &uuids {
        env.put_permission(uuid, "concurrent").await;
    }

    let tasks: Vec<_> = uuids
        .iter()
        .map(|uuid| {
            let env = env.clone();
            let request = Event::org(org::TARGET).token(org::EDITOR_KEY).json(&json!({ "permission_uuids": [uuid] }));
            tokio::spawn(async move { env.call_org(request.http_api()).await.status })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    assert_eq!(env.permissions_of(org::TARGET).await.unwrap(), uuids);
    assert_eq!(env.audit_of(org::TARGET).await.len(), WRITERS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_admin_grants_to_one_user_all_land() {
    let env = Arc::new(TestEnv::new().await);
    env.put_user(admin::ADMIN, None, Some("admin"), &[]).await;
    env.put_user(admin::TARGET, None, Some("user"), &[]).await;
    let mut permissions: Vec<String> = (0..WRITERS).map(|i| format!("compass.module{i}.*")).collect();
    permissions.sort();

    let tasks: Vec<_> = permissions
        .iter()
        .map(|permission| {
            let env = env.clone();
            let body = json!({ "payload": { "userId": admin::TARGET, "permissions": [permission] } });
            let request = Event::admin().bearer(&admin::jwt_for(admin::ADMIN)).json(&body);
            tokio::spawn(async move { env.call_admin(request.http_api()).await.status })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    assert_eq!(env.permissions_of(admin::TARGET).await.unwrap(), permissions);
    assert_eq!(env.audit_of(admin::TARGET).await.len(), WRITERS);
}
