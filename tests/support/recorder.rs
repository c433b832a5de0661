//! Every DynamoDB request a client sends, as it leaves: its operation and its JSON body
//! ([`OnSend`] shows each to a function). For proving what a request did to the store, beyond
//! what the tables show afterwards (a read's consistency, the keys of a batch).

use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use permissions_service::auth::jwt::JwtVerifier;
use serde_json::Value;

use super::dynamodb_local::client_config;
use super::world::{JWT_SECRET, TestEnv};

/// Calls a function with every request a client sends, as it leaves: its operation
/// (`GetItem`, `TransactWriteItems`, ...) and its body. For a test that watches, or acts, just
/// before a request reaches DynamoDB.
#[derive(Clone)]
pub struct OnSend(Arc<See>);

/// What [`OnSend`] calls: with a request's operation and body.
type See = dyn Fn(&str, &[u8]) + Send + Sync;

impl OnSend {
    pub fn new(see: impl Fn(&str, &[u8]) + Send + Sync + 'static) -> Self {
        Self(Arc::new(see))
    }
}

impl std::fmt::Debug for OnSend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OnSend")
    }
}

impl Intercept for OnSend {
    fn name(&self) -> &'static str {
        "OnSend"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _config: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        let target = request.headers().get("x-amz-target").unwrap_or_default();
        (self.0)(target.rsplit('.').next().unwrap_or_default(), request.body().bytes().unwrap_or_default());
        Ok(())
    }
}

/// One request as sent: its operation (`GetItem`, `BatchGetItem`, ...) and its body.
#[derive(Debug, Clone)]
pub struct Sent {
    pub operation: String,
    pub body: Value,
}

#[derive(Debug, Clone, Default)]
pub struct Recorder {
    sent: Arc<Mutex<Vec<Sent>>>,
}

impl Recorder {
    /// What was sent since the last call.
    pub fn take(&self) -> Vec<Sent> {
        std::mem::take(&mut *self.sent.lock().unwrap())
    }

    fn interceptor(&self) -> OnSend {
        let sent = self.sent.clone();
        OnSend::new(move |operation, body| {
            let body = serde_json::from_slice(body).unwrap_or(Value::Null);
            sent.lock().unwrap().push(Sent { operation: operation.to_owned(), body });
        })
    }
}

impl TestEnv {
    /// This world's tables, served by APIs of their own (cold caches) whose every DynamoDB
    /// request is recorded.
    pub fn recorded(&self) -> (TestEnv, Recorder) {
        let recorder = Recorder::default();
        let client = Client::from_conf(client_config().interceptor(recorder.interceptor()).build());
        let jwt = JwtVerifier::new(JWT_SECRET.as_bytes(), None, None).unwrap();
        (TestEnv::over(client, self.tables.clone(), jwt), recorder)
    }
}

/// The operations that only read.
pub const READ_OPERATIONS: [&str; 3] = ["GetItem", "BatchGetItem", "Query"];

/// Proves that `sent` only read, each read strongly consistent, and that no batch asked for a
/// key twice (DynamoDB refuses such a batch).
pub fn assert_consistent_reads_only(sent: &[Sent], case: &str) {
    assert!(!sent.is_empty(), "{case}: nothing was read");
    for Sent { operation, body } in sent {
        assert!(READ_OPERATIONS.contains(&operation.as_str()), "{case}: {operation} is not a read: {body}");
        if operation == "BatchGetItem" {
            let tables = body["RequestItems"].as_object().expect("RequestItems");
            for (table, read) in tables {
                assert_eq!(read["ConsistentRead"], true, "{case}: {table} read eventually consistent: {body}");
                let keys = read["Keys"].as_array().expect("Keys");
                let mut unique: Vec<String> = keys.iter().map(Value::to_string).collect();
                unique.sort();
                unique.dedup();
                assert_eq!(unique.len(), keys.len(), "{case}: a key asked for twice: {body}");
            }
        } else {
            assert_eq!(body["ConsistentRead"], true, "{case}: {operation} eventually consistent: {body}");
        }
    }
}
