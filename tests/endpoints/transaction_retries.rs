//! Transaction conflicts, which DynamoDB Local never produces (it serialises transactions), come
//! from an SDK-level stub here: retried with backoff until they clear, bounded when they do not.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::{TransactWriteItemsError, TransactWriteItemsOutput};
use aws_sdk_dynamodb::types::CancellationReason;
use aws_sdk_dynamodb::types::error::TransactionCanceledException;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use permissions_service::auth::jwt::JwtVerifier;
use permissions_service::user_add_permissions::{AdminTables, UserAddPermissions};
use serde_json::json;

use crate::support::{Event, JWT_SECRET, TestResponse};
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
