//! Faults DynamoDB Local cannot produce, from SDK-level stubs (aws-smithy-mocks) that answer
//! with DynamoDB's own wire responses, or from local listeners: transaction conflicts (DynamoDB
//! Local serialises transactions), throttling, internal errors, a malformed response, a closed
//! port and a server that never answers. Each ends in a bounded time in the endpoint's own
//! 500 (503 with `Retry-After` for throttling), logged with the request id; the grant and its
//! audit record only ever travel together, in one transaction.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsInput;
use aws_sdk_dynamodb::operation::transact_write_items::{TransactWriteItemsError, TransactWriteItemsOutput};
use aws_sdk_dynamodb::types::CancellationReason;
use aws_sdk_dynamodb::types::error::TransactionCanceledException;
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use permissions_service::admin::{AdminApi, AdminTables};
use permissions_service::auth::jwt::JwtVerifier;
use permissions_service::frame::Frame;
use permissions_service::org::{OrgApi, OrgTables};
use permissions_service::store::retry_config;
use serde_json::json;

use crate::support::fixtures::admin::{ADMIN, TARGET, jwt_for};
use crate::support::{AdminAdd, OrgAdd};
use crate::support::{CapturedLogs, Event, JWT_SECRET, TableNames, TestEnv, TestResponse};

fn conflict() -> TransactWriteItemsError {
    let reason = |code: &str| CancellationReason::builder().code(code).build();
    TransactWriteItemsError::TransactionCanceledException(
        TransactionCanceledException::builder()
            .message("Transaction cancelled")
            .cancellation_reasons(reason("None"))
            .cancellation_reasons(reason("TransactionConflict"))
            .cancellation_reasons(reason("None"))
            .build(),
    )
}

/// DynamoDB's answer when a table is throttled: HTTP 400 with the error type in the body.
const THROTTLED: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Throughput exceeds the current capacity of your table or index."}"#;
const INTERNAL_ERROR: &str =
    r#"{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"Internal server error"}"#;

/// A stubbed client with the production retry policy, so the SDK's own retries are the real ones.
fn mocked(rules: &[&Rule]) -> Client {
    mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, rules, |config| config.retry_config(retry_config()))
}

/// The grant and its audit record go in the same request, or not at all.
fn carries_whole_grant(input: &TransactWriteItemsInput) -> bool {
    let items = input.transact_items();
    items.iter().filter(|item| item.update().is_some()).count() == 1
        && items.iter().filter(|item| item.put().is_some()).count() == 1
}

fn cancelled_by(code: &'static str) -> impl Fn() -> TransactWriteItemsError {
    move || {
        let reason = |code: &str| CancellationReason::builder().code(code).build();
        TransactWriteItemsError::TransactionCanceledException(
            TransactionCanceledException::builder()
                .message("Transaction cancelled")
                .cancellation_reasons(reason("None"))
                .cancellation_reasons(reason(code))
                .cancellation_reasons(reason("None"))
                .build(),
        )
    }
}

fn endpoint(client: Client) -> Frame<AdminAdd> {
    let tables = AdminTables { users: "users".into(), audit: "audit".into(), idempotency: "idempotency".into() };
    let api = AdminApi::new(&client, tables, JwtVerifier::new(JWT_SECRET.as_bytes(), None, None).unwrap());
    Frame::new(AdminAdd::from(api))
}

fn grant() -> Event {
    Event::admin()
        .bearer(&jwt_for(ADMIN))
        .json(&json!({ "payload": { "userId": TARGET, "permissions": ["compass.users.*"] } }))
}

/// One admin grant through a client stubbed with `rule` (and the production retry policy):
/// the answer, how long it took, the request's id and everything logged meanwhile.
async fn grant_through(rule: &Rule) -> (TestResponse, Duration, String, String) {
    let logs = CapturedLogs::start();
    let event = grant();
    let started = Instant::now();
    let response = TestResponse::from(endpoint(mocked(&[rule])).handle(event.http_api()).await);
    (response, started.elapsed(), event.request_id, logs.text())
}

#[tokio::test]
async fn a_conflicted_transaction_is_retried_until_it_lands() {
    let rule = mock!(Client::transact_write_items)
        .sequence()
        .error(conflict)
        .times(3)
        .output(|| TransactWriteItemsOutput::builder().build())
        .build();
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&rule]);
    let response = TestResponse::from(endpoint(client).handle(grant().http_api()).await);
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(rule.num_calls(), 4);
}

#[tokio::test]
async fn endless_conflicts_end_in_a_bounded_503() {
    let rule = mock!(Client::transact_write_items).sequence().error(conflict).repeatedly().build();
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&rule]);
    let started = Instant::now();
    let response = TestResponse::from(endpoint(client).handle(grant().http_api()).await);
    // Contention clears by itself: the caller is told to come back, as for throttling.
    assert_eq!(response.status, 503, "{response:?}");
    assert_eq!(response.body["error"]["code"], "SERVICE_UNAVAILABLE");
    assert_eq!(response.headers["retry-after"], "1");
    assert!((8..=40).contains(&rule.num_calls()), "attempts are bounded: {}", rule.num_calls());
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(1_500) && took < Duration::from_millis(3_500), "retrying took {took:?}");
}

#[tokio::test]
async fn a_backend_that_never_answers_gets_a_500_within_the_lambda_deadline() {
    // Accepts connections and holds them open without a byte in reply.
    let black_hole = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = black_hole.local_addr().unwrap();
    let _held = std::thread::spawn(move || {
        let mut open = Vec::new();
        for stream in black_hole.incoming().flatten() {
            open.push(stream);
        }
    });
    let client = Client::from_conf(crate::support::client_config().endpoint_url(format!("http://{address}")).build());
    let tables = TableNames {
        users: "users".into(),
        tokens: "tokens".into(),
        permissions: "permissions".into(),
        audit: "audit".into(),
        idempotency: "idempotency".into(),
    };
    let env = TestEnv::over(client, tables, JwtVerifier::new(JWT_SECRET.as_bytes(), None, None).unwrap());

    let logs = CapturedLogs::start();
    // Lambda gives this invocation 1.6 s; the handler keeps 1 s back to answer.
    let event = grant();
    let started = Instant::now();
    let response = env.call::<AdminAdd>(event.http_api_with_deadline_in(Duration::from_millis(1_600))).await;
    let took = started.elapsed();
    assert_eq!(response.status, 500, "{response:?}");
    assert!(took < Duration::from_millis(1_200), "answered after {took:?}");
    let text = logs.text();
    assert!(text.contains(&event.request_id) && text.contains("budget"), "{text}");

    let org = Event::org("5de38a8e-800e-4cba-84c5-ee6c27f304d8").token("any").json(&json!({ "permission_uuids": [] }));
    let response = env.call::<OrgAdd>(org.http_api_with_deadline_in(Duration::from_millis(1_600))).await;
    assert_eq!(response.status, 500);
    assert_eq!(response.body, json!({ "detail": "A server error occurred." }));
}

#[tokio::test]
async fn throttling_that_outlasts_the_retries_is_a_503_with_retry_after() {
    let rule = mock!(Client::transact_write_items)
        .match_requests(carries_whole_grant)
        .sequence()
        .http_status(400, Some(THROTTLED.into()))
        .repeatedly()
        .build();
    let (response, took, request_id, logs) = grant_through(&rule).await;
    assert_eq!(response.status, 503, "{response:?}");
    assert_eq!(response.headers["retry-after"], "1");
    assert_eq!(
        response.body,
        json!({ "error": { "code": "SERVICE_UNAVAILABLE", "message": "Service temporarily unavailable, try again later." } })
    );
    assert_eq!(rule.num_calls(), 3, "the SDK's three attempts");
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert!(logs.contains(&request_id) && logs.contains("ThrottlingException"), "{logs}");
}

#[tokio::test]
async fn throttling_that_clears_is_retried_by_the_sdk() {
    let rule = mock!(Client::transact_write_items)
        .match_requests(carries_whole_grant)
        .sequence()
        .http_status(400, Some(THROTTLED.into()))
        .times(2)
        .output(|| TransactWriteItemsOutput::builder().build())
        .build();
    let (response, ..) = grant_through(&rule).await;
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(rule.num_calls(), 3);
}

#[tokio::test]
async fn transactions_cancelled_by_throttling_end_in_a_503() {
    let rule =
        mock!(Client::transact_write_items).sequence().error(cancelled_by("ThrottlingError")).repeatedly().build();
    let (response, ..) = grant_through(&rule).await;
    assert_eq!(response.status, 503, "{response:?}");
    assert_eq!(response.headers["retry-after"], "1");
    assert!((8..=40).contains(&rule.num_calls()), "attempts are bounded: {}", rule.num_calls());
}

#[tokio::test]
async fn the_org_endpoint_answers_throttling_in_its_own_shape() {
    let rule = mock!(Client::get_item).sequence().http_status(400, Some(THROTTLED.into())).repeatedly().build();
    let tables = OrgTables {
        users: "users".into(),
        tokens: "tokens".into(),
        permissions: "permissions".into(),
        audit: "audit".into(),
        idempotency: "idempotency".into(),
    };
    let endpoint = Frame::new(OrgAdd::from(OrgApi::new(&mocked(&[&rule]), tables)));
    let event = Event::org("5de38a8e-800e-4cba-84c5-ee6c27f304d8")
        .token("any")
        .json(&json!({ "permission_uuids": ["9b8e1c1e-3a4f-4a8e-9d7a-2f0c6b5e4d3c"] }));
    let response = TestResponse::from(endpoint.handle(event.http_api()).await);
    assert_eq!(response.status, 503, "{response:?}");
    assert_eq!(response.headers["retry-after"], "1");
    assert_eq!(response.body, json!({ "detail": "Service temporarily unavailable, try again later." }));
}

#[tokio::test]
async fn internal_server_errors_are_retried_then_a_500() {
    let rule = mock!(Client::transact_write_items)
        .match_requests(carries_whole_grant)
        .sequence()
        .http_status(500, Some(INTERNAL_ERROR.into()))
        .repeatedly()
        .build();
    let (response, _, request_id, logs) = grant_through(&rule).await;
    assert_eq!(response.status, 500, "{response:?}");
    assert_eq!(response.body, json!({ "error": { "code": "SERVER_ERROR", "message": "Internal server error" } }));
    assert!(response.headers.get("retry-after").is_none());
    assert_eq!(rule.num_calls(), 3, "the SDK's three attempts");
    assert!(logs.contains(&request_id) && logs.contains("InternalServerError"), "{logs}");
}

#[tokio::test]
async fn a_malformed_response_is_a_500() {
    let rule = mock!(Client::transact_write_items)
        .sequence()
        .http_status(200, Some(r#"{"ItemCollectionMetrics": {"users": [{"#.into()))
        .repeatedly()
        .build();
    let (response, _, request_id, logs) = grant_through(&rule).await;
    assert_eq!(response.status, 500, "{response:?}");
    assert_eq!(response.body["error"]["code"], "SERVER_ERROR");
    assert!(logs.contains(&request_id) && logs.contains("TransactWriteItems"), "{logs}");
}

#[tokio::test]
async fn an_unreachable_dynamodb_is_a_prompt_500() {
    // A port nothing listens on: every connection is refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let client = Client::from_conf(
        crate::support::client_config().endpoint_url(format!("http://{closed}")).retry_config(retry_config()).build(),
    );
    let logs = CapturedLogs::start();
    let event = grant();
    let started = Instant::now();
    let response = TestResponse::from(endpoint(client).handle(event.http_api()).await);
    assert_eq!(response.status, 500, "{response:?}");
    assert_eq!(response.body["error"]["code"], "SERVER_ERROR");
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
    let text = logs.text();
    assert!(text.contains(&event.request_id) && text.contains("dispatch failure"), "{text}");
}
