//! The rule DynamoDB Local lacks. Real DynamoDB cancels a `TransactWriteItems` with reason
//! `TransactionConflict` while another transaction in flight holds any of its items
//! (`ConditionCheck` items too), and refuses a `PutItem`, `UpdateItem` or `DeleteItem` on such an
//! item with `TransactionConflictException`. DynamoDB Local serialises transactions and does
//! neither, so concurrency passing on it alone proves nothing about contention in AWS.
//!
//! The emulator is an HTTP/1.1 proxy on a free local port in front of DynamoDB Local. Requests
//! and answers pass through unchanged, except that a transaction holds its items from the moment
//! it is accepted for `hold`, and at least until DynamoDB Local answered it (whatever the answer:
//! a transaction whose conditions fail was still in flight meanwhile). One that arrives meanwhile
//! with a held item is answered as DynamoDB answers it, without reaching DynamoDB Local.
//! Non-transactional reads are never blocked: in DynamoDB they do not conflict either.
//!
//! It also emulates what DynamoDB does with a transaction's `ClientRequestToken`, where DynamoDB
//! Local cannot show it: while the first request under a token is still in flight, another with
//! the same token is answered `TransactionInProgressException`; once it committed, another is
//! answered as that commit, at once, without holding or meeting any item (DynamoDB Local answers
//! it so itself, as DynamoDB does for 10 minutes; the emulator only keeps it from being held or
//! conflicting, as nothing of it runs again). A transaction runs its course whether or not its
//! client is still waiting for it, as in DynamoDB. And tests can make the next transaction slow
//! (still in flight when the SDK's attempt timeout resends it) or lose it on the way (it never
//! reaches DynamoDB, and the SDK resends it under the same token).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::{TransactWriteItemsError, TransactWriteItemsOutput};
use aws_sdk_dynamodb::types::{ConditionCheck, Put, TransactWriteItem, Update};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use permissions_service::auth::jwt::JwtVerifier;
use permissions_service::store::audit::{AUDIT_EVENT_ID, AUDIT_USER_ID};
use permissions_service::store::users::{PERMISSIONS, USER_ID};
use serde::Serialize;
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use permissions_service::store;

use crate::support::{self, JWT_SECRET, TestEnv, s, ss};

const TARGET_PREFIX: &str = "DynamoDB_20120810.";
const ERROR_NAMESPACE: &str = "com.amazonaws.dynamodb.v20120810#";
/// DynamoDB's own wording, in the cancellation reason of an item another transaction holds.
const ONGOING: &str = "Transaction is ongoing for the item";
/// DynamoDB's documentation of `TransactionInProgressException`.
const IN_PROGRESS: &str = "The transaction with the given request token is already in progress.";

/// What the emulator saw, for tests to assert on and measurements to print.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConflictCounts {
    /// Transactions that held their items and went on to DynamoDB Local.
    pub transactions_forwarded: u64,
    /// Transactions cancelled with `TransactionConflict` (every attempt of a retried one counts).
    pub transactions_cancelled: u64,
    /// For each item (table and key), how many cancelled transactions found it held.
    pub conflicts_by_item: BTreeMap<String, u64>,
    /// Single-item writes refused with `TransactionConflictException`.
    pub single_writes_refused: u64,
    /// How long DynamoDB Local took over all forwarded transactions: when its mean passes the
    /// hold, the items were held longer than configured.
    pub upstream_time: Duration,
    /// Transactions answered `TransactionInProgressException`: their token's first request was
    /// still in flight.
    pub in_progress_answered: u64,
    /// Transactions whose token had already committed, answered as that commit.
    pub replays_answered: u64,
    /// Transactions lost on the way ([`ConflictEmulator::lose_next_transaction`]).
    pub transactions_lost: u64,
}

/// What happens to the next transaction, once.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// It commits at once, but stays in flight (items, token, answer) for this long.
    Slow(Duration),
    /// It never reaches DynamoDB and is never answered.
    Lost,
}

pub struct ConflictEmulator {
    endpoint: String,
    state: Arc<State>,
    accept_loop: JoinHandle<()>,
}

impl Drop for ConflictEmulator {
    fn drop(&mut self) {
        self.accept_loop.abort();
    }
}

impl ConflictEmulator {
    /// Listens on a free port of 127.0.0.1, in front of the DynamoDB Local at `upstream`
    /// (`http://host:port`). Each transaction keeps its items for `hold` from its arrival.
    pub async fn start(upstream: &str, hold: Duration) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port for the conflict emulator");
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(State {
            upstream: upstream.strip_prefix("http://").unwrap_or(upstream).to_owned(),
            hold,
            // Key schemas come from DynamoDB Local itself, so a table created with any key (an
            // idempotency table, say) is emulated without telling the emulator about it.
            schema_reader: Client::from_conf(support::client_config().endpoint_url(upstream).build()),
            key_names: Mutex::default(),
            held: Mutex::default(),
            counts: Mutex::default(),
            lose_answers: std::sync::atomic::AtomicBool::new(false),
            next_fault: Mutex::default(),
            committed_tokens: Mutex::default(),
        });
        let accept_loop = tokio::spawn(accept(listener, state.clone()));
        Self { endpoint, state, accept_loop }
    }

    /// The URL to give the SDK instead of DynamoDB Local's.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// From now on, transactions commit but are never answered.
    pub fn lose_transaction_answers(&self) {
        self.state.lose_answers.store(true, Ordering::Relaxed);
    }

    /// The next transaction commits at once but stays in flight for `duration`: its items and
    /// token held, its answer kept back. Longer than the SDK's attempt timeout, the SDK resends
    /// it (same token) while it is still running, as a slow DynamoDB transaction would be.
    pub fn slow_down_next_transaction(&self, duration: Duration) {
        *self.state.next_fault.lock().unwrap() = Some(Fault::Slow(duration));
    }

    /// The next transaction is lost on the way: it never reaches DynamoDB (holds nothing,
    /// commits nothing) and is never answered, so the SDK resends it after its attempt timeout.
    pub fn lose_next_transaction(&self) {
        *self.state.next_fault.lock().unwrap() = Some(Fault::Lost);
    }

    pub fn counts(&self) -> ConflictCounts {
        self.state.counts.lock().unwrap().clone()
    }
}

impl TestEnv {
    /// Fresh tables, with both endpoints (and the test's own client) reaching DynamoDB Local
    /// through a conflict emulator that holds each transaction's items for `hold`.
    pub async fn behind_conflict_emulator(hold: Duration) -> (Self, ConflictEmulator) {
        Self::behind_emulator_with(support::client_config(), hold).await
    }

    /// [`TestEnv::behind_conflict_emulator`], with the SDK's timeouts and retries as a deployed
    /// function has them: an attempt that outlives its timeout is resent, under the same token.
    pub async fn behind_conflict_emulator_as_deployed(hold: Duration) -> (Self, ConflictEmulator) {
        let config =
            support::client_config().timeout_config(store::timeout_config()).retry_config(store::retry_config());
        Self::behind_emulator_with(config, hold).await
    }

    async fn behind_emulator_with(
        config: aws_sdk_dynamodb::config::Builder,
        hold: Duration,
    ) -> (Self, ConflictEmulator) {
        let emulator = ConflictEmulator::start(support::endpoint(), hold).await;
        let client = Client::from_conf(config.endpoint_url(emulator.endpoint()).build());
        let jwt = JwtVerifier::new(JWT_SECRET.as_bytes(), None, None).unwrap();
        (Self::with_client(client, jwt).await, emulator)
    }
}

struct State {
    /// DynamoDB Local's `host:port`.
    upstream: String,
    hold: Duration,
    schema_reader: Client,
    /// Table name to its key attribute names, learnt once per table.
    key_names: Mutex<HashMap<String, Vec<String>>>,
    /// The items of the transactions in flight.
    held: Mutex<HashSet<String>>,
    counts: Mutex<ConflictCounts>,
    /// Transactions still go to DynamoDB Local (and commit there), but their answers never come
    /// back: what a client sees when a connection drops after the commit.
    lose_answers: std::sync::atomic::AtomicBool,
    next_fault: Mutex<Option<Fault>>,
    /// The tokens of transactions that committed, and when: DynamoDB answers a request under one
    /// of them as that commit for 10 minutes.
    committed_tokens: Mutex<HashMap<String, Instant>>,
}

/// How long DynamoDB keeps a committed transaction's `ClientRequestToken`.
const TOKEN_WINDOW: Duration = Duration::from_secs(600);

/// Where an operation names its item: `Key`, or the key attributes within a whole `Item`.
#[derive(Debug, Clone, Copy)]
enum KeySource {
    Key,
    Item,
}

type Answer = Response<Full<Bytes>>;

async fn accept(listener: TcpListener, state: Arc<State>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let state = state.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| state.clone().answer(request));
            // A client that hangs up mid-request is its own business; DynamoDB Local never saw it.
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

impl State {
    async fn answer(self: Arc<Self>, request: Request<Incoming>) -> Result<Answer, Infallible> {
        let (parts, body) = request.into_parts();
        let body = match body.collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(error) => return Ok(emulator_failure(format!("reading the request body: {error}"))),
        };
        let operation = parts
            .headers
            .get("x-amz-target")
            .and_then(|target| target.to_str().ok())
            .and_then(|target| target.strip_prefix(TARGET_PREFIX))
            .unwrap_or_default()
            .to_owned();
        let request = Request::from_parts(parts, Full::new(body.clone()));
        let answer = match operation.as_str() {
            "TransactWriteItems" => {
                let answer = self.clone().transact(request, body).await;
                if self.lose_answers.load(Ordering::Relaxed) {
                    std::future::pending::<()>().await;
                }
                answer
            }
            "PutItem" => self.single_write(KeySource::Item, request, &body).await,
            "UpdateItem" | "DeleteItem" => self.single_write(KeySource::Key, request, &body).await,
            _ => self.forward(request).await,
        };
        Ok(answer.unwrap_or_else(emulator_failure))
    }

    async fn transact(self: Arc<Self>, request: Request<Full<Bytes>>, body: Bytes) -> Result<Answer, String> {
        // A body that is not a transaction as DynamoDB defines it gets DynamoDB Local's own
        // validation error, which is what DynamoDB would answer too.
        let parsed = serde_json::from_slice::<Value>(&body).unwrap_or_default();
        let Some(actions) = transact_actions(&parsed) else { return self.forward(request).await };
        // Held beside the items, under a name no item's identity can have (those start with a
        // table name, which cannot hold a space).
        let token = parsed.get("ClientRequestToken").and_then(Value::as_str).map(|token| format!("token {token}"));
        if token.as_ref().is_some_and(|token| self.held.lock().unwrap().contains(token)) {
            self.counts.lock().unwrap().in_progress_answered += 1;
            return Ok(dynamodb_error("TransactionInProgressException", IN_PROGRESS));
        }
        if token.as_ref().is_some_and(|token| self.committed(token)) {
            self.counts.lock().unwrap().replays_answered += 1;
            return self.forward(request).await;
        }
        let fault = self.next_fault.lock().unwrap().take();
        if let Some(Fault::Lost) = fault {
            self.counts.lock().unwrap().transactions_lost += 1;
            return std::future::pending().await;
        }
        let mut items = Vec::with_capacity(actions.len());
        for (source, operation) in actions {
            items.push(self.identity(source, operation).await);
        }
        let hold = {
            let mut held = self.held.lock().unwrap();
            if token.as_ref().is_some_and(|token| held.contains(token)) {
                drop(held);
                self.counts.lock().unwrap().in_progress_answered += 1;
                return Ok(dynamodb_error("TransactionInProgressException", IN_PROGRESS));
            }
            let conflicting: Vec<bool> =
                items.iter().map(|item| item.as_ref().is_some_and(|item| held.contains(item))).collect();
            if conflicting.contains(&true) {
                drop(held);
                self.count_cancellation(&items, &conflicting);
                return Ok(cancellation(&conflicting));
            }
            let mut mine: Vec<String> = items.into_iter().flatten().collect();
            mine.extend(token.clone());
            held.extend(mine.iter().cloned());
            Hold { state: self.clone(), items: mine }
        };
        // The hold stands for the transaction's time in AWS, so it runs from acceptance: on a busy
        // machine DynamoDB Local's own latency would otherwise add to it and overstate contention.
        let hold_for = match fault {
            Some(Fault::Slow(duration)) => duration,
            _ => self.hold,
        };
        let release_at = tokio::time::Instant::now() + hold_for;
        // Counted only once the items are held: a test that waits for this count knows they are.
        self.counts.lock().unwrap().transactions_forwarded += 1;
        // DynamoDB runs a transaction to its end even when its client stops waiting (an attempt
        // timeout): so its course does not depend on this connection.
        let state = self.clone();
        let course = tokio::spawn(async move {
            let forwarded_at = Instant::now();
            let answer = state.forward(request).await;
            state.counts.lock().unwrap().upstream_time += forwarded_at.elapsed();
            if let (Some(token), Ok(answer)) = (&token, &answer)
                && answer.status() == StatusCode::OK
            {
                state.committed_tokens.lock().unwrap().insert(token.clone(), Instant::now());
            }
            tokio::time::sleep_until(release_at).await;
            drop(hold);
            answer
        });
        course.await.map_err(|error| format!("the transaction's course failed: {error}"))?
    }

    fn committed(&self, token: &str) -> bool {
        let mut committed = self.committed_tokens.lock().unwrap();
        committed.retain(|_, at| at.elapsed() < TOKEN_WINDOW);
        committed.contains_key(token)
    }

    async fn single_write(
        &self,
        source: KeySource,
        request: Request<Full<Bytes>>,
        body: &Bytes,
    ) -> Result<Answer, String> {
        let identity = match serde_json::from_slice::<Value>(body) {
            Ok(operation) => self.identity(source, &operation).await,
            Err(_) => None,
        };
        if let Some(identity) = identity
            && self.held.lock().unwrap().contains(&identity)
        {
            self.counts.lock().unwrap().single_writes_refused += 1;
            return Ok(dynamodb_error("TransactionConflictException", ONGOING));
        }
        self.forward(request).await
    }

    /// The item an operation touches, as `table{key=value, ...}`; `None` when the operation does
    /// not name one DynamoDB Local would accept (it then answers the error itself).
    async fn identity(&self, source: KeySource, operation: &Value) -> Option<String> {
        let table = operation.get("TableName")?.as_str()?;
        let mut key: Vec<String> = match source {
            KeySource::Key => {
                operation.get("Key")?.as_object()?.iter().map(|(name, value)| format!("{name}={value}")).collect()
            }
            KeySource::Item => {
                let item = operation.get("Item")?.as_object()?;
                let names = self.key_names(table).await?;
                names.iter().map(|name| item.get(name).map(|value| format!("{name}={value}"))).collect::<Option<_>>()?
            }
        };
        key.sort();
        Some(format!("{table}{{{}}}", key.join(", ")))
    }

    async fn key_names(&self, table: &str) -> Option<Vec<String>> {
        if let Some(names) = self.key_names.lock().unwrap().get(table) {
            return Some(names.clone());
        }
        let described = self.schema_reader.describe_table().table_name(table).send().await.ok()?;
        let names: Vec<String> =
            described.table()?.key_schema().iter().map(|element| element.attribute_name().to_owned()).collect();
        self.key_names.lock().unwrap().insert(table.to_owned(), names.clone());
        Some(names)
    }

    fn count_cancellation(&self, items: &[Option<String>], conflicting: &[bool]) {
        let mut counts = self.counts.lock().unwrap();
        counts.transactions_cancelled += 1;
        for (item, conflicting) in items.iter().zip(conflicting) {
            if let (Some(item), true) = (item, conflicting) {
                *counts.conflicts_by_item.entry(item.clone()).or_default() += 1;
            }
        }
    }

    /// One connection per request: a TCP connect on loopback costs far less than the hold, and
    /// nothing has to notice that DynamoDB Local closed an idle pooled one.
    async fn forward(&self, request: Request<Full<Bytes>>) -> Result<Answer, String> {
        let stream = TcpStream::connect(&self.upstream)
            .await
            .map_err(|error| format!("connecting to DynamoDB Local at {}: {error}", self.upstream))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|error| format!("HTTP handshake with DynamoDB Local: {error}"))?;
        tokio::spawn(connection);
        let response =
            sender.send_request(request).await.map_err(|error| format!("forwarding to DynamoDB Local: {error}"))?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.map_err(|error| format!("reading DynamoDB Local's answer: {error}"))?;
        Ok(Response::from_parts(parts, Full::new(body.to_bytes())))
    }
}

/// Releases a transaction's items (and token) however its course ends.
struct Hold {
    state: Arc<State>,
    items: Vec<String>,
}

impl Drop for Hold {
    fn drop(&mut self) {
        let mut held = self.state.held.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for item in &self.items {
            held.remove(item);
        }
    }
}

/// Each entry of `TransactItems` in order, with where its item is named.
fn transact_actions(body: &Value) -> Option<Vec<(KeySource, &Value)>> {
    let entries = body.get("TransactItems")?.as_array()?;
    entries
        .iter()
        .map(|entry| {
            let (action, operation) = entry.as_object()?.iter().next()?;
            let source = match action.as_str() {
                "Put" => KeySource::Item,
                "ConditionCheck" | "Update" | "Delete" => KeySource::Key,
                _ => return None,
            };
            Some((source, operation))
        })
        .collect()
}

#[derive(Serialize)]
struct Cancellation {
    #[serde(rename = "__type")]
    error_type: String,
    #[serde(rename = "CancellationReasons")]
    reasons: Vec<Reason>,
    #[serde(rename = "Message")]
    message: String,
}

#[derive(Serialize)]
struct Reason {
    #[serde(rename = "Code")]
    code: &'static str,
    #[serde(rename = "Message", skip_serializing_if = "Option::is_none")]
    message: Option<&'static str>,
}

/// A `TransactionCanceledException` shaped like DynamoDB's: one reason per item, in order.
fn cancellation(conflicting: &[bool]) -> Answer {
    let reasons: Vec<Reason> = conflicting
        .iter()
        .map(|conflicting| match conflicting {
            true => Reason { code: "TransactionConflict", message: Some(ONGOING) },
            false => Reason { code: "None", message: None },
        })
        .collect();
    let codes: Vec<&str> = reasons.iter().map(|reason| reason.code).collect();
    let body = Cancellation {
        error_type: format!("{ERROR_NAMESPACE}TransactionCanceledException"),
        message: format!(
            "Transaction cancelled, please refer cancellation reasons for specific reasons [{}]",
            codes.join(", ")
        ),
        reasons,
    };
    json_answer(StatusCode::BAD_REQUEST, serde_json::to_vec(&body).unwrap())
}

fn dynamodb_error(code: &str, message: &str) -> Answer {
    let body = serde_json::json!({ "__type": format!("{ERROR_NAMESPACE}{code}"), "message": message });
    json_answer(StatusCode::BAD_REQUEST, body.to_string().into_bytes())
}

fn json_answer(status: StatusCode, body: Vec<u8>) -> Answer {
    static NEXT_REQUEST_ID: AtomicU64 = AtomicU64::new(0);
    Response::builder()
        .status(status)
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amzn-requestid", format!("conflict-emulator-{}", NEXT_REQUEST_ID.fetch_add(1, Ordering::Relaxed)))
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

/// A 502 the SDK will not mistake for anything DynamoDB says, so a broken emulator fails loudly.
fn emulator_failure(detail: String) -> Answer {
    Response::builder()
        .status(StatusCode::BAD_GATEWAY)
        .header("content-type", "text/plain")
        .body(Full::new(Bytes::from(format!("conflict emulator: {detail}"))))
        .unwrap()
}

// The emulator's own tests: hand-made transactions, one held in flight while others arrive. The
// hold is long so that "in flight" never depends on how busy the machine is.

const LONG_HOLD: Duration = Duration::from_millis(1000);
const HELD: &str = "0e000000-0000-4000-8000-000000000001";
const OTHER: &str = "0e000000-0000-4000-8000-000000000002";
const MISSING: &str = "0e000000-0000-4000-8000-000000000003";

fn exists(env: &TestEnv, user_id: &str) -> TransactWriteItem {
    condition(env, user_id, &format!("attribute_exists({USER_ID})"))
}

fn condition(env: &TestEnv, user_id: &str, expression: &str) -> TransactWriteItem {
    let check = ConditionCheck::builder()
        .table_name(&env.tables.users)
        .key(USER_ID, s(user_id))
        .condition_expression(expression)
        .build()
        .unwrap();
    TransactWriteItem::builder().condition_check(check).build()
}

fn add_permission(env: &TestEnv, user_id: &str, permission: &str) -> TransactWriteItem {
    let update = Update::builder()
        .table_name(&env.tables.users)
        .key(USER_ID, s(user_id))
        .update_expression("ADD #p :p")
        .expression_attribute_names("#p", PERMISSIONS)
        .expression_attribute_values(":p", ss(&[permission]))
        .build()
        .unwrap();
    TransactWriteItem::builder().update(update).build()
}

fn audit_put(env: &TestEnv, user_id: &str, event_id: &str) -> TransactWriteItem {
    let put = Put::builder()
        .table_name(&env.tables.audit)
        .item(AUDIT_USER_ID, s(user_id))
        .item(AUDIT_EVENT_ID, s(event_id))
        .item("note", s("hand-made"))
        .build()
        .unwrap();
    TransactWriteItem::builder().put(put).build()
}

type TransactResult = Result<
    TransactWriteItemsOutput,
    aws_sdk_dynamodb::error::SdkError<TransactWriteItemsError, aws_sdk_dynamodb::config::http::HttpResponse>,
>;

async fn transact(env: &TestEnv, items: Vec<TransactWriteItem>) -> TransactResult {
    env.client.transact_write_items().set_transact_items(Some(items)).send().await
}

/// Sends a transaction and returns once the emulator holds its items, with its answer to come.
async fn in_flight(
    env: &TestEnv,
    emulator: &ConflictEmulator,
    items: Vec<TransactWriteItem>,
) -> JoinHandle<TransactResult> {
    let forwarded = emulator.counts().transactions_forwarded;
    let task = tokio::spawn(env.client.transact_write_items().set_transact_items(Some(items)).send());
    let deadline = Instant::now() + Duration::from_secs(10);
    while emulator.counts().transactions_forwarded == forwarded {
        assert!(Instant::now() < deadline, "the emulator never took the transaction");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    task
}

/// The cancellation reason codes, as the SDK parsed them, and the exception's message.
fn cancellation_of(result: TransactResult) -> (Vec<String>, String) {
    let error = result.expect_err("a cancelled transaction");
    let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) = error.as_service_error() else {
        panic!("expected TransactionCanceledException, got {error:?}");
    };
    let codes = cancelled.cancellation_reasons().iter().map(|reason| reason.code().unwrap_or("").to_owned()).collect();
    (codes, cancelled.message().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn a_transaction_meeting_a_held_item_is_cancelled_with_transaction_conflict_at_that_items_index() {
    let (env, emulator) = TestEnv::behind_conflict_emulator(LONG_HOLD).await;
    env.put_user(HELD, None, None, &[]).await;
    env.put_user(OTHER, None, None, &[]).await;
    let holder = in_flight(&env, &emulator, vec![exists(&env, HELD)]).await;

    let result = transact(&env, vec![add_permission(&env, OTHER, "p"), exists(&env, HELD)]).await;
    let error = result.as_ref().err().and_then(|error| error.as_service_error());
    let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) = error else {
        panic!("expected TransactionCanceledException, got {result:?}");
    };
    let reasons = cancelled.cancellation_reasons();
    assert_eq!(reasons.len(), 2);
    assert_eq!((reasons[0].code(), reasons[0].message()), (Some("None"), None));
    assert_eq!((reasons[1].code(), reasons[1].message()), (Some("TransactionConflict"), Some(ONGOING)));
    assert_eq!(
        cancelled.message(),
        Some(
            "Transaction cancelled, please refer cancellation reasons for specific reasons [None, TransactionConflict]"
        )
    );

    holder.await.unwrap().expect("the holder commits");
    assert_eq!(env.permissions_of(OTHER).await, Some(vec![]), "a cancelled transaction must write nothing");
    let counts = emulator.counts();
    assert_eq!((counts.transactions_forwarded, counts.transactions_cancelled), (1, 1));
    let held_item = format!("{}{{user_id={{\"S\":\"{HELD}\"}}}}", env.tables.users);
    assert_eq!(counts.conflicts_by_item, BTreeMap::from([(held_item, 1)]));

    transact(&env, vec![add_permission(&env, OTHER, "p"), exists(&env, HELD)])
        .await
        .expect("released once the holder answered");
    assert_eq!(env.permissions_of(OTHER).await, Some(vec!["p".to_owned()]));
}

#[tokio::test]
async fn transactions_on_different_items_pass_side_by_side() {
    let (env, emulator) = TestEnv::behind_conflict_emulator(LONG_HOLD).await;
    env.put_user(HELD, None, None, &[]).await;
    env.put_user(OTHER, None, None, &[]).await;
    let holder = in_flight(&env, &emulator, vec![exists(&env, HELD)]).await;

    // Accepted (forwarded, not cancelled) while the first still holds its item: both in flight.
    let second = in_flight(&env, &emulator, vec![add_permission(&env, OTHER, "p")]).await;
    assert!(!holder.is_finished(), "the second transaction must have been taken while the first was in flight");
    second.await.unwrap().expect("no item in common with the holder");
    holder.await.unwrap().expect("the holder commits");
    assert_eq!(env.permissions_of(OTHER).await, Some(vec!["p".to_owned()]));
    assert_eq!(emulator.counts().transactions_cancelled, 0);
}

#[tokio::test]
async fn a_transaction_dynamodb_local_cancels_still_holds_its_items_until_it_answers() {
    let (env, emulator) = TestEnv::behind_conflict_emulator(LONG_HOLD).await;
    let holder = in_flight(&env, &emulator, vec![exists(&env, MISSING)]).await;

    let (codes, _) =
        cancellation_of(transact(&env, vec![condition(&env, MISSING, "attribute_not_exists(user_id)")]).await);
    assert_eq!(codes, ["TransactionConflict"]);
    let (codes, _) = cancellation_of(holder.await.unwrap());
    assert_eq!(codes, ["ConditionalCheckFailed"], "DynamoDB Local's own cancellation passes through");
}

#[tokio::test]
async fn a_put_holds_the_item_its_table_key_names_and_no_other() {
    let (env, emulator) = TestEnv::behind_conflict_emulator(LONG_HOLD).await;
    let holder = in_flight(&env, &emulator, vec![audit_put(&env, HELD, "event-1")]).await;

    let same_key = ConditionCheck::builder()
        .table_name(&env.tables.audit)
        .key("user_id", s(HELD))
        .key("event_id", s("event-1"))
        .condition_expression("attribute_not_exists(event_id)")
        .build()
        .unwrap();
    let (codes, _) =
        cancellation_of(transact(&env, vec![TransactWriteItem::builder().condition_check(same_key).build()]).await);
    assert_eq!(codes, ["TransactionConflict"]);
    transact(&env, vec![audit_put(&env, HELD, "event-2")]).await.expect("another sort key is another item");
    holder.await.unwrap().expect("the holder commits");
}

#[tokio::test]
async fn single_item_writes_on_a_held_item_are_refused_and_reads_never_wait() {
    let (env, emulator) = TestEnv::behind_conflict_emulator(LONG_HOLD).await;
    env.put_user(HELD, None, None, &["p"]).await;
    let holder = in_flight(&env, &emulator, vec![exists(&env, HELD)]).await;

    let update = env
        .client
        .update_item()
        .table_name(&env.tables.users)
        .key("user_id", s(HELD))
        .update_expression("ADD #p :p")
        .expression_attribute_names("#p", "permissions")
        .expression_attribute_values(":p", ss(&["q"]))
        .send()
        .await;
    assert!(
        update.as_ref().is_err_and(|error| error
            .as_service_error()
            .is_some_and(|error| error.is_transaction_conflict_exception())),
        "{update:?}"
    );
    let put = env.client.put_item().table_name(&env.tables.users).item("user_id", s(HELD)).send().await;
    assert!(
        put.as_ref().is_err_and(|error| error
            .as_service_error()
            .is_some_and(|error| error.is_transaction_conflict_exception())),
        "{put:?}"
    );
    let delete = env.client.delete_item().table_name(&env.tables.users).key("user_id", s(HELD)).send().await;
    assert!(
        delete.as_ref().is_err_and(|error| error
            .as_service_error()
            .is_some_and(|error| error.is_transaction_conflict_exception())),
        "{delete:?}"
    );

    assert_eq!(env.permissions_of(HELD).await, Some(vec!["p".to_owned()]), "a GetItem passes and nothing was written");
    assert_eq!(env.snapshot().await.len(), 1, "a Scan passes");
    assert!(!holder.is_finished(), "the reads must have passed while the item was held");
    holder.await.unwrap().expect("the holder commits");
    assert_eq!(emulator.counts().single_writes_refused, 3);
}

/// A transaction that writes: `permission` added to `user_id`, with an audit record that may
/// not exist yet, so that applying it twice would be refused.
fn grant_once(env: &TestEnv, user_id: &str, permission: &str, event_id: &str) -> Vec<TransactWriteItem> {
    let put = Put::builder()
        .table_name(&env.tables.audit)
        .item(AUDIT_USER_ID, s(user_id))
        .item(AUDIT_EVENT_ID, s(event_id))
        .condition_expression(format!("attribute_not_exists({AUDIT_EVENT_ID})"))
        .build()
        .unwrap();
    vec![add_permission(env, user_id, permission), TransactWriteItem::builder().put(put).build()]
}

#[tokio::test]
async fn a_token_in_flight_is_in_progress_and_once_committed_is_answered_as_its_commit() {
    let (env, emulator) = TestEnv::behind_conflict_emulator(LONG_HOLD).await;
    env.put_user(HELD, None, None, &[]).await;
    let items = grant_once(&env, HELD, "p", "event-1");
    // The SDK retries TransactionInProgressException itself (as throttling): not this client.
    let config = support::client_config().endpoint_url(emulator.endpoint());
    let client =
        Client::from_conf(config.retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled()).build());
    let send = |items: Vec<TransactWriteItem>| {
        client.transact_write_items().set_transact_items(Some(items)).client_request_token("token-1").send()
    };
    let forwarded = emulator.counts().transactions_forwarded;
    let first = tokio::spawn(send(items.clone()));
    while emulator.counts().transactions_forwarded == forwarded {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }

    let again = send(items.clone()).await;
    let error = again.as_ref().err().and_then(|error| error.as_service_error());
    assert!(
        matches!(error, Some(TransactWriteItemsError::TransactionInProgressException(_))),
        "a resend while the first runs: {again:?}"
    );
    assert!(!first.is_finished(), "the resend must have met the first still in flight");
    first.await.unwrap().expect("the first commits");

    // Answered as the commit: not applied again (the audit Put's condition would refuse it).
    send(items).await.expect("a resend of a committed transaction is answered as its commit");
    assert_eq!(env.audit_count().await, 1);
    let counts = emulator.counts();
    assert_eq!((counts.transactions_forwarded, counts.in_progress_answered, counts.replays_answered), (1, 1, 1));
    // Another transaction under another token on the same item is not held up by the replay.
    transact(&env, vec![add_permission(&env, HELD, "q")]).await.expect("nothing holds the item");
}

#[tokio::test]
async fn a_slow_transaction_commits_at_once_and_answers_late_whether_or_not_its_client_waits() {
    let (env, emulator) = TestEnv::behind_conflict_emulator(Duration::from_millis(1)).await;
    env.put_user(HELD, None, None, &[]).await;
    emulator.slow_down_next_transaction(LONG_HOLD);
    let started = Instant::now();
    let items = grant_once(&env, HELD, "p", "event-1");
    // The client gives up early, as the SDK's attempt timeout does: the transaction goes on.
    let gave_up = tokio::time::timeout(Duration::from_millis(200), transact(&env, items.clone())).await;
    assert!(gave_up.is_err(), "answered before its time: {gave_up:?}");
    assert_eq!(env.permissions_of(HELD).await, Some(vec!["p".to_owned()]), "it committed at once");
    let (codes, _) = cancellation_of(transact(&env, vec![add_permission(&env, HELD, "q")]).await);
    assert_eq!(codes, ["TransactionConflict"], "its items stay held");
    while started.elapsed() < LONG_HOLD + Duration::from_millis(100) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    transact(&env, vec![add_permission(&env, HELD, "q")]).await.expect("released after its time");
}

#[tokio::test]
async fn a_lost_transaction_never_reaches_dynamodb_and_the_next_one_passes() {
    let (env, emulator) = TestEnv::behind_conflict_emulator(Duration::from_millis(1)).await;
    env.put_user(HELD, None, None, &[]).await;
    emulator.lose_next_transaction();
    let lost =
        tokio::time::timeout(Duration::from_millis(300), transact(&env, grant_once(&env, HELD, "p", "e-1"))).await;
    assert!(lost.is_err(), "a lost transaction was answered: {lost:?}");
    assert_eq!(env.permissions_of(HELD).await, Some(vec![]), "a lost transaction committed");
    assert_eq!(env.audit_count().await, 0);
    transact(&env, grant_once(&env, HELD, "p", "e-1")).await.expect("the next passes, holding nothing of the lost one");
    let counts = emulator.counts();
    assert_eq!((counts.transactions_lost, counts.transactions_forwarded), (1, 1));
}
