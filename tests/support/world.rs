//! One test's world: its own tables on the shared DynamoDB Local, the APIs' state over them,
//! data written through the store's own records, and the assertions every test repeats (nothing
//! written on refusal, one audit record per change), generic over the endpoint.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use lambda_http::Request;
use lambda_http::http::HeaderMap;
use permissions_service::admin::{self, AdminApi, AdminTables};
use permissions_service::auth::api_token::token_hash;
use permissions_service::auth::jwt::JwtVerifier;
use permissions_service::authorizer::{Authorizer, RoutePermissions};
use permissions_service::frame::{Endpoint, Frame, routes};
use permissions_service::lambda_entry::NotApiGateway;
use permissions_service::org::{self, OrgApi, OrgTables};
use permissions_service::store::audit::{AUDIT_USER_ID, AuditRecord};
use permissions_service::store::catalog::CatalogEntry;
use permissions_service::store::tokens::{Expiry, TokenRecord};
use permissions_service::store::users::{LAST_EVENT_ID, USER_ID, UserRecord};
use serde_json::Value;

use super::dynamodb_local::{client, ready};
use super::events::Event;
use super::logs::CapturedLogs;
use super::tables::{TableNames, create_tables};

pub const JWT_SECRET: &str = "test-only-secret-that-is-at-least-32-bytes";

pub struct TestEnv {
    pub client: Client,
    pub tables: TableNames,
    pub org: Arc<OrgApi>,
    pub admin: Arc<AdminApi>,
}

/// An endpoint a test can build over a [`TestEnv`]: a new endpoint is one impl here.
pub trait TestEndpoint: Endpoint + Send + Sized + 'static {
    fn over(env: &TestEnv) -> Self;
}

impl TestEndpoint for org::Add {
    fn over(env: &TestEnv) -> Self {
        org::Add(env.org.clone())
    }
}

impl TestEndpoint for admin::Add {
    fn over(env: &TestEnv) -> Self {
        admin::Add(env.admin.clone())
    }
}

impl TestEndpoint for org::Remove {
    fn over(env: &TestEnv) -> Self {
        org::Remove(env.org.clone())
    }
}

impl TestEndpoint for admin::Remove {
    fn over(env: &TestEnv) -> Self {
        admin::Remove(env.admin.clone())
    }
}

impl TestEndpoint for org::List {
    fn over(env: &TestEnv) -> Self {
        org::List(env.org.clone())
    }
}

impl TestEndpoint for admin::List {
    fn over(env: &TestEnv) -> Self {
        admin::List(env.admin.clone())
    }
}

impl TestEndpoint for admin::History {
    fn over(env: &TestEnv) -> Self {
        admin::History(env.admin.clone())
    }
}

impl TestEndpoint for admin::Check {
    fn over(env: &TestEnv) -> Self {
        admin::Check(env.admin.clone())
    }
}

impl TestEnv {
    pub async fn new() -> Self {
        Self::with_jwt(JwtVerifier::new(JWT_SECRET.as_bytes(), None, None).unwrap()).await
    }

    pub async fn with_jwt(jwt: JwtVerifier) -> Self {
        Self::with_client(client(), jwt).await
    }

    /// Fresh tables, and both APIs using `client`.
    pub async fn with_client(client: Client, jwt: JwtVerifier) -> Self {
        ready(&client).await;
        let tables = create_tables(&client).await;
        Self::over(client, tables, jwt)
    }

    /// The APIs over the given table names, which need not exist (to provoke backend failures).
    pub fn over(client: Client, tables: TableNames, jwt: JwtVerifier) -> Self {
        let org = OrgApi::new(&client, org_tables(&tables));
        let admin = AdminApi::new(&client, admin_tables(&tables), jwt);
        Self { client, tables, org: Arc::new(org), admin: Arc::new(admin) }
    }

    pub fn org_tables(&self) -> OrgTables {
        org_tables(&self.tables)
    }

    /// The endpoint `E` in its frame, as its binary runs it (without metrics).
    pub fn frame<E: TestEndpoint>(&self) -> Frame<E> {
        Frame::new(E::over(self))
    }

    /// The Lambda authorizer over this world's users table, with `route_permissions` (as
    /// `ROUTE_PERMISSIONS` would hold them) and `jwt`.
    pub fn authorizer(&self, route_permissions: &str, jwt: JwtVerifier) -> Authorizer {
        let routes = RoutePermissions::parse(route_permissions).expect("a valid route map");
        Authorizer::new(&self.client, self.tables.users.clone(), routes, jwt)
    }

    /// One invocation of `binary` through the binaries' own entry path: the raw event in, the
    /// raw reply out.
    pub async fn answer_event(
        &self,
        binary: &str,
        event: Value,
        context: lambda_http::Context,
    ) -> Result<Value, NotApiGateway> {
        use permissions_service::lambda_entry::answer_event;
        match binary {
            b if b == routes::ORG_ADD.binary => answer_event(&self.frame::<org::Add>(), event, context).await,
            b if b == routes::ORG_REMOVE.binary => answer_event(&self.frame::<org::Remove>(), event, context).await,
            b if b == routes::ADMIN_ADD.binary => answer_event(&self.frame::<admin::Add>(), event, context).await,
            b if b == routes::ADMIN_REMOVE.binary => answer_event(&self.frame::<admin::Remove>(), event, context).await,
            b if b == routes::ORG_LIST.binary => answer_event(&self.frame::<org::List>(), event, context).await,
            b if b == routes::ADMIN_LIST.binary => answer_event(&self.frame::<admin::List>(), event, context).await,
            b if b == routes::ADMIN_HISTORY.binary => {
                answer_event(&self.frame::<admin::History>(), event, context).await
            }
            b if b == routes::ADMIN_CHECK.binary => answer_event(&self.frame::<admin::Check>(), event, context).await,
            other => panic!("no endpoint is built for {other}: add it to TestEnv::answer_event"),
        }
    }

    pub async fn put_user(&self, user_id: &str, org_uuid: Option<&str>, role: Option<&str>, permissions: &[&str]) {
        let user = UserRecord {
            user_id: user_id.to_owned(),
            org_uuid: org_uuid.map(str::to_owned),
            role: role.map(str::to_owned),
            permissions: permissions.iter().map(|permission| (*permission).to_owned()).collect(),
        };
        self.put(&self.tables.users, user.to_item()).await;
    }

    pub async fn put_token(&self, raw_key: &str, user_id: &str, expires_at: Option<u64>) {
        let expiry = expires_at.map_or(Expiry::Never, |at| Expiry::At(at as f64));
        let token = TokenRecord { user_id: user_id.to_owned(), expiry };
        self.put(&self.tables.tokens, token.to_item(&token_hash(raw_key))).await;
    }

    pub async fn put_permission(&self, permission_uuid: &str, codename: &str) {
        let entry = CatalogEntry { permission_uuid: permission_uuid.to_owned(), codename: codename.to_owned() };
        self.put(&self.tables.permissions, entry.to_item()).await;
    }

    /// Writes an item as given: for stored data no request of ours would write.
    pub async fn put(&self, table: &str, item: HashMap<String, AttributeValue>) {
        self.client.put_item().table_name(table).set_item(Some(item)).send().await.expect("put item");
    }

    pub async fn delete_user(&self, user_id: &str) {
        self.client.delete_item().table_name(&self.tables.users).key(USER_ID, s(user_id)).send().await.unwrap();
    }

    pub async fn user(&self, user_id: &str) -> Option<HashMap<String, AttributeValue>> {
        let output = self
            .client
            .get_item()
            .table_name(&self.tables.users)
            .key(USER_ID, s(user_id))
            .consistent_read(true)
            .send()
            .await
            .unwrap();
        output.item
    }

    /// The user's item without `last_event_id`, which every change moves on, a no-op included:
    /// who the user is and what it holds.
    pub async fn user_data(&self, user_id: &str) -> Option<HashMap<String, AttributeValue>> {
        let mut item = self.user(user_id).await?;
        item.remove(LAST_EVENT_ID);
        Some(item)
    }

    /// The user's permissions, sorted; `None` when the user does not exist.
    pub async fn permissions_of(&self, user_id: &str) -> Option<Vec<String>> {
        let item = self.user(user_id).await?;
        let mut permissions = UserRecord::from_item(&item).map(|user| user.permissions).unwrap_or_default();
        permissions.sort();
        Some(permissions)
    }

    /// The audit records of one target user, oldest first.
    pub async fn audit_of(&self, user_id: &str) -> Vec<AuditRecord> {
        self.audit_items_of(user_id)
            .await
            .iter()
            .map(|item| AuditRecord::from_item(item).expect("an audit record"))
            .collect()
    }

    /// The audit items of one target user as stored, oldest first.
    pub async fn audit_items_of(&self, user_id: &str) -> Vec<HashMap<String, AttributeValue>> {
        let output = self
            .client
            .query()
            .table_name(&self.tables.audit)
            .key_condition_expression("#user = :user")
            .expression_attribute_names("#user", AUDIT_USER_ID)
            .expression_attribute_values(":user", s(user_id))
            .consistent_read(true)
            .send()
            .await
            .unwrap();
        output.items.unwrap_or_default()
    }

    /// Every item of every table, in a stable order: equal snapshots mean nothing was written.
    pub async fn snapshot(&self) -> Vec<String> {
        let mut lines = Vec::new();
        let tables = &self.tables;
        for table in [&tables.users, &tables.tokens, &tables.permissions, &tables.audit, &tables.idempotency] {
            let output = self.client.scan().table_name(table).consistent_read(true).send().await.unwrap();
            for item in output.items.unwrap_or_default() {
                let mut fields: Vec<String> = item.iter().map(|(name, value)| format!("{name}={value:?}")).collect();
                fields.sort();
                lines.push(format!("{table}: {}", fields.join(", ")));
            }
        }
        lines.sort();
        lines
    }

    /// Sends `event` to `E` over this world's tables with `table` missing, and proves the answer
    /// is a 500 that wrote nothing, logged with the request's id as a backend failure. Returns the
    /// answer and everything logged, for the API's own error shape and what must not leak.
    pub async fn fails_without<E: TestEndpoint>(&self, table: &str, event: &Event) -> (TestResponse, String) {
        let jwt = JwtVerifier::new(JWT_SECRET.as_bytes(), None, None).unwrap();
        let broken = TestEnv::over(self.client.clone(), self.tables.without(table), jwt);
        let logs = CapturedLogs::start();
        let before = self.snapshot().await;
        let response = broken.call::<E>(event.http_api()).await;
        assert_eq!(response.status, 500, "unexpected answer: {response:?}");
        assert_eq!(self.snapshot().await, before, "a change must not land without its audit record");
        let text = logs.text();
        assert!(text.contains(&event.request_id) && text.contains("backend failure"), "{text}");
        (response, text)
    }

    pub async fn audit_count(&self) -> usize {
        let output = self.client.scan().table_name(&self.tables.audit).consistent_read(true).send().await.unwrap();
        output.items.unwrap_or_default().len()
    }

    pub async fn call<E: TestEndpoint>(&self, request: Request) -> TestResponse {
        TestResponse::from(self.frame::<E>().handle(request).await)
    }

    /// Calls `E` expecting a refusal with `status`, and proves nothing was written.
    pub async fn refuses<E: TestEndpoint>(&self, request: Request, status: u16) -> TestResponse {
        let before = self.snapshot().await;
        let response = self.call::<E>(request).await;
        assert_eq!(response.status, status, "unexpected answer: {response:?}");
        assert_eq!(self.snapshot().await, before, "a refused request wrote something");
        response
    }

    /// Calls the read endpoint `E` expecting a 200, and proves it wrote nothing.
    pub async fn reads<E: TestEndpoint>(&self, request: Request) -> TestResponse {
        let before = self.snapshot().await;
        let response = self.call::<E>(request).await;
        assert_eq!(response.status, 200, "unexpected answer: {response:?}");
        assert_eq!(self.snapshot().await, before, "a read wrote something");
        response
    }

    /// Calls the change endpoint `E` expecting success, and proves exactly one audit record was
    /// added.
    pub async fn changes<E: TestEndpoint>(&self, request: Request) -> TestResponse {
        let audits = self.audit_count().await;
        let response = self.call::<E>(request).await;
        assert_eq!(response.status, 200, "unexpected answer: {response:?}");
        assert_eq!(self.audit_count().await, audits + 1, "a change must add exactly one audit record");
        response
    }
}

fn org_tables(tables: &TableNames) -> OrgTables {
    OrgTables {
        users: tables.users.clone(),
        tokens: tables.tokens.clone(),
        permissions: tables.permissions.clone(),
        audit: tables.audit.clone(),
        idempotency: tables.idempotency.clone(),
    }
}

fn admin_tables(tables: &TableNames) -> AdminTables {
    AdminTables { users: tables.users.clone(), audit: tables.audit.clone(), idempotency: tables.idempotency.clone() }
}

/// The local run's world: the APIs with the demo JWT secret, over the demo data.
#[cfg(feature = "local")]
impl TestEnv {
    pub async fn with_demo_data() -> Self {
        Self::with_demo_data_over(client()).await
    }

    pub async fn with_demo_data_over(client: Client) -> Self {
        use permissions_service::local::demo;
        let env = Self::with_client(client, JwtVerifier::new(demo::JWT_SECRET.as_bytes(), None, None).unwrap()).await;
        demo::seed(&env.client, &env.org_tables()).await.unwrap();
        env
    }

    /// The local API over this world's tables, with the demo JWT secret.
    pub fn local_api(&self) -> permissions_service::local::api::LocalApi {
        use permissions_service::local::demo;
        let tables = self.org_tables();
        let jwt = JwtVerifier::new(demo::JWT_SECRET.as_bytes(), None, None).unwrap();
        let admin = AdminApi::new(&self.client, admin_tables(&self.tables), jwt);
        permissions_service::local::api::LocalApi::new(
            OrgApi::new(&self.client, tables),
            admin,
            permissions_service::telemetry::metrics::Metrics::Off,
        )
    }
}

pub fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

pub fn ss(values: &[&str]) -> AttributeValue {
    AttributeValue::Ss(values.iter().map(|value| (*value).to_owned()).collect())
}

pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

#[derive(Debug)]
pub struct TestResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl From<lambda_http::Response<lambda_http::Body>> for TestResponse {
    fn from(response: lambda_http::Response<lambda_http::Body>) -> Self {
        let (parts, body) = response.into_parts();
        assert_eq!(
            parts.headers.get("content-type").and_then(|value| value.to_str().ok()),
            Some("application/json"),
            "every response is JSON"
        );
        let body = serde_json::from_slice(body.as_ref()).expect("a JSON body");
        TestResponse { status: parts.status.as_u16(), headers: parts.headers, body }
    }
}
