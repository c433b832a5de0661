//! DynamoDB access: one small store per table concern, sharing one SDK client.
//!
//! Every read that authorizes is strongly consistent; the grant is one transaction
//! (see [`grants`]).

pub mod catalog;
pub mod grants;
pub mod tokens;
pub mod users;

use std::fmt;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::config::{ConfigError, optional};

/// Deadlines for every DynamoDB call. The whole request has its own budget too (`deadline`).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(5);

/// Builds the one client a function uses for its lifetime. `DYNAMODB_ENDPOINT`, when set, points
/// it at a local server; otherwise the SDK's normal region and endpoint resolution applies.
pub async fn client_from_env(lookup: &impl Fn(&str) -> Option<String>) -> Result<Client, ConfigError> {
    let endpoint = optional(lookup, "DYNAMODB_ENDPOINT");
    if let Some(url) = &endpoint
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        return Err(ConfigError {
            variable: "DYNAMODB_ENDPOINT",
            problem: "must be an http:// or https:// URL".into(),
        });
    }
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).timeout_config(timeouts);
    if let Some(url) = endpoint {
        loader = loader.endpoint_url(url);
    }
    Ok(Client::new(&loader.load().await))
}

/// A DynamoDB call that failed for a reason the caller cannot fix: always a 500.
#[derive(Debug)]
pub struct StoreError {
    operation: &'static str,
    detail: String,
}

impl StoreError {
    pub(crate) fn new(operation: &'static str, detail: impl Into<String>) -> Self {
        Self { operation, detail: detail.into() }
    }

    /// Keeps the SDK's full error chain (service code, message, request id) for the log line.
    pub(crate) fn sdk(operation: &'static str, error: &(impl std::error::Error + 'static)) -> Self {
        Self::new(operation, DisplayErrorContext(error).to_string())
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DynamoDB {} failed: {}", self.operation, self.detail)
    }
}

impl std::error::Error for StoreError {}

pub(crate) fn string_attribute(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

pub(crate) fn read_string<'a>(
    item: &'a std::collections::HashMap<String, AttributeValue>,
    name: &str,
) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Some(value),
        _ => None,
    }
}
