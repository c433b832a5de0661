//! Faults DynamoDB Local cannot produce. Transaction conflicts (it serialises transactions) come
//! from an SDK-level stub: retried with backoff until they clear, bounded when they do not. A
//! DynamoDB that accepts connections and never answers is a local black-hole listener.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::{TransactWriteItemsError, TransactWriteItemsOutput};
use aws_sdk_dynamodb::types::CancellationReason;
use aws_sdk_dynamodb::types::error::TransactionCanceledException;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use permissions_service::auth::jwt::JwtVerifier;
use permissions_service::user_add_permissions::{AdminTables, UserAddPermissions};
use serde_json::json;

use crate::support::{CapturedLogs, Event, JWT_SECRET, TableNames, TestEnv, TestResponse};
use crate::user_add_permissions::{ADMIN, TARGET, jwt_for};

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

fn endpoint(client: Client) -> UserAddPermissions {
    let tables = AdminTables { users: "users".into(), audit: "audit".into() };
    UserAddPermissions::new(client, tables, JwtVerifier::new(JWT_SECRET.as_bytes(), None, None).unwrap())
}

fn grant() -> Event {
    Event::admin()
        .bearer(&jwt_for(ADMIN))
        .json(&json!({ "payload": { "userId": TARGET, "permissions": ["compass.users.*"] } }))
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
async fn endless_conflicts_end_in_a_bounded_500() {
    let rule = mock!(Client::transact_write_items).sequence().error(conflict).repeatedly().build();
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&rule]);
    let started = Instant::now();
    let response = TestResponse::from(endpoint(client).handle(grant().http_api()).await);
    assert_eq!(response.status, 500, "{response:?}");
    assert_eq!(response.body["error"]["code"], "SERVER_ERROR");
    assert_eq!(rule.num_calls(), 8, "attempts are bounded");
    assert!(started.elapsed() < Duration::from_secs(3), "retrying took {:?}", started.elapsed());
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
    };
    let env = TestEnv::over(client, tables, JwtVerifier::new(JWT_SECRET.as_bytes(), None, None).unwrap());

    let logs = CapturedLogs::start();
    // Lambda gives this invocation 1.6 s; the handler keeps 1 s back to answer.
    let event = grant();
    let started = Instant::now();
    let response = env.call_admin(event.http_api_with_deadline_in(Duration::from_millis(1_600))).await;
    let took = started.elapsed();
    assert_eq!(response.status, 500, "{response:?}");
    assert!(took < Duration::from_millis(1_200), "answered after {took:?}");
    let text = logs.text();
    assert!(text.contains(&event.request_id) && text.contains("budget"), "{text}");

    let org = Event::org("5de38a8e-800e-4cba-84c5-ee6c27f304d8").token("any").json(&json!({ "permission_uuids": [] }));
    let response = env.call_org(org.http_api_with_deadline_in(Duration::from_millis(1_600))).await;
    assert_eq!(response.status, 500);
    assert_eq!(response.body, json!({ "detail": "A server error occurred." }));
}
