//! Demo data for local runs. Every secret here is a LOCAL-ONLY DEMO VALUE: it exists so the API
//! docs' own curl examples work against localhost, and must never be deployed.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::json;

use crate::auth::api_token::token_hash;
use crate::org::OrgTables;
use crate::store::catalog::CatalogEntry;
use crate::store::tokens::{Expiry, TokenRecord};
use crate::store::users::UserRecord;

/// LOCAL-ONLY DEMO SECRET: the HS256 key local runs give `user-add-permissions`.
pub const JWT_SECRET: &str = "local-only-demo-jwt-secret-never-deploy-this";
/// Expiry of the demo JWTs (2100-01-01): fixed, so the sample events in `events/` stay valid
/// and the same tokens are printed on every run.
pub const JWT_EXPIRES_AT: u64 = 4_102_444_800;

/// The organization of the org endpoint's demo users.
pub const ORG: &str = "0a7e5b1c-9d3f-4e2a-8b6c-1f0e2d3c4b5a";
/// Another organization: its user is invisible (404) to the demo editor.
pub const OTHER_ORG: &str = "0b8f6c2d-ae4f-4f3b-9c7d-2a1f3e4d5c6b";
/// LOCAL-ONLY DEMO TOKEN (the API doc's example key) of the editor, who holds `edit_org_users`.
pub const EDITOR_TOKEN: &str = "47d4yfbwymedhiudj384702984nakju4hajh395d";
pub const EDITOR: &str = "7c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f";
/// LOCAL-ONLY DEMO TOKEN of a member of the same organization without `edit_org_users`.
pub const MEMBER_TOKEN: &str = "local-demo-member-token-without-edit-right";
pub const MEMBER: &str = "8d2e3f4a-5b6c-4d7e-9f8a-0b1c2d3e4f5a";
/// The API doc's example target, in the demo organization.
pub const TARGET: &str = "5de38a8e-800e-4cba-84c5-ee6c27f304d8";
pub const OUTSIDER: &str = "9e3f4a5b-6c7d-4e8f-a09b-1c2d3e4f5a6b";

/// The permission catalog: the API doc's two example uuids, the editor's right and a spare.
pub const CATALOG: [(&str, &str); 4] = [
    ("2a0295b6-dd74-4239-9988-24fcdb1adcea", "view_org_reports"),
    ("05a46c58-9d13-4912-9167-7effc2cc7482", "manage_org_billing"),
    ("e4d3c2b1-a098-4f7e-8d6c-5b4a39281706", "edit_org_users"),
    ("f5e4d3c2-b1a0-4e9f-8d7c-6b5a4a392817", "view_org_users"),
];
pub const EDIT_ORG_USERS: &str = CATALOG[2].0;

/// The admin endpoint's demo admin and users (MongoDB ObjectIds).
pub const ADMIN: &str = "64f1a2b3c4d5e6f708192a3b";
pub const NON_ADMIN: &str = "64f1a2b3c4d5e6f708192a3c";
/// The API doc's example target.
pub const ADMIN_TARGET: &str = "68bb46bb4db8c853599f1ebb";

/// The Lambda authorizer's route map for the example's protected API (examples/protected-api):
/// local.env, events/sam-env.json and the example's route-permissions.json say the same (a test
/// holds them to it).
pub const ROUTE_PERMISSIONS: &str = r#"{"GET /dashboard/overview": "compass.dashboard.overview", "POST /users/invitations": ["compass.users.invite", "compass.users.list"]}"#;

/// A LOCAL-ONLY DEMO JWT for `sub`, signed with [`JWT_SECRET`].
pub fn jwt_for(sub: &str) -> String {
    let claims = json!({ "sub": sub, "exp": JWT_EXPIRES_AT });
    encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(JWT_SECRET.as_bytes()))
        .expect("HS256 signing with an in-memory key cannot fail")
}

/// A demo user as stored.
pub fn user(id: &str, org: Option<&str>, role: Option<&str>, permissions: &[&str]) -> UserRecord {
    UserRecord {
        user_id: id.to_owned(),
        org_uuid: org.map(str::to_owned),
        role: role.map(str::to_owned),
        permissions: permissions.iter().map(|permission| (*permission).to_owned()).collect(),
    }
}

/// Writes the demo data (idempotent: running it again restores the demo state of these items).
pub async fn seed(client: &Client, tables: &OrgTables) -> Result<(), String> {
    let mut items: Vec<(&str, HashMap<String, AttributeValue>)> = Vec::new();
    for (uuid, codename) in CATALOG {
        let entry = CatalogEntry { permission_uuid: uuid.to_owned(), codename: codename.to_owned() };
        items.push((&tables.permissions, entry.to_item()));
    }
    items.push((&tables.users, user(EDITOR, Some(ORG), None, &[EDIT_ORG_USERS]).to_item()));
    items.push((&tables.users, user(MEMBER, Some(ORG), None, &[CATALOG[3].0]).to_item()));
    items.push((&tables.users, user(TARGET, Some(ORG), None, &[]).to_item()));
    items.push((&tables.users, user(OUTSIDER, Some(OTHER_ORG), None, &[]).to_item()));
    items.push((&tables.users, user(ADMIN, None, Some("admin"), &[]).to_item()));
    items.push((&tables.users, user(NON_ADMIN, None, Some("user"), &["compass.dashboard.overview"]).to_item()));
    items.push((&tables.users, user(ADMIN_TARGET, None, Some("user"), &["compass.users.*"]).to_item()));
    for (key, user_id) in [(EDITOR_TOKEN, EDITOR), (MEMBER_TOKEN, MEMBER)] {
        let token = TokenRecord { user_id: user_id.to_owned(), expiry: Expiry::Never };
        items.push((&tables.tokens, token.to_item(&token_hash(key))));
    }
    for (table, item) in items {
        client
            .put_item()
            .table_name(table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|error| format!("seeding {table}: {}", aws_sdk_dynamodb::error::DisplayErrorContext(error)))?;
    }
    Ok(())
}

/// What a person needs to try the API: the demo credentials and ready-to-paste commands.
pub fn guide(base_url: &str) -> String {
    let admin_jwt = jwt_for(ADMIN);
    let (p1, p2) = (CATALOG[0].0, CATALOG[1].0);
    format!(
        r#"Demo data is loaded. Every credential below is a LOCAL-ONLY DEMO VALUE.

  Org endpoints   token {EDITOR_TOKEN}  (editor of org {ORG}, holds edit_org_users)
                  token {MEMBER_TOKEN}  (member without edit_org_users: 403)
                  target user {TARGET}; user of another org {OUTSIDER} (404)
  Admin endpoints admin {ADMIN}, JWT (HS256, expires 2100-01-01):
                  {admin_jwt}
                  non-admin {NON_ADMIN}: 403; target user {ADMIN_TARGET}

Try the API docs' own examples, then take the permissions away again:

curl -i -X PATCH "{base_url}/organizations/users/permissions/{TARGET}/" \
     -H 'Authorization: Token {EDITOR_TOKEN}' \
     -H 'Content-Type: application/json; charset=utf-8' \
     -d '{{"permission_uuids": ["{p1}", "{p2}"]}}'

curl -i -X DELETE "{base_url}/organizations/users/permissions/{TARGET}/" \
     -H 'Authorization: Token {EDITOR_TOKEN}' \
     -H 'Content-Type: application/json' \
     -d '{{"permission_uuids": ["{p1}"]}}'

curl -i -X PUT "{base_url}/user/add-permissions" \
     -H 'Authorization: Bearer {admin_jwt}' \
     -H 'Content-Type: application/json' \
     -d '{{"payload": {{"userId": "{ADMIN_TARGET}", "permissions": ["compass.dashboard.*", "compass.dashboard.overview"]}}}}'

curl -i -X PUT "{base_url}/user/remove-permissions" \
     -H 'Authorization: Bearer {admin_jwt}' \
     -H 'Content-Type: application/json' \
     -d '{{"payload": {{"userId": "{ADMIN_TARGET}", "permissions": ["compass.dashboard.*"]}}}}'

Removing what the user does not hold is a no-op: 200, and audited. Read what is held, and the history:

curl -i "{base_url}/organizations/users/permissions/{TARGET}/" \
     -H 'Authorization: Token {EDITOR_TOKEN}'

curl -i "{base_url}/user/permissions?userId={ADMIN_TARGET}" \
     -H 'Authorization: Bearer {admin_jwt}'

curl -i "{base_url}/user/permission-history?userId={ADMIN_TARGET}&limit=2" \
     -H 'Authorization: Bearer {admin_jwt}'

May the user do these now? (compass.users.* implies every action of users):

curl -i -X POST "{base_url}/user/check-permissions" \
     -H 'Authorization: Bearer {admin_jwt}' \
     -H 'Content-Type: application/json' \
     -d '{{"payload": {{"userId": "{ADMIN_TARGET}", "permissions": ["compass.users.invite", "compass.dashboard.overview"]}}}}'
"#
    )
}

/// The guide to the example's protected API at `protected_url` (local-api's second port): a
/// grant and a revoke through the service at `base_url`, each counting on the very next request.
pub fn protected_guide(base_url: &str, protected_url: &str) -> String {
    let (admin_jwt, user_jwt) = (jwt_for(ADMIN), jwt_for(ADMIN_TARGET));
    format!(
        r#"The example's protected API (examples/protected-api) is on {protected_url}, behind the
Lambda authorizer: a request passes only if its user holds, at that moment, what its route needs
({ROUTE_PERMISSIONS}).
User {ADMIN_TARGET} holds compass.users.*; its LOCAL-ONLY DEMO JWT:
                  {user_jwt}

curl -i -X POST "{protected_url}/users/invitations" -H 'Authorization: Bearer {user_jwt}'

curl -i "{protected_url}/dashboard/overview" -H 'Authorization: Bearer {user_jwt}'

The first passes (compass.users.* implies both permissions it needs), the second is a 403. Grant,
and the very next request passes; revoke, and the very next one is a 403 again:

curl -i -X PUT "{base_url}/user/add-permissions" \
     -H 'Authorization: Bearer {admin_jwt}' \
     -H 'Content-Type: application/json' \
     -d '{{"payload": {{"userId": "{ADMIN_TARGET}", "permissions": ["compass.dashboard.*"]}}}}'

curl -i "{protected_url}/dashboard/overview" -H 'Authorization: Bearer {user_jwt}'

curl -i -X PUT "{base_url}/user/remove-permissions" \
     -H 'Authorization: Bearer {admin_jwt}' \
     -H 'Content-Type: application/json' \
     -d '{{"payload": {{"userId": "{ADMIN_TARGET}", "permissions": ["compass.dashboard.*"]}}}}'

curl -i "{protected_url}/dashboard/overview" -H 'Authorization: Bearer {user_jwt}'
"#
    )
}
