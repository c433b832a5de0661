//! The service's cost per request, measured on this machine against DynamoDB Local:
//!
//!     cargo bench --features local --bench service
//!
//! 1. warm latency through each handler (on a current-thread runtime, as the Lambda binaries run),
//!    interleaved with the same DynamoDB calls made directly with the SDK: the difference is the
//!    handler's own overhead, and the interceptor also times the handler outside its SDK calls;
//! 2. DynamoDB round trips per successful request, counted by an SDK interceptor;
//! 3. cold start of each release binary: exec to its first poll of a stub Lambda Runtime API,
//!    then its first and later requests; and its peak RSS over 1000 requests. DynamoDB over plain
//!    HTTP (as DynamoDB Local serves it) and over TLS (through a TLS proxy in front of it, with a
//!    certificate made at start by the `openssl` CLI and trusted through `SSL_CERT_FILE`, as AWS
//!    is only reachable over TLS); the admin binary also with its JWT key read at init from a stub
//!    Secrets Manager, over HTTP and over TLS. Every case's root store is that CA and the
//!    system's bundle, the size of Lambda's;
//! 4. release binary sizes;
//! 5. local-api throughput under 16 concurrent keep-alive clients.
//!
//! `BENCH_ONLY` picks sections, comma-separated: `warm` (1 and 2), `cold` (3 and 4), `throughput`
//! (5); every section runs when it is unset. To measure a build-time variant, give it its own
//! target directory, e.g. the cold starts with aws-lc's CPU jitter entropy, which
//! .cargo/config.toml leaves out of every build:
//!
//!     AWS_LC_SYS_NO_JITTER_ENTROPY=0 CARGO_TARGET_DIR=target-jitter BENCH_ONLY=cold \
//!         cargo bench --features local --bench service
//!
//! Prints a Markdown report; docs/performance.md keeps the latest one.

#[path = "../tests/support/mod.rs"]
mod support;

mod aws_stubs;

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::interceptors::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::types::builders::UpdateBuilder;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use lambda_http::Request;
use permissions_service::auth::api_token::token_hash;
use permissions_service::local::demo;
use permissions_service::org::OrgTables;
use serde_json::json;
use support::{Event, TestEnv};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const WARMUP: usize = 200;
const SAMPLES: usize = 2000;
const COLD_STARTS: usize = 20;
const RSS_REQUESTS: usize = 1000;
const CLIENTS: usize = 16;
const THROUGHPUT_REQUESTS: usize = 4000;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(run());
}

/// Counts the HTTP attempts the SDK sends (DynamoDB round trips, retries included) and adds up
/// the time spent inside SDK operations, serialisation and signing included. The handler makes
/// its calls one after another, so one start instant at a time is enough.
#[derive(Debug, Clone, Default)]
struct SdkMeter {
    round_trips: Arc<AtomicUsize>,
    started: Arc<Mutex<Option<Instant>>>,
    inside: Arc<Mutex<Duration>>,
}

impl Intercept for SdkMeter {
    fn name(&self) -> &'static str {
        "SdkMeter"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _config: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        *self.started.lock().unwrap() = Some(Instant::now());
        Ok(())
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _config: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn read_after_execution(
        &self,
        _context: &FinalizerInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _config: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(started) = self.started.lock().unwrap().take() {
            *self.inside.lock().unwrap() += started.elapsed();
        }
        Ok(())
    }
}

impl SdkMeter {
    fn take_round_trips(&self) -> usize {
        self.round_trips.swap(0, Ordering::Relaxed)
    }

    fn take_time_inside(&self) -> Duration {
        std::mem::take(&mut *self.inside.lock().unwrap())
    }
}

struct Percentiles {
    p50: Duration,
    p99: Duration,
}

fn percentiles(mut samples: Vec<Duration>) -> Percentiles {
    samples.sort();
    let at = |q: usize| samples[(samples.len() * q / 100).min(samples.len() - 1)];
    Percentiles { p50: at(50), p99: at(99) }
}

fn us(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

/// The org grant the bench sends: the API doc's two permissions, to `target`.
fn org_event(target: &str) -> Event {
    Event::org(target)
        .token(demo::EDITOR_TOKEN)
        .json(&json!({ "permission_uuids": [demo::CATALOG[0].0, demo::CATALOG[1].0] }))
}

/// The admin grant the bench sends: the API doc's two permissions, to `target`.
fn admin_event(target: &str) -> Event {
    Event::admin().bearer(&demo::jwt_for(demo::ADMIN)).json(&json!({ "payload": {
        "userId": target, "permissions": ["compass.dashboard.*", "compass.dashboard.overview"] } }))
}

/// Org users that hold nothing yet, so that every grant to one of them adds something: a
/// repeated grant takes the no-op path (a second transaction), which is measured on its own.
fn fresh_org_user(series: char, index: usize) -> String {
    format!("{series}0000000-0000-4000-8000-{index:012}")
}

/// The admin endpoint's counterpart: ObjectIds, series a hex digit.
fn fresh_admin_user(series: char, index: usize) -> String {
    format!("{series}{index:023x}")
}

/// Users for `series` 0..count, in the demo organization (org) or as plain users (admin).
async fn seed_fresh_users(env: &TestEnv, org_endpoint: bool, series: char, count: usize) {
    for index in 0..count {
        if org_endpoint {
            env.put_user(&fresh_org_user(series, index), Some(demo::ORG), None, &[]).await;
        } else {
            env.put_user(&fresh_admin_user(series, index), None, Some("user"), &[]).await;
        }
    }
}

fn fresh_user(org_endpoint: bool, series: char, index: usize) -> String {
    if org_endpoint { fresh_org_user(series, index) } else { fresh_admin_user(series, index) }
}

/// What a warm request grants.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Grant {
    /// Something the target does not hold yet: the common case, one transaction.
    New,
    /// The same grant again: the target holds it all, so two transactions (the no-op path).
    Repeat,
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

/// The grant transaction, written out with the SDK: the baseline the handler is measured against.
/// As the grant does, the first attempt requires something new and room for all of it; when that
/// fails because everything is held, the no-op is sent again requiring all of it held.
async fn direct_transaction(
    client: &Client,
    tables: &OrgTables,
    checks: Vec<ConditionCheck>,
    update: UpdateBuilder,
    scope_condition: &str,
    permissions: &[&str],
) {
    let audit = Put::builder()
        .table_name(&tables.audit)
        .item("user_id", s("bench"))
        .item("event_id", s(&uuid::Uuid::now_v7().to_string()))
        .item("permissions", AttributeValue::Ss(permissions.iter().map(|p| (*p).to_owned()).collect()))
        .condition_expression("attribute_not_exists(event_id)")
        .build()
        .unwrap();
    let send = |update: Update| {
        let mut transaction = client.transact_write_items();
        for check in &checks {
            transaction =
                transaction.transact_items(TransactWriteItem::builder().condition_check(check.clone()).build());
        }
        transaction
            .transact_items(TransactWriteItem::builder().update(update).build())
            .transact_items(TransactWriteItem::builder().put(audit.clone()).build())
            .send()
    };
    let (first_condition, first) = new_and_room(permissions, update.clone());
    let first = first.condition_expression(format!("{scope_condition} AND {first_condition}")).build().unwrap();
    if send(first).await.is_ok() {
        return;
    }
    let mut all_held = update;
    let mut held = Vec::new();
    for (index, permission) in permissions.iter().enumerate() {
        held.push(format!("contains(#p, :h{index})"));
        all_held = all_held.expression_attribute_values(format!(":h{index}"), s(permission));
    }
    let all_held =
        all_held.condition_expression(format!("{scope_condition} AND {}", held.join(" AND "))).build().unwrap();
    send(all_held).await.unwrap();
}

/// The condition the first attempt of a grant puts on its target: something new, and room for all.
fn new_and_room(permissions: &[&str], update: UpdateBuilder) -> (String, UpdateBuilder) {
    let mut update = update
        .expression_attribute_values(":set_type", s("SS"))
        .expression_attribute_values(":room", AttributeValue::N((1000 - permissions.len()).to_string()));
    let mut held = Vec::new();
    for (index, permission) in permissions.iter().enumerate() {
        held.push(format!("contains(#p, :n{index})"));
        update = update.expression_attribute_values(format!(":n{index}"), s(permission));
    }
    let condition = format!(
        "NOT ({}) AND (attribute_not_exists(#p) OR (attribute_type(#p, :set_type) AND size(#p) <= :room))",
        held.join(" AND ")
    );
    (condition, update)
}

async fn direct_org(client: &Client, tables: &OrgTables, hash: &str, target: &str) {
    client.get_item().table_name(&tables.tokens).key("token_hash", s(hash)).consistent_read(true).send().await.unwrap();
    let caller = aws_sdk_dynamodb::types::KeysAndAttributes::builder()
        .keys(HashMap::from([("user_id".to_owned(), s(demo::EDITOR))]))
        .consistent_read(true)
        .build()
        .unwrap();
    let right = aws_sdk_dynamodb::types::KeysAndAttributes::builder()
        .keys(HashMap::from([("permission_uuid".to_owned(), s(demo::EDIT_ORG_USERS))]))
        .consistent_read(true)
        .build()
        .unwrap();
    client
        .batch_get_item()
        .request_items(&tables.users, caller)
        .request_items(&tables.permissions, right)
        .send()
        .await
        .unwrap();
    let permissions = [demo::CATALOG[0].0, demo::CATALOG[1].0];
    let key_check = ConditionCheck::builder()
        .table_name(&tables.tokens)
        .key("token_hash", s(hash))
        .condition_expression(
            "user_id = :caller AND (attribute_not_exists(expires_at) OR attribute_type(expires_at, :null_type) \
             OR expires_at > :now)",
        )
        .expression_attribute_values(":caller", s(demo::EDITOR))
        .expression_attribute_values(":null_type", s("NULL"))
        .expression_attribute_values(
            ":now",
            AttributeValue::N(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64().to_string()),
        )
        .build()
        .unwrap();
    let caller_check = ConditionCheck::builder()
        .table_name(&tables.users)
        .key("user_id", s(demo::EDITOR))
        .condition_expression(
            "attribute_exists(user_id) AND org_uuid = :org AND attribute_type(#p, :set_type) AND contains(#p, :right)",
        )
        .expression_attribute_names("#p", "permissions")
        .expression_attribute_values(":org", s(demo::ORG))
        .expression_attribute_values(":right", s(demo::EDIT_ORG_USERS))
        .expression_attribute_values(":set_type", s("SS"))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .build()
        .unwrap();
    let update = Update::builder()
        .table_name(&tables.users)
        .key("user_id", s(target))
        .update_expression("ADD #p :granted")
        .expression_attribute_names("#p", "permissions")
        .expression_attribute_values(
            ":granted",
            AttributeValue::Ss(permissions.iter().map(|p| (*p).to_owned()).collect()),
        )
        .expression_attribute_values(":org", s(demo::ORG))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
    let scope = "attribute_exists(user_id) AND org_uuid = :org";
    direct_transaction(client, tables, vec![key_check, caller_check], update, scope, &permissions).await;
}

async fn direct_admin(client: &Client, tables: &OrgTables, target: &str) {
    let permissions = ["compass.dashboard.*", "compass.dashboard.overview"];
    let check = ConditionCheck::builder()
        .table_name(&tables.users)
        .key("user_id", s(demo::ADMIN))
        .condition_expression("attribute_exists(user_id) AND #role = :admin")
        .expression_attribute_names("#role", "role")
        .expression_attribute_values(":admin", s("admin"))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .build()
        .unwrap();
    let update = Update::builder()
        .table_name(&tables.users)
        .key("user_id", s(target))
        .update_expression("ADD #p :granted")
        .expression_attribute_names("#p", "permissions")
        .expression_attribute_values(
            ":granted",
            AttributeValue::Ss(permissions.iter().map(|p| (*p).to_owned()).collect()),
        )
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
    direct_transaction(client, tables, vec![check], update, "attribute_exists(user_id)", &permissions).await;
}

struct WarmResult {
    handler: Percentiles,
    direct: Percentiles,
    /// Handler time outside its own SDK calls, per request.
    outside_sdk: Percentiles,
    round_trips_cold_cache: usize,
    round_trips_warm: usize,
}

/// Handler and direct SDK calls alternate, so drift in DynamoDB Local hits both alike.
async fn warm_latency(org_endpoint: bool, grant: Grant) -> WarmResult {
    let meter = SdkMeter::default();
    let client = Client::from_conf(support::client_config().interceptor(meter.clone()).build());
    let env = TestEnv::with_demo_data_over(client.clone()).await;
    let tables = env.org_tables();
    let hash = token_hash(demo::EDITOR_TOKEN);
    let rounds = WARMUP + SAMPLES + 2;
    if grant == Grant::New {
        seed_fresh_users(&env, org_endpoint, 'b', rounds).await;
        seed_fresh_users(&env, org_endpoint, 'd', rounds).await;
    }
    // Round `round`'s target through the handler (series 'b') or written out directly ('d').
    let target = |series: char, round: usize| match (grant, org_endpoint) {
        (Grant::New, _) => fresh_user(org_endpoint, series, round),
        (Grant::Repeat, true) => demo::TARGET.to_owned(),
        (Grant::Repeat, false) => demo::ADMIN_TARGET.to_owned(),
    };
    let request = |round: usize| -> Request {
        if org_endpoint {
            org_event(&target('b', round)).http_api()
        } else {
            admin_event(&target('b', round)).http_api()
        }
    };
    let (org, admin) = (env.frame::<support::OrgAdd>(), env.frame::<support::AdminAdd>());
    let call = |request: Request| async {
        let response = if org_endpoint { org.handle(request).await } else { admin.handle(request).await };
        assert_eq!(response.status(), 200, "{:?}", response.body());
    };

    meter.take_round_trips();
    call(request(rounds - 2)).await;
    let round_trips_cold_cache = meter.take_round_trips();
    call(request(rounds - 1)).await;
    let round_trips_warm = meter.take_round_trips();

    let mut handler = Vec::with_capacity(SAMPLES);
    let mut direct = Vec::with_capacity(SAMPLES);
    let mut outside_sdk = Vec::with_capacity(SAMPLES);
    for round in 0..WARMUP + SAMPLES {
        let prepared = request(round);
        let direct_call = || async {
            let started = Instant::now();
            if org_endpoint {
                direct_org(&client, &tables, &hash, &target('d', round)).await;
            } else {
                direct_admin(&client, &tables, &target('d', round)).await;
            }
            started.elapsed()
        };
        // Which goes first alternates, so neither pays for the other's after-effects.
        let direct_first = round % 2 == 1;
        let direct_time_first = if direct_first { Some(direct_call().await) } else { None };
        meter.take_time_inside();
        let started = Instant::now();
        call(prepared).await;
        let handler_time = started.elapsed();
        let sdk_time = meter.take_time_inside();
        let direct_time = match direct_time_first {
            Some(time) => time,
            None => direct_call().await,
        };
        if round >= WARMUP {
            handler.push(handler_time);
            direct.push(direct_time);
            outside_sdk.push(handler_time.saturating_sub(sdk_time));
        }
    }
    WarmResult {
        handler: percentiles(handler),
        direct: percentiles(direct),
        outside_sdk: percentiles(outside_sdk),
        round_trips_cold_cache,
        round_trips_warm,
    }
}

/// A stub of the Lambda Runtime API: hands out queued events, records when each is polled for
/// and when its response arrives.
#[derive(Default)]
struct RuntimeStub {
    /// Sent as each invocation's `Lambda-Runtime-Trace-Id`, as Lambda does with active tracing.
    trace_header: Option<&'static str>,
    events: Mutex<VecDeque<String>>,
    polls: Mutex<Vec<Instant>>,
    responses: Mutex<Vec<(Instant, u16)>>,
}

impl RuntimeStub {
    async fn answer(self: Arc<Self>, request: hyper::Request<hyper::body::Incoming>) -> hyper::Response<Full<Bytes>> {
        let path = request.uri().path().to_owned();
        if path.ends_with("/invocation/next") {
            self.polls.lock().unwrap().push(Instant::now());
            let next = self.events.lock().unwrap().pop_front();
            let Some(event) = next else {
                // No more work: hold the poll open until the process is stopped.
                return std::future::pending().await;
            };
            let count = self.polls.lock().unwrap().len();
            let deadline = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() + 60_000;
            let mut response = hyper::Response::builder();
            if let Some(trace) = self.trace_header {
                response = response.header("lambda-runtime-trace-id", trace);
            }
            return response
                .header("lambda-runtime-aws-request-id", format!("bench-{count}"))
                .header("lambda-runtime-deadline-ms", deadline.to_string())
                .header("lambda-runtime-invoked-function-arn", "arn:aws:lambda:us-east-1:123456789012:function:bench")
                .body(Full::new(Bytes::from(event)))
                .unwrap();
        }
        let body = request.into_body().collect().await.map(|body| body.to_bytes()).unwrap_or_default();
        let status = if path.ends_with("/response") {
            serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|response| response["statusCode"].as_u64())
                .unwrap_or(0) as u16
        } else {
            eprintln!("runtime error report at {path}: {}", String::from_utf8_lossy(&body));
            0
        };
        self.responses.lock().unwrap().push((Instant::now(), status));
        hyper::Response::builder().status(202).body(Full::new(Bytes::new())).unwrap()
    }

    async fn serve(self: Arc<Self>, listener: TcpListener) {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            let stub = self.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let stub = stub.clone();
                    async move { Ok::<_, Infallible>(stub.answer(request).await) }
                });
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
            });
        }
    }
}

struct ProcessRun {
    init: Duration,
    first: Duration,
    warm: Vec<Duration>,
    peak_rss_kib: u64,
}

/// Starts the binary against a fresh stub, feeds it `requests` events, and stops it.
async fn run_binary(
    binary: &str,
    env_vars: &HashMap<&str, String>,
    trace_header: Option<&'static str>,
    events: Vec<String>,
) -> ProcessRun {
    let requests = events.len();
    let stub = Arc::new(RuntimeStub { trace_header, ..RuntimeStub::default() });
    stub.events.lock().unwrap().extend(events);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let server = tokio::spawn(stub.clone().serve(listener));

    let started = Instant::now();
    let mut child = Command::new(binary)
        .env_clear()
        .envs(env_vars.iter().map(|(key, value)| (*key, value.as_str())))
        .env("AWS_LAMBDA_RUNTIME_API", &address)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the release binary starts");
    let deadline = Instant::now() + Duration::from_secs(120);
    while stub.responses.lock().unwrap().len() < requests {
        assert!(Instant::now() < deadline, "{binary} did not answer {requests} requests in time");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let peak_rss_kib = std::fs::read_to_string(format!("/proc/{}/status", child.id()))
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|line| line.starts_with("VmHWM:"))?.to_owned();
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0);
    child.kill().ok();
    child.wait().ok();
    server.abort();

    let polls = stub.polls.lock().unwrap().clone();
    let responses = stub.responses.lock().unwrap().clone();
    assert!(responses.iter().all(|(_, status)| *status == 200), "{binary}: not every response was a 200");
    let warm = (1..requests).map(|index| responses[index].0 - polls[index]).collect();
    ProcessRun { init: polls[0] - started, first: responses[0].0 - polls[0], warm, peak_rss_kib }
}

struct ColdResult {
    init: Percentiles,
    first: Percentiles,
    /// Exec to the first response, per start: what the first caller of a fresh instance waits
    /// for, however init and the first request share the work.
    init_and_first: Percentiles,
    warm: Percentiles,
    peak_rss_kib: u64,
}

/// How a binary reaches DynamoDB or Secrets Manager.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Transport {
    Http,
    /// Through [`aws_stubs::TlsProxy`]: the handshake, certificate checks and aws-lc's first
    /// randomness that every connection to AWS costs.
    Tls,
}

/// Where the admin binary gets its JWT key.
#[derive(Clone, Copy, PartialEq, Eq)]
enum KeySource {
    /// `JWT_SECRET`, the local-only variable: nothing to read at init.
    Configuration,
    /// `JWT_SECRET_ID`, as deployed: both versions read from Secrets Manager at init.
    SecretsManager(Transport),
}

/// One row of the cold-start table.
struct ColdCase {
    name: &'static str,
    binary: &'static str,
    org_endpoint: bool,
    traced: bool,
    dynamodb: Transport,
    key: KeySource,
}

/// The servers every cold start shares, besides DynamoDB Local itself.
struct ColdEndpoints {
    certificates: aws_stubs::Certificates,
    dynamodb_tls: aws_stubs::TlsProxy,
    secrets_http: aws_stubs::SecretsManagerStub,
    secrets_tls: aws_stubs::TlsProxy,
}

impl ColdEndpoints {
    async fn start() -> Self {
        let certificates = aws_stubs::Certificates::generate();
        let dynamodb_local = support::endpoint().trim_start_matches("http://").parse().unwrap();
        let dynamodb_tls = aws_stubs::TlsProxy::start(&certificates, dynamodb_local).await;
        let secrets_http = aws_stubs::SecretsManagerStub::start(demo::JWT_SECRET).await;
        let secrets_tls = aws_stubs::TlsProxy::start(&certificates, secrets_http.address).await;
        Self { certificates, dynamodb_tls, secrets_http, secrets_tls }
    }
}

/// A case ready to start: its own tables, seeded with fresh targets, and the binary's environment.
struct PreparedCase<'a> {
    case: &'a ColdCase,
    /// Holds the case's tables for as long as its runs use them.
    _env: TestEnv,
    env_vars: HashMap<&'static str, String>,
    trace_header: Option<&'static str>,
    next_target: usize,
    init: Vec<Duration>,
    first: Vec<Duration>,
    init_and_first: Vec<Duration>,
    warm: Vec<Duration>,
}

/// Processes started per case without being measured, before the measured ones: DynamoDB Local's
/// JIT and the page cache then serve the first measured start as they serve the last.
const UNMEASURED_STARTS: usize = 1;
const UNMEASURED_REQUESTS: usize = 100;

impl<'a> PreparedCase<'a> {
    /// With `traced`, every invocation is sampled and the X-Ray daemon is a local UDP socket that
    /// drains what it receives: the cost of a subsegment per DynamoDB call, at 100 % sampling.
    async fn new(case: &'a ColdCase, endpoints: &ColdEndpoints) -> Self {
        let env = TestEnv::with_demo_data().await;
        let tables = env.org_tables();
        let daemon = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let daemon_address = daemon.local_addr().unwrap().to_string();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 65_536];
            while daemon.recv(&mut buffer).is_ok() {}
        });
        let trace_header =
            case.traced.then_some("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1");
        let dynamodb_endpoint = match case.dynamodb {
            Transport::Http => support::endpoint().to_owned(),
            Transport::Tls => endpoints.dynamodb_tls.url.clone(),
        };
        let mut env_vars: HashMap<&'static str, String> = HashMap::from([
            ("PATH", std::env::var("PATH").unwrap_or_default()),
            ("AWS_LAMBDA_FUNCTION_NAME", "bench".into()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".into()),
            ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench".into()),
            ("AWS_LAMBDA_LOG_STREAM_NAME", "bench".into()),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID", "bench".into()),
            ("AWS_SECRET_ACCESS_KEY", "bench".into()),
            ("DYNAMODB_ENDPOINT", dynamodb_endpoint),
            ("USERS_TABLE", tables.users.clone()),
            ("TOKENS_TABLE", tables.tokens.clone()),
            ("PERMISSIONS_TABLE", tables.permissions.clone()),
            ("AUDIT_TABLE", tables.audit.clone()),
            ("IDEMPOTENCY_TABLE", tables.idempotency.clone()),
        ]);
        match case.key {
            KeySource::Configuration => {
                env_vars.insert("JWT_SECRET", demo::JWT_SECRET.into());
            }
            KeySource::SecretsManager(transport) => {
                env_vars.insert("JWT_SECRET_ID", "permissions-service/jwt-secret".into());
                let url = match transport {
                    Transport::Http => endpoints.secrets_http.url.clone(),
                    Transport::Tls => endpoints.secrets_tls.url.clone(),
                };
                env_vars.insert("AWS_ENDPOINT_URL_SECRETS_MANAGER", url);
            }
        }
        // Every case, HTTP ones too: the SDK parses the root store at init whatever the endpoint,
        // and a store this machine's without the variable (its bundle, then each file of
        // /etc/ssl/certs again) would take init twice as long to parse as Lambda's single bundle.
        env_vars.insert(aws_stubs::TRUST_VARIABLE, endpoints.certificates.trust_file.display().to_string());
        if case.traced {
            env_vars.insert("AWS_XRAY_DAEMON_ADDRESS", format!("tcp:{daemon_address} udp:{daemon_address}"));
        }
        // Every request grants something new (see `Grant`).
        let total = UNMEASURED_STARTS * UNMEASURED_REQUESTS + COLD_STARTS * 3 + RSS_REQUESTS;
        seed_fresh_users(&env, case.org_endpoint, 'c', total).await;
        Self {
            case,
            _env: env,
            env_vars,
            trace_header,
            next_target: 0,
            init: Vec::new(),
            first: Vec::new(),
            init_and_first: Vec::new(),
            warm: Vec::new(),
        }
    }

    /// Starts the binary for `requests` requests, each to a target not granted to before.
    async fn run(&mut self, requests: usize) -> ProcessRun {
        let org_endpoint = self.case.org_endpoint;
        let events = (self.next_target..self.next_target + requests)
            .map(|index| {
                let target = fresh_user(org_endpoint, 'c', index);
                let event = if org_endpoint { org_event(&target) } else { admin_event(&target) };
                event.http_api_json().to_string()
            })
            .collect();
        self.next_target += requests;
        run_binary(self.case.binary, &self.env_vars, self.trace_header, events).await
    }

    async fn measure_cold_start(&mut self) {
        let run = self.run(3).await;
        self.init.push(run.init);
        self.first.push(run.first);
        self.init_and_first.push(run.init + run.first);
        self.warm.extend(run.warm);
    }

    async fn finish(mut self) -> ColdResult {
        let long_run = self.run(RSS_REQUESTS).await;
        ColdResult {
            init: percentiles(self.init),
            first: percentiles(self.first),
            init_and_first: percentiles(self.init_and_first),
            warm: percentiles(self.warm),
            peak_rss_kib: long_run.peak_rss_kib,
        }
    }
}

struct Throughput {
    requests_per_second: f64,
    latency: Percentiles,
}

/// Reads one HTTP/1.1 response off a keep-alive connection; answers its status.
async fn read_response(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> u16 {
    buffer.clear();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .and_then(|value| value.trim().parse().ok())
                .unwrap_or(0);
            while buffer.len() < end + 4 + length {
                let read = stream.read(&mut chunk).await.unwrap();
                assert!(read > 0, "connection closed mid-response");
                buffer.extend_from_slice(&chunk[..read]);
            }
            return head.split(' ').nth(1).and_then(|status| status.parse().ok()).unwrap_or(0);
        }
        let read = stream.read(&mut chunk).await.unwrap();
        assert!(read > 0, "connection closed before a response");
        buffer.extend_from_slice(&chunk[..read]);
    }
}

async fn local_api_throughput(org_endpoint: bool) -> Throughput {
    let env = TestEnv::with_demo_data().await;
    let api = env.local_api();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let server = tokio::spawn(Arc::new(api).serve(listener, std::future::pending()));

    seed_fresh_users(&env, org_endpoint, 'e', THROUGHPUT_REQUESTS).await;
    // Request `index`, granting something new (see `Grant`).
    let host = address.clone();
    let request = Arc::new(move |index: usize| -> String {
        let (method, path, authorization, body) = if org_endpoint {
            (
                "PATCH",
                format!("/organizations/users/permissions/{}/", fresh_user(true, 'e', index)),
                format!("Token {}", demo::EDITOR_TOKEN),
                json!({ "permission_uuids": [demo::CATALOG[0].0] }).to_string(),
            )
        } else {
            (
                "PUT",
                "/user/add-permissions".to_owned(),
                format!("Bearer {}", demo::jwt_for(demo::ADMIN)),
                json!({ "payload": { "userId": fresh_user(false, 'e', index), "permissions": ["compass.users.*"] } })
                    .to_string(),
            )
        };
        format!(
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: {authorization}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    });
    let remaining = Arc::new(AtomicUsize::new(THROUGHPUT_REQUESTS));
    let started = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (request, address, remaining) = (request.clone(), address.clone(), remaining.clone());
            tokio::spawn(async move {
                let mut stream = TcpStream::connect(&address).await.unwrap();
                let mut buffer = Vec::new();
                let mut latencies = Vec::new();
                loop {
                    let left = remaining.fetch_sub(1, Ordering::Relaxed) as isize;
                    if left <= 0 {
                        break;
                    }
                    let request = request(left as usize - 1);
                    let sent = Instant::now();
                    stream.write_all(request.as_bytes()).await.unwrap();
                    assert_eq!(read_response(&mut stream, &mut buffer).await, 200);
                    latencies.push(sent.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for client in clients {
        latencies.extend(client.await.unwrap());
    }
    let elapsed = started.elapsed();
    server.abort();
    Throughput { requests_per_second: latencies.len() as f64 / elapsed.as_secs_f64(), latency: percentiles(latencies) }
}

fn size_mib(binary: &str) -> f64 {
    std::fs::metadata(binary).map(|meta| meta.len() as f64 / (1024.0 * 1024.0)).unwrap_or(f64::NAN)
}

/// Whether `BENCH_ONLY` (comma-separated section names) asks for `section`; unset, every one.
fn selected(section: &str) -> bool {
    match std::env::var("BENCH_ONLY") {
        Ok(only) => only.split(',').any(|name| name.trim() == section),
        Err(_) => true,
    }
}

async fn run() {
    let org_binary = env!("CARGO_BIN_EXE_org-user-permissions");
    let admin_binary = env!("CARGO_BIN_EXE_user-add-permissions");
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    println!("## Benchmark report\n");
    println!("Machine: {cores} cores, `{}`. DynamoDB Local (in memory) on loopback.\n", std::env::consts::ARCH);

    if selected("warm") {
        println!(
            "### Warm requests, in process ({SAMPLES} samples after {WARMUP} warm-up, interleaved, alternating which goes first)\n"
        );
        println!(
            "| endpoint | handler p50 | handler p99 | direct SDK p50 | direct SDK p99 | overhead p50 (handler - direct) | overhead / direct | handler time outside SDK calls, p50 / p99 | round trips (cold catalog / warm) |"
        );
        println!("|---|---|---|---|---|---|---|---|---|");
        for (name, org_endpoint, grant) in [
            ("org-user-permissions", true, Grant::New),
            ("user-add-permissions", false, Grant::New),
            ("org-user-permissions, all held (no-op)", true, Grant::Repeat),
            ("user-add-permissions, all held (no-op)", false, Grant::Repeat),
        ] {
            // On a current-thread runtime, as the Lambda binaries run: no cross-thread wake-ups.
            let result = tokio::task::spawn_blocking(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                runtime.block_on(warm_latency(org_endpoint, grant))
            })
            .await
            .unwrap();
            let overhead = us(result.handler.p50) - us(result.direct.p50);
            println!(
                "| {name} | {:.0} µs | {:.0} µs | {:.0} µs | {:.0} µs | {:.0} µs | {:.1} % | {:.0} / {:.0} µs | {} / {} |",
                us(result.handler.p50),
                us(result.handler.p99),
                us(result.direct.p50),
                us(result.direct.p99),
                overhead,
                100.0 * overhead / us(result.direct.p50),
                us(result.outside_sdk.p50),
                us(result.outside_sdk.p99),
                result.round_trips_cold_cache,
                result.round_trips_warm,
            );
        }
    }

    if selected("cold") {
        cold_start_report(org_binary, admin_binary).await;
    }

    if selected("throughput") {
        throughput_report().await;
    }
}

async fn cold_start_report(org_binary: &'static str, admin_binary: &'static str) {
    let endpoints = ColdEndpoints::start().await;
    println!("\n### Release binaries ({COLD_STARTS} cold starts each; peak RSS over {RSS_REQUESTS} requests)\n");
    println!(
        "| binary | DynamoDB | JWT key | X-Ray | size (stripped) | init: exec to first poll, p50 / p99 | first request p50 / p99 | init + first request p50 | later requests p50 | peak RSS |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let org = |dynamodb, traced| ColdCase {
        name: "org-user-permissions",
        binary: org_binary,
        org_endpoint: true,
        traced,
        dynamodb,
        key: KeySource::Configuration,
    };
    let admin = |dynamodb, key, traced| ColdCase {
        name: "user-add-permissions",
        binary: admin_binary,
        org_endpoint: false,
        traced,
        dynamodb,
        key,
    };
    let cases = [
        org(Transport::Http, false),
        org(Transport::Http, true),
        org(Transport::Tls, false),
        admin(Transport::Http, KeySource::Configuration, false),
        admin(Transport::Http, KeySource::Configuration, true),
        admin(Transport::Tls, KeySource::Configuration, false),
        admin(Transport::Http, KeySource::SecretsManager(Transport::Http), false),
        admin(Transport::Tls, KeySource::SecretsManager(Transport::Tls), false),
    ];
    let transport = |transport| match transport {
        Transport::Http => "HTTP",
        Transport::Tls => "TLS",
    };
    let mut prepared = Vec::new();
    for case in &cases {
        let mut case = PreparedCase::new(case, &endpoints).await;
        for _ in 0..UNMEASURED_STARTS {
            case.run(UNMEASURED_REQUESTS).await;
        }
        prepared.push(case);
    }
    // One start of every case per round, so that drift on this shared machine hits each alike,
    // and HTTP and TLS are compared start for start.
    for _ in 0..COLD_STARTS {
        for case in &mut prepared {
            case.measure_cold_start().await;
        }
    }
    let secrets_read = endpoints.secrets_http.answered();
    for prepared in prepared {
        let case = prepared.case;
        let result = prepared.finish().await;
        let key = match (case.org_endpoint, case.key) {
            (true, _) => "-".to_owned(),
            (false, KeySource::Configuration) => "`JWT_SECRET`".to_owned(),
            (false, KeySource::SecretsManager(over)) => format!("Secrets Manager, {}", transport(over)),
        };
        println!(
            "| {} | {} | {key} | {} | {:.2} MiB | {:.1} / {:.1} ms | {:.2} / {:.2} ms | {:.1} ms | {:.2} ms | {:.1} MiB |",
            case.name,
            transport(case.dynamodb),
            if case.traced { "sampled" } else { "off" },
            size_mib(case.binary),
            ms(result.init.p50),
            ms(result.init.p99),
            ms(result.first.p50),
            ms(result.first.p99),
            ms(result.init_and_first.p50),
            ms(result.warm.p50),
            result.peak_rss_kib as f64 / 1024.0,
        );
    }
    // Both versions at every init, and never again within these short runs (the RSS runs are
    // over by now and read nothing more than the others).
    let reading = cases.iter().filter(|case| matches!(case.key, KeySource::SecretsManager(_))).count();
    let inits = UNMEASURED_STARTS + COLD_STARTS;
    assert_eq!(secrets_read, 2 * reading * inits, "GetSecretValue calls before the RSS runs");
}

async fn throughput_report() {
    println!("\n### local-api, {CLIENTS} concurrent keep-alive clients, {THROUGHPUT_REQUESTS} requests\n");
    println!("| endpoint | requests/s | p50 | p99 |");
    println!("|---|---|---|---|");
    for (name, org_endpoint) in [("PATCH org-user-permissions", true), ("PUT user-add-permissions", false)] {
        let result = local_api_throughput(org_endpoint).await;
        println!(
            "| {name} | {:.0} | {:.1} ms | {:.1} ms |",
            result.requests_per_second,
            ms(result.latency.p50),
            ms(result.latency.p99)
        );
    }
}
