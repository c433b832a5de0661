//! Every DynamoDB call's time and X-Ray subsegment, from one SDK interceptor on the client, so no
//! store call can forget them: a new call is timed because it goes through the client.
//!
//! The interceptor reports to the request the call runs in (a task-local scope that the frame
//! opens per request): its running DynamoDB time, for the log line and metrics, and its trace,
//! for a subsegment per call. A call outside any request (the init warm-up) reports nowhere.
//! The hooks wrap the whole operation, the SDK's own retries included, as a caller waits for it.

use std::cell::Cell;
use std::future::Future;
use std::time::{Duration, Instant, SystemTime};

use aws_sdk_dynamodb::config::interceptors::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::operation::{
    batch_get_item::BatchGetItemInput, get_item::GetItemInput, put_item::PutItemInput, query::QueryInput,
    transact_write_items::TransactWriteItemsInput, update_item::UpdateItemInput,
};
use aws_sdk_dynamodb::types::TransactWriteItem;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_types::config_bag::{Storable, StoreReplace};

use crate::telemetry::xray::{self, DynamoDbCall, TraceHeader};

/// What the current request's DynamoDB calls report to.
struct RequestScope {
    dynamodb_time: Cell<Duration>,
    trace: Option<TraceHeader>,
}

tokio::task_local! {
    static REQUEST: RequestScope;
}

/// Runs `request_work` under `trace`, answering also how long it waited on DynamoDB calls.
pub async fn timing_dynamodb<T>(trace: Option<TraceHeader>, request_work: impl Future<Output = T>) -> (T, Duration) {
    let scope = RequestScope { dynamodb_time: Cell::new(Duration::ZERO), trace };
    REQUEST
        .scope(scope, async {
            let output = request_work.await;
            (output, REQUEST.with(|scope| scope.dynamodb_time.get()))
        })
        .await
}

/// The client, with the timing interceptor. Every store is built over a client this returned,
/// whoever made the client (a binary, a test, the benchmark).
pub fn instrumented(client: &aws_sdk_dynamodb::Client) -> aws_sdk_dynamodb::Client {
    let config = client.config().to_builder().interceptor(CallTiming).build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

#[derive(Debug)]
struct CallTiming;

/// Kept in the call's config bag from its start to its end.
#[derive(Debug, Clone)]
struct CallStarted {
    at: SystemTime,
    clock: Instant,
    table: String,
}

impl Storable for CallStarted {
    type Storer = StoreReplace<Self>;
}

impl Intercept for CallTiming {
    fn name(&self) -> &'static str {
        "CallTiming"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // Outside a request nothing is reported, so nothing is kept.
        if REQUEST.try_with(|_| ()).is_ok() {
            let table = table_of(context.input());
            cfg.interceptor_state().store_put(CallStarted { at: SystemTime::now(), clock: Instant::now(), table });
        }
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(started) = cfg.load::<CallStarted>() else { return Ok(()) };
        let took = started.clock.elapsed();
        let operation = cfg.load::<Metadata>().map(|metadata| metadata.name().to_owned()).unwrap_or_default();
        let failed = !matches!(context.output_or_error(), Some(Ok(_)));
        let _ = REQUEST.try_with(|scope| {
            scope.dynamodb_time.set(scope.dynamodb_time.get() + took);
            if let Some(trace) = &scope.trace {
                let call = DynamoDbCall {
                    operation: &operation,
                    table: &started.table,
                    started: started.at,
                    ended: started.at + took,
                    failed,
                };
                xray::record(trace, &call);
            }
        });
        Ok(())
    }
}

/// The table X-Ray names the call by. A call over several tables is named after one of them,
/// chosen the same way every time: a batch read after the first table in name order, a change
/// after the table its first write is to (the target's users table).
fn table_of(input: &aws_smithy_runtime_api::client::interceptors::context::Input) -> String {
    let named = if let Some(get) = input.downcast_ref::<GetItemInput>() {
        get.table_name.clone()
    } else if let Some(batch) = input.downcast_ref::<BatchGetItemInput>() {
        batch.request_items.as_ref().and_then(|items| {
            let mut tables: Vec<&String> = items.keys().collect();
            tables.sort_unstable();
            tables.first().map(|table| (*table).clone())
        })
    } else if let Some(transaction) = input.downcast_ref::<TransactWriteItemsInput>() {
        transaction.transact_items.as_deref().and_then(first_written_table)
    } else if let Some(query) = input.downcast_ref::<QueryInput>() {
        query.table_name.clone()
    } else if let Some(update) = input.downcast_ref::<UpdateItemInput>() {
        update.table_name.clone()
    } else if let Some(put) = input.downcast_ref::<PutItemInput>() {
        put.table_name.clone()
    } else {
        None
    };
    named.unwrap_or_default()
}

fn first_written_table(items: &[TransactWriteItem]) -> Option<String> {
    items.iter().find_map(|item| {
        (item.update.as_ref().map(|update| update.table_name.clone()))
            .or_else(|| item.put.as_ref().map(|put| put.table_name.clone()))
            .or_else(|| item.delete.as_ref().map(|delete| delete.table_name.clone()))
    })
}
