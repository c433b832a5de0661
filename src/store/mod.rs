//! DynamoDB access: one small store per table concern, sharing one SDK client, and the records
//! each table holds. Nothing outside this module spells an attribute name: the demo data, the
//! tests and the benchmark write through the same records the endpoints read.
//!
//! Every read that authorizes is strongly consistent; a change to a user's permissions is one
//! transaction (see [`change`]). Every call is timed and traced by [`timing`].

pub mod audit;
pub mod catalog;
pub mod change;
pub mod idempotency;
pub mod timing;
pub mod tokens;
pub mod users;

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};

use crate::config::{ConfigError, optional};

/// Deadlines for every DynamoDB call. The whole request has its own budget too (`deadline`).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(5);

/// The SDK's own retries (throttling, 5xx, dropped connections): three attempts, as the SDK
/// default, but backing off from 50 ms rather than 1 s, because a caller is waiting on every
/// request and the whole of it has to fit the Lambda deadline.
pub fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(Duration::from_millis(50))
        .with_max_backoff(Duration::from_secs(1))
}

/// Builds the one client a function uses for its lifetime. `DYNAMODB_ENDPOINT`, when set, points
/// it at a local server; otherwise the SDK's normal region and endpoint resolution applies.
pub async fn client_from_env(lookup: &impl Fn(&str) -> Option<String>) -> Result<Client, ConfigError> {
    let endpoint = dynamodb_endpoint(lookup)?;
    Ok(dynamodb_client(&sdk_config().await, endpoint))
}

/// `DYNAMODB_ENDPOINT`, checked before anything slower so a typo fails init at once.
pub fn dynamodb_endpoint(lookup: &impl Fn(&str) -> Option<String>) -> Result<Option<String>, ConfigError> {
    let endpoint = optional(lookup, "DYNAMODB_ENDPOINT");
    if let Some(url) = &endpoint
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        return Err(ConfigError {
            variable: "DYNAMODB_ENDPOINT",
            problem: "must be an http:// or https:// URL".into(),
        });
    }
    Ok(endpoint)
}

/// What every AWS client of a function shares: region and credentials, resolved once, and the
/// deadlines and retries a waiting caller needs.
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeout_config())
        .retry_config(retry_config())
        .load()
        .await
}

/// The deadlines above, as the SDK takes them. An attempt past [`ATTEMPT_TIMEOUT`] is resent by
/// the SDK under the same `ClientRequestToken`, which a transaction's handling relies on
/// (`change`).
pub fn timeout_config() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build()
}

/// The DynamoDB client over `sdk`, at `endpoint` when one is given. The endpoint is DynamoDB's
/// alone: other clients built from `sdk` keep their own.
pub fn dynamodb_client(sdk: &aws_config::SdkConfig, endpoint: Option<String>) -> Client {
    let mut config = aws_sdk_dynamodb::config::Builder::from(sdk);
    if let Some(url) = endpoint {
        config = config.endpoint_url(url);
    }
    Client::from_conf(config.build())
}

/// How long init waits for [`warm_connection`]. A healthy connection to DynamoDB, TLS included,
/// opens in tens of milliseconds; an endpoint out of reach must not hold init for the SDK's whole
/// operation timeout ([`OPERATION_TIMEOUT`]) with its retries.
pub const WARM_UP_TIMEOUT: Duration = Duration::from_secs(2);

/// The key [`warm_connection`] reads: no item can have it, since token hashes are hex SHA-256
/// digests and user ids are ObjectIds or UUIDs.
pub const WARM_UP_KEY: &str = "init-connection-warmup";

/// Opens the client's connection to DynamoDB during init, so that what a process pays for its
/// first connection (resolving the endpoint, the TLS handshake and its certificate checks,
/// aws-lc seeding its random generator) is paid there rather than by the first caller. (The root
/// store is parsed earlier, when the SDK builds its HTTPS client.) In Lambda that work is also
/// cheaper at init, which AWS's serverless guides describe as running on a full vCPU for
/// on-demand functions, than in a 128 MB invocation's share of one; and an environment
/// initialised ahead of its first invocation (provisioned concurrency, or Lambda's own
/// pre-initialisation) hides it from callers entirely. The connection stays in the client's pool
/// for the first request.
///
/// The SDK opens connections only to send a request, so this is one eventually consistent
/// GetItem of [`WARM_UP_KEY`] on a table the function's IAM policy already lets it read
/// (`key_name` is its partition key): half a read request unit per cold start. Its outcome is
/// only logged: a function whose DynamoDB is out of reach still starts, and its first request
/// connects as before.
pub async fn warm_connection(client: &Client, table: &str, key_name: &str) {
    let read = client.get_item().table_name(table).key(key_name, string_attribute(WARM_UP_KEY)).send();
    match tokio::time::timeout(WARM_UP_TIMEOUT, read).await {
        Ok(Ok(_)) => tracing::debug!(table, "DynamoDB connection opened at init"),
        Ok(Err(error)) => {
            tracing::warn!(table, error = %DisplayErrorContext(&error), "DynamoDB connection not opened at init")
        }
        Err(_) => tracing::warn!(
            table,
            timeout_ms = WARM_UP_TIMEOUT.as_millis() as u64,
            "DynamoDB connection not opened at init: no answer in time"
        ),
    }
}

/// A DynamoDB call that failed for a reason the caller cannot fix: a 500, or a 503 when DynamoDB
/// is throttling (the caller can usefully retry later).
#[derive(Debug)]
pub struct StoreError {
    operation: &'static str,
    detail: String,
    throttled: bool,
}

/// Codes DynamoDB throttles with: as an operation's error (which the SDK has already retried
/// with its own backoff by the time one reaches us), or as a transaction's cancellation reason.
const THROTTLING_CODES: [&str; 5] = [
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "ThrottlingError",
    "ProvisionedThroughputExceeded",
];

impl StoreError {
    pub(crate) fn new(operation: &'static str, detail: impl Into<String>) -> Self {
        Self { operation, detail: detail.into(), throttled: false }
    }

    /// DynamoDB still throttling after every retry we and the SDK allow.
    pub(crate) fn throttled(operation: &'static str, detail: impl Into<String>) -> Self {
        Self { operation, detail: detail.into(), throttled: true }
    }

    /// Keeps the SDK's full error chain (service code, message, request id) for the log line.
    pub(crate) fn sdk<E, R>(operation: &'static str, error: &SdkError<E, R>) -> Self
    where
        E: std::error::Error + ProvideErrorMetadata + 'static,
        R: fmt::Debug + 'static,
    {
        let throttled = error.code().is_some_and(is_throttling_code);
        Self { operation, detail: DisplayErrorContext(error).to_string(), throttled }
    }

    /// A request the SDK refused to build: a bug of ours, never the caller's.
    pub(crate) fn build(operation: &'static str, error: &aws_sdk_dynamodb::error::BuildError) -> Self {
        Self::new(operation, DisplayErrorContext(error).to_string())
    }

    pub fn is_throttling(&self) -> bool {
        self.throttled
    }
}

pub(crate) fn is_throttling_code(code: &str) -> bool {
    THROTTLING_CODES.contains(&code)
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DynamoDB {} failed: {}", self.operation, self.detail)
    }
}

impl std::error::Error for StoreError {}

/// A strongly consistent `GetItem` of the item whose string key `key_name` is `key`; `label`
/// names the call in errors.
pub(crate) async fn get_item(
    client: &Client,
    table: &str,
    key_name: &str,
    key: &str,
    label: &'static str,
) -> Result<Option<HashMap<String, AttributeValue>>, StoreError> {
    let request = client.get_item().table_name(table).key(key_name, string_attribute(key)).consistent_read(true);
    let output = request.send().await.map_err(|error| StoreError::sdk(label, &error))?;
    Ok(output.item)
}

/// Keys to read from one table in a [`batch_get`], all by the same string key attribute.
pub(crate) struct TableKeys<'a> {
    pub table: &'a str,
    pub key_name: &'static str,
    pub keys: Vec<&'a str>,
}

/// One strongly consistent `BatchGetItem` over several tables (at most 100 keys in all), with
/// the keys DynamoDB leaves unprocessed (it does so under throttling) fetched again. Answers the
/// items found, per table; a key without an item is simply absent.
pub(crate) async fn batch_get(
    client: &Client,
    reads: &[TableKeys<'_>],
    label: &'static str,
) -> Result<HashMap<String, Vec<HashMap<String, AttributeValue>>>, StoreError> {
    let mut request_items = HashMap::new();
    for read in reads.iter().filter(|read| !read.keys.is_empty()) {
        let keys = read.keys.iter().map(|key| HashMap::from([(read.key_name.to_owned(), string_attribute(key))]));
        let keys_and_attributes = KeysAndAttributes::builder()
            .set_keys(Some(keys.collect()))
            .consistent_read(true)
            .build()
            .map_err(|error| StoreError::build(label, &error))?;
        request_items.insert(read.table.to_owned(), keys_and_attributes);
    }
    let mut found: HashMap<String, Vec<_>> = HashMap::new();
    for round in 0..UNPROCESSED_ROUNDS {
        if request_items.is_empty() {
            return Ok(found);
        }
        let call = client.batch_get_item().set_request_items(Some(std::mem::take(&mut request_items))).send();
        let output = call.await.map_err(|error| StoreError::sdk(label, &error))?;
        for (table, items) in output.responses.unwrap_or_default() {
            found.entry(table).or_default().extend(items);
        }
        request_items = output.unprocessed_keys.unwrap_or_default();
        request_items.retain(|_, unprocessed| !unprocessed.keys().is_empty());
        if !request_items.is_empty() {
            tokio::time::sleep(crate::backoff::full_jitter(round)).await;
        }
    }
    if request_items.is_empty() {
        return Ok(found);
    }
    Err(StoreError::throttled(label, format!("keys still unprocessed after {UNPROCESSED_ROUNDS} rounds")))
}

/// Rounds spent on keys DynamoDB left unprocessed before giving up.
const UNPROCESSED_ROUNDS: u32 = 5;

/// DynamoDB refuses an empty string key and a partition key over 2,048 bytes with a
/// ValidationException; a stored reference that could be neither is treated as no reference.
pub(crate) fn is_usable_key(key: &str) -> bool {
    !key.is_empty() && key.len() <= MAX_KEY_BYTES
}

/// Half of DynamoDB's 2,048-byte partition key limit: no id this service stores comes close.
pub(crate) const MAX_KEY_BYTES: usize = 1024;

pub(crate) fn string_attribute(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

pub(crate) fn read_string<'a>(item: &'a HashMap<String, AttributeValue>, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Some(value),
        _ => None,
    }
}
