//! Bad stored data fails closed: a token or user item that no request of ours would write gives a
//! 401 or 403 (nothing written), never a 500 from DynamoDB refusing what we made of it, and never
//! a right read into an attribute of the wrong type.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use permissions_service::auth::api_token::token_hash;
use permissions_service::store::tokens::{TOKEN_HASH, USER_ID as TOKEN_USER_ID};
use permissions_service::store::users::{ORG_UUID, PERMISSIONS, ROLE, USER_ID};
use serde_json::json;

use crate::support::fixtures::admin::{self, admin_world};
use crate::support::fixtures::org::{EDIT_RIGHT, EDITOR, EDITOR_KEY, ORG_A, P1, TARGET, org_world};
use crate::support::{AdminAdd, OrgAdd};
use crate::support::{CapturedLogs, Event, TestEnv, s, ss};

fn org_grant(key: &str) -> Event {
    Event::org(TARGET).token(key).json(&json!({ "permission_uuids": [P1] }))
}

async fn put_token_item(env: &TestEnv, key: &str, user_id: AttributeValue) {
    let item = HashMap::from([(TOKEN_HASH.to_owned(), s(&token_hash(key))), (TOKEN_USER_ID.to_owned(), user_id)]);
    env.put(&env.tables.tokens, item).await;
}

#[tokio::test]
async fn a_token_whose_user_id_could_not_be_a_key_is_an_invalid_token() {
    let env = org_world().await;
    for (key, user_id) in [
        ("empty-user-id", s("")),
        ("huge-user-id", s(&"u".repeat(2049))),
        ("numeric-user-id", AttributeValue::N("7".into())),
        ("set-user-id", ss(&[EDITOR])),
    ] {
        put_token_item(&env, key, user_id).await;
        let response = env.refuses::<OrgAdd>(org_grant(key).http_api(), 401).await;
        assert_eq!(response.body, json!({ "detail": "Invalid token." }), "{key}");
    }
}

#[tokio::test]
async fn a_caller_whose_attributes_have_the_wrong_type_is_refused() {
    let env = org_world().await;
    let cases = [
        // A string holding the right's uuid: contains() on a string would match a substring.
        ("right-in-a-string", vec![(ORG_UUID, s(ORG_A)), (PERMISSIONS, s(EDIT_RIGHT))]),
        ("right-in-a-list", vec![(ORG_UUID, s(ORG_A)), (PERMISSIONS, AttributeValue::L(vec![s(EDIT_RIGHT)]))]),
        ("org-as-a-number", vec![(ORG_UUID, AttributeValue::N("1".into())), (PERMISSIONS, ss(&[EDIT_RIGHT]))]),
        ("org-as-a-set", vec![(ORG_UUID, ss(&[ORG_A])), (PERMISSIONS, ss(&[EDIT_RIGHT]))]),
    ];
    for (index, (name, attributes)) in cases.into_iter().enumerate() {
        let user_id = format!("e1000000-0000-4000-8000-{index:012}");
        let mut item = HashMap::from([(USER_ID.to_owned(), s(&user_id))]);
        item.extend(attributes.into_iter().map(|(attribute, value)| (attribute.to_owned(), value)));
        env.put(&env.tables.users, item).await;
        env.put_token(name, &user_id, None).await;
        let response = env.refuses::<OrgAdd>(org_grant(name).http_api(), 403).await;
        assert_eq!(response.body["detail"], "You do not have permission to perform this action.", "{name}");
    }
    // The same caller, stored well, is allowed: the cases above fail for their types alone.
    env.changes::<OrgAdd>(org_grant(EDITOR_KEY).http_api()).await;
}

#[tokio::test]
async fn an_admin_whose_role_has_the_wrong_type_is_forbidden() {
    let env = admin_world().await;
    for (index, role) in
        [ss(&["admin"]), AttributeValue::L(vec![s("admin")]), AttributeValue::N("1".into())].into_iter().enumerate()
    {
        let caller = format!("64c00000000000000000000{index}");
        let item = HashMap::from([(USER_ID.to_owned(), s(&caller)), (ROLE.to_owned(), role)]);
        env.put(&env.tables.users, item).await;
        let body = json!({ "payload": { "userId": admin::TARGET, "permissions": ["compass.reports"] } });
        let request = Event::admin().bearer(&admin::jwt_for(&caller)).json(&body);
        let response = env.refuses::<AdminAdd>(request.http_api(), 403).await;
        assert_eq!(response.body["error"]["code"], "FORBIDDEN");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_target_whose_permissions_are_not_a_set_is_left_alone_and_reported() {
    // Nothing is granted on top of data no request writes; the answer is the endpoint's 500 with
    // a log line that names the user, so an operator looks, rather than a 404 that would be false.
    let env = org_world().await;
    let item = HashMap::from([
        (USER_ID.to_owned(), s(TARGET)),
        (ORG_UUID.to_owned(), s(ORG_A)),
        (PERMISSIONS.to_owned(), s("not-a-set")),
    ]);
    env.put(&env.tables.users, item).await;
    let logs = CapturedLogs::start();
    let response = env.refuses::<OrgAdd>(org_grant(EDITOR_KEY).http_api(), 500).await;
    assert_eq!(response.body, json!({ "detail": "A server error occurred." }));
    assert!(
        logs.text().contains(&format!("user {TARGET}'s stored permissions are not a String Set")),
        "{}",
        logs.text()
    );
}
