//! The service's cost per request, measured on this machine against DynamoDB Local:
//!
//!     cargo bench --features local --bench service
//!
//! 1. warm latency through each endpoint's frame, and the authorizer's entry path (on a
//!    current-thread runtime, as the Lambda binaries run), interleaved with a direct baseline:
//!    the same reads with the raw SDK client, and the store's own transaction items (`Changes::first_attempt`, and for a no-op
//!    `Changes::no_change_attempt`) sent with it. The difference is the handler's own overhead,
//!    and the interceptor also times each side outside its SDK calls. The cases are one table,
//!    `warm_cases`;
//! 2. DynamoDB round trips per successful request, counted by an SDK interceptor;
//! 3. cold start of each release binary: exec to its first poll of a stub Lambda Runtime API,
//!    then its first and later requests; and its peak RSS over 1000 requests. DynamoDB over plain
//!    HTTP (as DynamoDB Local serves it) and over TLS (through a TLS proxy in front of it, with a
//!    certificate made at start by the `openssl` CLI and trusted through `SSL_CERT_FILE`, as AWS
//!    is only reachable over TLS); the admin binary also with its JWT key read at init from a stub
//!    Secrets Manager, over HTTP and over TLS, and the authorizer so (its key from Secrets
//!    Manager, as deployed; each event an allowed decision). Every case's root store is that CA
//!    and the system's bundle, the size of Lambda's;
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
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::interceptors::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::{BoxError, DisplayErrorContext};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::KeysAndAttributes;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use lambda_http::Request;
use permissions_service::auth::api_token::token_hash;
use permissions_service::auth::jwt::JwtVerifier;
use permissions_service::authorizer::RoutePermissions;
use permissions_service::domain::{CompassPermission, Permission, PermissionSet, PermissionUuid};
use permissions_service::frame::Route;
use permissions_service::frame::routes::{ADMIN_ADD, ORG_ADD};
use permissions_service::lambda_entry::authorizer;
use permissions_service::local::api::LocalServer;
use permissions_service::local::demo;
use permissions_service::local::gateway::{GatewayRequest, ProtectedApi};
use permissions_service::org::OrgTables;
use permissions_service::store::audit::AUDIT_USER_ID;
use permissions_service::store::catalog::PERMISSION_UUID;
use permissions_service::store::change::{Action, CallerRight, Change, Changes};
use permissions_service::store::idempotency::Claim;
use permissions_service::store::tokens::TOKEN_HASH;
use permissions_service::store::users::USER_ID;
use permissions_service::telemetry::metrics::Activity;
use permissions_service::telemetry::metrics::Metrics;
use serde_json::json;
use support::{Event, TestEndpoint, TestEnv, s};
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

/// The permissions every org request of the bench names: the API doc's two.
const ORG_PERMISSIONS: [&str; 2] = [demo::CATALOG[0].0, demo::CATALOG[1].0];
/// The permissions every admin request of the bench names: the API doc's two.
const ADMIN_PERMISSIONS: [&str; 2] = ["compass.dashboard.*", "compass.dashboard.overview"];

/// An org API request on `route` for `target`: the demo editor's key, [`ORG_PERMISSIONS`].
fn org_request(route: &Route, target: &str) -> Event {
    Event::route(route, Some(target)).token(demo::EDITOR_TOKEN).json(&json!({ "permission_uuids": ORG_PERMISSIONS }))
}

/// An admin API request on `route` for `target`: the demo admin's JWT, [`ADMIN_PERMISSIONS`].
fn admin_request(route: &Route, target: &str) -> Event {
    Event::route(route, None)
        .bearer(&demo::jwt_for(demo::ADMIN))
        .json(&json!({ "payload": { "userId": target, "permissions": ADMIN_PERMISSIONS } }))
}

/// Users made for the bench, one per request, so that no request finds what an earlier one left
/// (every grant to one of them adds something). A series letter keeps apart the users of each
/// side and section.
struct FreshUsers {
    /// The id of user `index` of a series, in the form its API takes.
    id: fn(char, usize) -> String,
    org_uuid: Option<&'static str>,
    role: Option<&'static str>,
    /// What each holds when seeded.
    holding: &'static [&'static str],
}

impl FreshUsers {
    /// Users 0..count of `series`, written through the store's own record.
    async fn seed(&self, env: &TestEnv, series: char, count: usize) {
        for index in 0..count {
            env.put_user(&(self.id)(series, index), self.org_uuid, self.role, self.holding).await;
        }
    }
}

/// The org API's targets: users of the demo organization, holding nothing.
const ORG_USERS: FreshUsers = FreshUsers { id: fresh_org_user, org_uuid: Some(demo::ORG), role: None, holding: &[] };
/// The admin API's targets: plain users, holding nothing.
const ADMIN_USERS: FreshUsers = FreshUsers { id: fresh_admin_user, org_uuid: None, role: Some("user"), holding: &[] };

/// Targets of the removes: holding what each request removes.
const ORG_HOLDERS: FreshUsers =
    FreshUsers { id: fresh_org_user, org_uuid: Some(demo::ORG), role: None, holding: &ORG_PERMISSIONS };
const ADMIN_HOLDERS: FreshUsers =
    FreshUsers { id: fresh_admin_user, org_uuid: None, role: Some("user"), holding: &ADMIN_PERMISSIONS };

/// UUIDs, series a hex digit.
fn fresh_org_user(series: char, index: usize) -> String {
    format!("{series}0000000-0000-4000-8000-{index:012}")
}

/// ObjectIds, series a hex digit.
fn fresh_admin_user(series: char, index: usize) -> String {
    format!("{series}{index:023x}")
}

/// The cold-start and throughput sections' targets, by API.
fn fresh_users(org_endpoint: bool) -> &'static FreshUsers {
    if org_endpoint { &ORG_USERS } else { &ADMIN_USERS }
}

/// The series of the warm rounds' targets through the handler, and through the direct baseline.
const HANDLER: char = 'b';
const DIRECT: char = 'd';

/// Whom a warm case's requests are for.
enum Targets {
    /// A user of its own for every request, on each side, seeded before the rounds.
    Fresh(&'static FreshUsers),
    /// The demo's user, the same for every request: the warm-up rounds leave it in the state
    /// measured (after a grant it holds everything, so every measured grant is a no-op).
    Same(&'static str),
}

impl Targets {
    async fn seed(&self, env: &TestEnv, series: char, count: usize) {
        if let Targets::Fresh(users) = self {
            users.seed(env, series, count).await;
        }
    }

    /// Round `round`'s target on the side `series`.
    fn of(&self, series: char, round: usize) -> String {
        match self {
            Targets::Fresh(users) => (users.id)(series, round),
            Targets::Same(user) => (*user).to_owned(),
        }
    }
}

/// One row of the warm table: its name, whom its requests are for, how round N's request is
/// built (on the endpoint's route, for round N's target), and its direct SDK baseline. The
/// endpoint it drives is the type given to [`through`].
struct WarmCase {
    name: &'static str,
    targets: Targets,
    request: fn(&'static Route, &str) -> Event,
    direct: Baseline,
}

/// A baseline: the DynamoDB work of one request, sent with the raw SDK client.
type Baseline = for<'a> fn(&'a Direct, Round<'a>) -> Pin<Box<dyn Future<Output = ()> + 'a>>;

/// The warm table. A case for a new endpoint is one entry here, plus a baseline function when
/// none of those below does its DynamoDB work; a change endpoint's action comes from the
/// endpoint itself (`Endpoint::ACTIVITY`).
fn warm_cases() -> Vec<Box<dyn WarmRow>> {
    vec![
        through::<support::OrgAdd>(WarmCase {
            name: "org-user-permissions",
            targets: Targets::Fresh(&ORG_USERS),
            request: org_request,
            direct: org_change,
        }),
        through::<support::AdminAdd>(WarmCase {
            name: "user-add-permissions",
            targets: Targets::Fresh(&ADMIN_USERS),
            request: admin_request,
            direct: admin_change,
        }),
        through::<support::OrgAdd>(WarmCase {
            name: "org-user-permissions, all held (no-op)",
            targets: Targets::Same(demo::TARGET),
            request: org_request,
            direct: org_change,
        }),
        through::<support::AdminAdd>(WarmCase {
            name: "user-add-permissions, all held (no-op)",
            targets: Targets::Same(demo::ADMIN_TARGET),
            request: admin_request,
            direct: admin_change,
        }),
        through::<support::OrgAdd>(WarmCase {
            name: "org-user-permissions, with an Idempotency-Key",
            targets: Targets::Fresh(&ORG_USERS),
            request: org_request_keyed,
            direct: org_change_keyed,
        }),
        through::<support::AdminAdd>(WarmCase {
            name: "user-add-permissions, with an Idempotency-Key",
            targets: Targets::Fresh(&ADMIN_USERS),
            request: admin_request_keyed,
            direct: admin_change_keyed,
        }),
        through::<support::OrgRemove>(WarmCase {
            name: "org-user-permissions-remove",
            targets: Targets::Fresh(&ORG_HOLDERS),
            request: org_request,
            direct: org_change,
        }),
        through::<support::AdminRemove>(WarmCase {
            name: "user-remove-permissions",
            targets: Targets::Fresh(&ADMIN_HOLDERS),
            request: admin_request,
            direct: admin_change,
        }),
        through::<support::OrgList>(WarmCase {
            name: "org-user-permissions-list",
            targets: Targets::Fresh(&ORG_HOLDERS),
            request: |route, target| Event::route(route, Some(target)).token(demo::EDITOR_TOKEN),
            direct: org_list,
        }),
        through::<support::AdminList>(WarmCase {
            name: "user-list-permissions",
            targets: Targets::Fresh(&ADMIN_HOLDERS),
            request: |route, target| {
                Event::route(route, None).query(&format!("userId={target}")).bearer(&demo::jwt_for(demo::ADMIN))
            },
            direct: admin_list,
        }),
        through::<support::AdminHistory>(WarmCase {
            name: "user-permission-history",
            targets: Targets::Same(demo::ADMIN_TARGET),
            request: |route, target| {
                Event::route(route, None).query(&format!("userId={target}")).bearer(&demo::jwt_for(demo::ADMIN))
            },
            direct: admin_history,
        }),
        through::<support::AdminCheck>(WarmCase {
            name: "user-check-permissions, an admin checks another user",
            targets: Targets::Same(demo::ADMIN_TARGET),
            request: |route, target| {
                let payload = json!({ "userId": target, "permissions": CHECKED_PERMISSIONS });
                Event::route(route, None).bearer(&demo::jwt_for(demo::ADMIN)).json(&json!({ "payload": payload }))
            },
            direct: admin_list,
        }),
        through::<support::AdminCheck>(WarmCase {
            name: "user-check-permissions, a user checks itself",
            targets: Targets::Same(demo::ADMIN_TARGET),
            request: |route, target| {
                let payload = json!({ "permissions": CHECKED_PERMISSIONS });
                Event::route(route, None).bearer(&demo::jwt_for(target)).json(&json!({ "payload": payload }))
            },
            direct: get_target,
        }),
        Box::new(AuthorizerRow {
            name: "permissions-authorizer, allowed by a wildcard",
            user: demo::ADMIN_TARGET,
            method: "POST",
            path: "/users/invitations",
        }),
    ]
}

/// What the check rows ask about: one held through a wildcard, one held exactly, one not held.
const CHECKED_PERMISSIONS: [&str; 3] = ["compass.users.invite", "compass.users.*", "compass.dashboard.export"];

/// A self-check, written out: the caller's strongly consistent GetItem.
fn get_target<'a>(direct: &'a Direct, round: Round<'a>) -> Pin<Box<dyn Future<Output = ()> + 'a>> {
    Box::pin(async move {
        let (client, users) = (&direct.client, &direct.tables.users);
        client.get_item().table_name(users).key(USER_ID, s(round.target)).consistent_read(true).send().await.unwrap();
    })
}

/// The org add's request with an `Idempotency-Key` of its own: each round is a first request.
fn org_request_keyed(route: &Route, target: &str) -> Event {
    org_request(route, target).header("idempotency-key", &format!("bench-{target}"))
}

/// The admin add's request with an `Idempotency-Key` of its own.
fn admin_request_keyed(route: &Route, target: &str) -> Event {
    admin_request(route, target).header("idempotency-key", &format!("bench-{target}"))
}

/// A warm case with the endpoint it drives.
struct Through<E> {
    case: WarmCase,
    endpoint: PhantomData<fn() -> E>,
}

/// A warm case ready to measure, whatever its endpoint's type.
trait WarmRow: Send {
    fn name(&self) -> &'static str;
    fn measure(&self) -> Pin<Box<dyn Future<Output = WarmResult> + '_>>;
}

impl<E: TestEndpoint> WarmRow for Through<E> {
    fn name(&self) -> &'static str {
        self.case.name
    }

    fn measure(&self) -> Pin<Box<dyn Future<Output = WarmResult> + '_>> {
        Box::pin(warm_latency::<E>(&self.case))
    }
}

/// `case`, driving the endpoint `E` (built by `TestEnv::frame`, as its binary runs it).
fn through<E: TestEndpoint>(case: WarmCase) -> Box<dyn WarmRow> {
    Box::new(Through::<E> { case, endpoint: PhantomData })
}

/// One request of a baseline: what it asks, and the endpoint whose work it repeats.
#[derive(Clone, Copy)]
struct Round<'a> {
    target: &'a str,
    /// The request's id, which a change's audit record keeps.
    request_id: &'a str,
    /// The endpoint's binary, which a change's audit record names.
    endpoint: &'static str,
    activity: Activity,
}

impl Round<'_> {
    fn action(&self) -> Action {
        match self.activity {
            Activity::Change(action) => action,
            Activity::Read => panic!("{} only reads: a change's baseline does not fit it", self.endpoint),
        }
    }
}

/// What the baselines send with: the raw SDK client (the bench's meter, not the store's timing
/// interceptor), the tables, and the store's change transaction, of which only its items are
/// used, so that the baseline sends what production sends.
struct Direct {
    client: Client,
    tables: OrgTables,
    changes: Changes,
    /// The demo editor's key as stored: the org API hashes the key of every request.
    key_hash: String,
}

impl Direct {
    fn over(env: &TestEnv) -> Self {
        let tables = env.org_tables();
        let changes = Changes::new(env.client.clone(), tables.users.clone(), tables.audit.clone())
            .with_tokens(tables.tokens.clone())
            .with_idempotency(tables.idempotency.clone());
        Self { client: env.client.clone(), tables, changes, key_hash: token_hash(demo::EDITOR_TOKEN) }
    }

    /// The change's transaction as the store sends it for a request that succeeds: its first
    /// attempt and, when DynamoDB cancels that (here only ever because nothing would change), the
    /// audited no-op, each under an event id of its own, which is also its ClientRequestToken.
    async fn transact(&self, change: &Change<'_>) {
        let send = |items, event_id: &str| {
            self.client.transact_write_items().set_transact_items(Some(items)).client_request_token(event_id).send()
        };
        let event_id = uuid::Uuid::now_v7().to_string();
        let Err(error) = send(self.changes.first_attempt(change, &event_id).unwrap(), &event_id).await else {
            return;
        };
        assert!(
            matches!(error.as_service_error(), Some(TransactWriteItemsError::TransactionCanceledException(_))),
            "{}",
            DisplayErrorContext(&error)
        );
        let event_id = uuid::Uuid::now_v7().to_string();
        send(self.changes.no_change_attempt(change, &event_id).unwrap(), &event_id).await.unwrap();
    }
}

/// `permissions` as a request's parser leaves them.
fn permission_set<P: Permission>(permissions: &[&str], parse: fn(&str) -> Option<P>) -> PermissionSet {
    PermissionSet::new(permissions.iter().map(|permission| parse(permission).unwrap()).collect()).unwrap()
}

/// The org API's change, written out: warm, one BatchGetItem of the key, its caller (the process
/// knows whose the key is) and the right's catalog entry (the requested uuids are in the catalog
/// cache), then the store's transaction.
fn org_change<'a>(direct: &'a Direct, round: Round<'a>) -> Pin<Box<dyn Future<Output = ()> + 'a>> {
    Box::pin(org_change_with(direct, round, false))
}

/// The org change with an `Idempotency-Key` claim: one more item in the same transaction.
fn org_change_keyed<'a>(direct: &'a Direct, round: Round<'a>) -> Pin<Box<dyn Future<Output = ()> + 'a>> {
    Box::pin(org_change_with(direct, round, true))
}

async fn org_change_with(direct: &Direct, round: Round<'_>, keyed: bool) {
    let (client, tables) = (&direct.client, &direct.tables);
    client
        .batch_get_item()
        .request_items(&tables.tokens, read_keys(TOKEN_HASH, &[&direct.key_hash]))
        .request_items(&tables.users, read_keys(USER_ID, &[demo::EDITOR]))
        .request_items(&tables.permissions, read_keys(PERMISSION_UUID, &[demo::EDIT_ORG_USERS]))
        .send()
        .await
        .unwrap();
    let permissions = permission_set(&ORG_PERMISSIONS, PermissionUuid::parse);
    let body = || json!({ "user_uuid": round.target, "permission_uuids": permissions.as_slice() }).to_string();
    let claim = keyed.then(|| claim(demo::EDITOR, round, &permissions, body()));
    let change = Change {
        action: round.action(),
        caller_id: demo::EDITOR,
        caller_right: CallerRight::OrgEditor { org_uuid: demo::ORG, right_uuid: demo::EDIT_ORG_USERS },
        caller_key_hash: Some(&direct.key_hash),
        target_user_id: round.target,
        permissions: &permissions,
        endpoint: round.endpoint,
        request_id: round.request_id,
        idempotency: claim.as_ref(),
    };
    direct.transact(&change).await;
}

/// The admin API's change, written out: its JWT is verified without DynamoDB, so the store's
/// transaction is all of it.
fn admin_change<'a>(direct: &'a Direct, round: Round<'a>) -> Pin<Box<dyn Future<Output = ()> + 'a>> {
    Box::pin(admin_change_with(direct, round, false))
}

/// The admin change with an `Idempotency-Key` claim.
fn admin_change_keyed<'a>(direct: &'a Direct, round: Round<'a>) -> Pin<Box<dyn Future<Output = ()> + 'a>> {
    Box::pin(admin_change_with(direct, round, true))
}

async fn admin_change_with(direct: &Direct, round: Round<'_>, keyed: bool) {
    let permissions = permission_set(&ADMIN_PERMISSIONS, CompassPermission::parse);
    let body = || json!({ "message": "Successfully added permissions for this user.", "data": {} }).to_string();
    let claim = keyed.then(|| claim(demo::ADMIN, round, &permissions, body()));
    let change = Change {
        action: round.action(),
        caller_id: demo::ADMIN,
        caller_right: CallerRight::Admin,
        caller_key_hash: None,
        target_user_id: round.target,
        permissions: &permissions,
        endpoint: round.endpoint,
        request_id: round.request_id,
        idempotency: claim.as_ref(),
    };
    direct.transact(&change).await;
}

/// The claim the endpoint makes for the key its request carries (`bench-<target>`).
fn claim(caller: &str, round: Round<'_>, permissions: &PermissionSet, body: String) -> Claim {
    Claim::of_change(caller, &format!("bench-{}", round.target), round.endpoint, round.target, permissions, body)
}

/// Strongly consistent reads of `keys` by `key_name`, for one table of a BatchGetItem.
fn read_keys(key_name: &str, keys: &[&str]) -> KeysAndAttributes {
    let keys = keys.iter().map(|key| HashMap::from([(key_name.to_owned(), s(key))])).collect();
    KeysAndAttributes::builder().set_keys(Some(keys)).consistent_read(true).build().unwrap()
}

/// The org list, written out: warm, the key, the caller, the target and the right's catalog entry
/// in one BatchGetItem (the codenames come from the warm cache).
fn org_list<'a>(direct: &'a Direct, round: Round<'a>) -> Pin<Box<dyn Future<Output = ()> + 'a>> {
    Box::pin(async move {
        let (client, tables) = (&direct.client, &direct.tables);
        client
            .batch_get_item()
            .request_items(&tables.tokens, read_keys(TOKEN_HASH, &[&direct.key_hash]))
            .request_items(&tables.users, read_keys(USER_ID, &[demo::EDITOR, round.target]))
            .request_items(&tables.permissions, read_keys(PERMISSION_UUID, &[demo::EDIT_ORG_USERS]))
            .send()
            .await
            .unwrap();
    })
}

/// The admin list, written out: the caller and the target in one BatchGetItem.
fn admin_list<'a>(direct: &'a Direct, round: Round<'a>) -> Pin<Box<dyn Future<Output = ()> + 'a>> {
    Box::pin(async move {
        let users = read_keys(USER_ID, &[demo::ADMIN, round.target]);
        direct.client.batch_get_item().request_items(&direct.tables.users, users).send().await.unwrap();
    })
}

/// The history, written out: the caller and the target's BatchGetItem, then (the caller is an
/// admin, the target exists) the audit table's Query of a page and one more.
fn admin_history<'a>(direct: &'a Direct, round: Round<'a>) -> Pin<Box<dyn Future<Output = ()> + 'a>> {
    Box::pin(async move {
        let users = read_keys(USER_ID, &[demo::ADMIN, round.target]);
        direct.client.batch_get_item().request_items(&direct.tables.users, users).send().await.unwrap();
        direct
            .client
            .query()
            .table_name(&direct.tables.audit)
            .key_condition_expression("#user = :user")
            .expression_attribute_names("#user", AUDIT_USER_ID)
            .expression_attribute_values(":user", s(round.target))
            .scan_index_forward(false)
            .consistent_read(true)
            .limit(21)
            .send()
            .await
            .unwrap();
    })
}

struct WarmResult {
    handler: Percentiles,
    direct: Percentiles,
    /// Handler time outside its own SDK calls, per request.
    outside_sdk: Percentiles,
    /// The baseline's time outside its SDK calls: building its requests.
    direct_outside_sdk: Percentiles,
    round_trips_cold_cache: usize,
    round_trips_warm: usize,
}

/// Handler and direct SDK calls alternate, so drift in DynamoDB Local hits both alike.
async fn warm_latency<E: TestEndpoint>(case: &WarmCase) -> WarmResult {
    let meter = SdkMeter::default();
    let client = Client::from_conf(support::client_config().interceptor(meter.clone()).build());
    let env = TestEnv::with_demo_data_over(client.clone()).await;
    let rounds = WARMUP + SAMPLES + 2;
    case.targets.seed(&env, HANDLER, rounds).await;
    case.targets.seed(&env, DIRECT, rounds).await;
    let frame = env.frame::<E>();
    let direct = Direct::over(&env);
    let sides = Sides {
        handler_input: |round: usize| (case.request)(E::ROUTE, &case.targets.of(HANDLER, round)).http_api(),
        handler: async |request: Request| {
            let response = frame.handle(request).await;
            assert_eq!(response.status(), 200, "{}: {:?}", case.name, response.body());
        },
        // The direct side's round: its own target, and the id of the request it stands for.
        direct_input: |round: usize| {
            let target = case.targets.of(DIRECT, round);
            let request_id = (case.request)(E::ROUTE, &target).request_id;
            (target, request_id)
        },
        direct: async |(target, request_id): (String, String)| {
            let round =
                Round { target: &target, request_id: &request_id, endpoint: E::ROUTE.binary, activity: E::ACTIVITY };
            (case.direct)(&direct, round).await;
        },
    };
    interleaved(&meter, case.name, rounds, sides).await
}

/// The two sides of a warm row: each round's input, built before the clock starts, and the work
/// timed on it.
struct Sides<HI, H, DI, D> {
    handler_input: HI,
    handler: H,
    direct_input: DI,
    direct: D,
}

/// Round trips first (the next-to-last round on a cold cache, the last warm, and the baseline's,
/// which must match), then the samples, with which side goes first alternating, so neither pays
/// for the other's after-effects.
async fn interleaved<A, B, HI, H, DI, D>(
    meter: &SdkMeter,
    name: &str,
    rounds: usize,
    sides: Sides<HI, H, DI, D>,
) -> WarmResult
where
    HI: Fn(usize) -> A,
    H: AsyncFn(A),
    DI: Fn(usize) -> B,
    D: AsyncFn(B),
{
    meter.take_round_trips();
    (sides.handler)((sides.handler_input)(rounds - 2)).await;
    let round_trips_cold_cache = meter.take_round_trips();
    (sides.handler)((sides.handler_input)(rounds - 1)).await;
    let round_trips_warm = meter.take_round_trips();
    (sides.direct)((sides.direct_input)(rounds - 1)).await;
    let direct_round_trips = meter.take_round_trips();
    assert_eq!(direct_round_trips, round_trips_warm, "{name}: the baseline's round trips are the handler's");

    let mut handler = Vec::with_capacity(SAMPLES);
    let mut direct_times = Vec::with_capacity(SAMPLES);
    let mut outside_sdk = Vec::with_capacity(SAMPLES);
    let mut direct_outside_sdk = Vec::with_capacity(SAMPLES);
    for index in 0..WARMUP + SAMPLES {
        let prepared = (sides.handler_input)(index);
        let mut direct_input = Some((sides.direct_input)(index));
        let mut direct_call = async || {
            let input = direct_input.take().expect("one direct call per round");
            meter.take_time_inside();
            let started = Instant::now();
            (sides.direct)(input).await;
            let took = started.elapsed();
            (took, took.saturating_sub(meter.take_time_inside()))
        };
        let direct_first = index % 2 == 1;
        let direct_time_first = if direct_first { Some(direct_call().await) } else { None };
        meter.take_time_inside();
        let started = Instant::now();
        (sides.handler)(prepared).await;
        let handler_time = started.elapsed();
        let sdk_time = meter.take_time_inside();
        let (direct_time, direct_outside) = match direct_time_first {
            Some(times) => times,
            None => direct_call().await,
        };
        if index >= WARMUP {
            handler.push(handler_time);
            direct_times.push(direct_time);
            outside_sdk.push(handler_time.saturating_sub(sdk_time));
            direct_outside_sdk.push(direct_outside);
        }
    }
    WarmResult {
        handler: percentiles(handler),
        direct: percentiles(direct_times),
        outside_sdk: percentiles(outside_sdk),
        direct_outside_sdk: percentiles(direct_outside_sdk),
        round_trips_cold_cache,
        round_trips_warm,
    }
}

/// The authorizer's warm row: one allowed decision per round through its entry path (the
/// binary's `answer`), against the one strongly consistent GetItem it makes.
struct AuthorizerRow {
    name: &'static str,
    /// Whose token each request carries, and the route it asks for.
    user: &'static str,
    method: &'static str,
    path: &'static str,
}

impl WarmRow for AuthorizerRow {
    fn name(&self) -> &'static str {
        self.name
    }

    fn measure(&self) -> Pin<Box<dyn Future<Output = WarmResult> + '_>> {
        Box::pin(async move {
            let meter = SdkMeter::default();
            let client = Client::from_conf(support::client_config().interceptor(meter.clone()).build());
            let env = TestEnv::with_demo_data_over(client.clone()).await;
            let jwt = JwtVerifier::new(demo::JWT_SECRET.as_bytes(), None, None).unwrap();
            let authorizer = env.authorizer(demo::ROUTE_PERMISSIONS, jwt);
            let api = ProtectedApi::new(RoutePermissions::parse(demo::ROUTE_PERMISSIONS).unwrap().route_keys());
            let route_key = api.route_key(self.method, self.path).expect("a protected route");
            let headers = [("authorization".to_owned(), format!("Bearer {}", demo::jwt_for(self.user)))];
            let users = env.tables.users.clone();
            let sides = Sides {
                handler_input: |round: usize| {
                    let request_id = format!("bench-{round}");
                    let request = GatewayRequest::new(&route_key, self.method, self.path, &headers, &request_id);
                    let mut context = lambda_http::Context::default();
                    context.request_id = request_id.clone();
                    (request.authorizer_event(), context)
                },
                handler: async |(event, context): (serde_json::Value, lambda_http::Context)| {
                    let answer = authorizer::answer(&authorizer, &Metrics::Off, event, context).await.unwrap();
                    assert_eq!(answer["isAuthorized"], true, "{}: {answer}", self.name);
                },
                direct_input: |_round: usize| (),
                direct: async |()| {
                    let key = s(self.user);
                    client.get_item().table_name(&users).key(USER_ID, key).consistent_read(true).send().await.unwrap();
                },
            };
            interleaved(&meter, self.name, WARMUP + SAMPLES + 2, sides).await
        })
    }
}

async fn warm_report() {
    println!(
        "### Warm requests, in process ({SAMPLES} samples after {WARMUP} warm-up, interleaved, alternating which goes first)\n"
    );
    println!(
        "| endpoint | handler p50 | handler p99 | direct SDK p50 | direct SDK p99 | overhead p50 (handler - direct) | overhead / direct | handler time outside SDK calls, p50 / p99 | direct SDK time outside SDK calls, p50 / p99 | round trips (cold catalog / warm) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for row in warm_cases() {
        let name = row.name();
        // On a current-thread runtime, as the Lambda binaries run: no cross-thread wake-ups.
        let result = tokio::task::spawn_blocking(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(row.measure())
        })
        .await
        .unwrap();
        let overhead = us(result.handler.p50) - us(result.direct.p50);
        println!(
            "| {name} | {:.0} µs | {:.0} µs | {:.0} µs | {:.0} µs | {:.0} µs | {:.1} % | {:.0} / {:.0} µs | {:.0} / {:.0} µs | {} / {} |",
            us(result.handler.p50),
            us(result.handler.p99),
            us(result.direct.p50),
            us(result.direct.p99),
            overhead,
            100.0 * overhead / us(result.direct.p50),
            us(result.outside_sdk.p50),
            us(result.outside_sdk.p99),
            us(result.direct_outside_sdk.p50),
            us(result.direct_outside_sdk.p99),
            result.round_trips_cold_cache,
            result.round_trips_warm,
        );
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
            // An HTTP reply's status; an authorizer's allow reads as the 200 API Gateway lets through.
            serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|response| {
                    response["statusCode"].as_u64().or_else(|| (response["isAuthorized"] == true).then_some(200))
                })
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

/// What a cold case's binary answers, and so which events it is fed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ColdKind {
    /// The org add: each request grants to a fresh user.
    Org,
    /// The admin add: likewise.
    Admin,
    /// The authorizer: each event an allowed request of the example's protected API.
    Authorizer,
}

/// One row of the cold-start table.
struct ColdCase {
    name: &'static str,
    binary: &'static str,
    kind: ColdKind,
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
            ("ROUTE_PERMISSIONS", demo::ROUTE_PERMISSIONS.into()),
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
        // Every request grants something new (see `FreshUsers`).
        let total = UNMEASURED_STARTS * UNMEASURED_REQUESTS + COLD_STARTS * 3 + RSS_REQUESTS;
        fresh_users(case.kind == ColdKind::Org).seed(&env, 'c', total).await;
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
        let kind = self.case.kind;
        let events = (self.next_target..self.next_target + requests)
            .map(|index| {
                let target = (fresh_users(kind == ColdKind::Org).id)('c', index);
                let event = match kind {
                    ColdKind::Org => org_request(&ORG_ADD, &target),
                    ColdKind::Admin => admin_request(&ADMIN_ADD, &target),
                    ColdKind::Authorizer => return allowed_authorizer_event(index).to_string(),
                };
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

/// An authorizer event for the example's `POST /users/invitations`, with the token of the demo
/// user whose `compass.users.*` implies what it needs: an allowed decision.
fn allowed_authorizer_event(index: usize) -> serde_json::Value {
    let headers = [("authorization".to_owned(), format!("Bearer {}", demo::jwt_for(demo::ADMIN_TARGET)))];
    let request_id = format!("cold-{index}");
    let request = GatewayRequest::new("POST /users/invitations", "POST", "/users/invitations", &headers, &request_id);
    request.authorizer_event()
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

    fresh_users(org_endpoint).seed(&env, 'e', THROUGHPUT_REQUESTS).await;
    // Request `index`, granting something new (see `FreshUsers`).
    let host = address.clone();
    let request = Arc::new(move |index: usize| -> String {
        let (method, path, authorization, body) = if org_endpoint {
            (
                "PATCH",
                format!("/organizations/users/permissions/{}/", fresh_org_user('e', index)),
                format!("Token {}", demo::EDITOR_TOKEN),
                json!({ "permission_uuids": [demo::CATALOG[0].0] }).to_string(),
            )
        } else {
            (
                "PUT",
                "/user/add-permissions".to_owned(),
                format!("Bearer {}", demo::jwt_for(demo::ADMIN)),
                json!({ "payload": { "userId": fresh_admin_user('e', index), "permissions": ["compass.users.*"] } })
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
    let authorizer_binary = env!("CARGO_BIN_EXE_permissions-authorizer");
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    println!("## Benchmark report\n");
    println!("Machine: {cores} cores, `{}`. DynamoDB Local (in memory) on loopback.\n", std::env::consts::ARCH);

    if selected("warm") {
        warm_report().await;
    }

    if selected("cold") {
        cold_start_report(org_binary, admin_binary, authorizer_binary).await;
    }

    if selected("throughput") {
        throughput_report().await;
    }
}

async fn cold_start_report(org_binary: &'static str, admin_binary: &'static str, authorizer_binary: &'static str) {
    let endpoints = ColdEndpoints::start().await;
    println!("\n### Release binaries ({COLD_STARTS} cold starts each; peak RSS over {RSS_REQUESTS} requests)\n");
    println!(
        "| binary | DynamoDB | JWT key | X-Ray | size (stripped) | init: exec to first poll, p50 / p99 | first request p50 / p99 | init + first request p50 | later requests p50 | peak RSS |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let org = |dynamodb, traced| ColdCase {
        name: "org-user-permissions",
        binary: org_binary,
        kind: ColdKind::Org,
        traced,
        dynamodb,
        key: KeySource::Configuration,
    };
    let admin = |dynamodb, key, traced| ColdCase {
        name: "user-add-permissions",
        binary: admin_binary,
        kind: ColdKind::Admin,
        traced,
        dynamodb,
        key,
    };
    let authorizer = |dynamodb, key| ColdCase {
        name: "permissions-authorizer",
        binary: authorizer_binary,
        kind: ColdKind::Authorizer,
        traced: false,
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
        authorizer(Transport::Http, KeySource::SecretsManager(Transport::Http)),
        authorizer(Transport::Tls, KeySource::SecretsManager(Transport::Tls)),
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
        let key = match (case.kind, case.key) {
            (ColdKind::Org, _) => "-".to_owned(),
            (_, KeySource::Configuration) => "`JWT_SECRET`".to_owned(),
            (_, KeySource::SecretsManager(over)) => format!("Secrets Manager, {}", transport(over)),
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
