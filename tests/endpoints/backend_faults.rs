//! Faults DynamoDB Local cannot produce, from SDK-level stubs (aws-smithy-mocks) that answer
//! with DynamoDB's own wire responses, or from local listeners: transaction conflicts (DynamoDB
//! Local serialises transactions), throttling, internal errors, a malformed response, a closed
//! port and a server that never answers. Each ends in a bounded time in the endpoint's own
//! 500 (503 with `Retry-After` for throttling), logged with the request id; the change and its
//! audit record only ever travel together, in one transaction. Add and remove meet the same
//! faults in the same transaction (`ADD` or `DELETE`), so each fault is one body, generic over
//! the endpoint, run for each.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemOutput;
use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsInput;
use aws_sdk_dynamodb::operation::transact_write_items::{TransactWriteItemsError, TransactWriteItemsOutput};
use aws_sdk_dynamodb::types::CancellationReason;
use aws_sdk_dynamodb::types::error::TransactionCanceledException;
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use permissions_service::auth::api_token::token_hash;
use permissions_service::auth::jwt::JwtVerifier;
use permissions_service::frame::Frame;
use permissions_service::store::audit::Action;
use permissions_service::store::catalog::CatalogEntry;
use permissions_service::store::retry_config;
use permissions_service::store::tokens::{Expiry, TokenRecord};
use permissions_service::store::users::UserRecord;
use serde_json::{Value, json};

use crate::admin_changes::success;
use crate::support::changes::{action, audit_line};
use crate::support::fixtures::admin::{ADMIN, TARGET, jwt_for};
use crate::support::fixtures::org::{EDIT_RIGHT, EDITOR, EDITOR_KEY, ORG_A, P1, TARGET as ORG_TARGET};
use crate::support::{AdminAdd, AdminRemove, OrgAdd, OrgRemove};
use crate::support::{CapturedLogs, Event, JWT_SECRET, TableNames, TestEndpoint, TestEnv, TestResponse};

/// DynamoDB's answer when a table is throttled: HTTP 400 with the error type in the body.
const THROTTLED: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Throughput exceeds the current capacity of your table or index."}"#;
const INTERNAL_ERROR: &str =
    r#"{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"Internal server error"}"#;

/// A stubbed client with the production retry policy, so the SDK's own retries are the real ones.
fn mocked(rules: &[&Rule]) -> Client {
    mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, rules, |config| config.retry_config(retry_config()))
}

/// `E` over `client`, its tables named plainly: nothing is created, the stubs answer.
fn stubbed<E: TestEndpoint>(client: Client) -> Frame<E> {
    TestEnv::over(client, TableNames::unprefixed(), JwtVerifier::new(JWT_SECRET.as_bytes(), None, None).unwrap())
        .frame::<E>()
}

/// The transaction of one change by `E`: one update of the set with `E`'s action (`ADD` or
/// `DELETE`) and one audit record, in the same request or not at all.
fn carries_whole_change<E: TestEndpoint>(input: &TransactWriteItemsInput) -> bool {
    let items = input.transact_items();
    let updates: Vec<&str> =
        items.iter().filter_map(|item| item.update()).map(|update| update.update_expression()).collect();
    let verb = match action::<E>() {
        Action::Grant => "ADD ",
        Action::Revoke => "DELETE ",
    };
    updates.len() == 1 && updates[0].starts_with(verb) && items.iter().filter(|item| item.put().is_some()).count() == 1
}

/// A cancellation with one reason per item of a transaction of `items`, the target's
/// (second to last) being `code`.
fn cancelled(items: usize, code: &'static str) -> impl Fn() -> TransactWriteItemsError {
    move || {
        let reason = |code: &str| CancellationReason::builder().code(code).build();
        let mut cancelled = TransactionCanceledException::builder().message("Transaction cancelled");
        for index in 0..items {
            cancelled = cancelled.cancellation_reasons(reason(if index == items - 2 { code } else { "None" }));
        }
        TransactWriteItemsError::TransactionCanceledException(cancelled.build())
    }
}

/// The admin API's change by `E` of the seed's target.
fn admin_change<E: TestEndpoint>() -> Event {
    Event::route(E::ROUTE, None)
        .bearer(&jwt_for(ADMIN))
        .json(&json!({ "payload": { "userId": TARGET, "permissions": ["compass.users.*"] } }))
}

/// The org API's change by `E` of the seed's target, from the editor.
fn org_change<E: TestEndpoint>() -> Event {
    Event::route(E::ROUTE, Some(ORG_TARGET)).token(EDITOR_KEY).json(&json!({ "permission_uuids": [P1] }))
}

/// One `event` to `E` over `client`: the answer, how long it took and everything logged meanwhile.
async fn through<E: TestEndpoint>(client: Client, event: &Event) -> (TestResponse, Duration, String) {
    let logs = CapturedLogs::start();
    let started = Instant::now();
    let response = TestResponse::from(stubbed::<E>(client).handle(event.http_api()).await);
    (response, started.elapsed(), logs.text())
}

/// The org endpoint `E` over stubbed reads that authorize the org world's editor (its key, it
/// with its right, and P1 in the catalog); every change's transaction then meets `transaction`.
/// Also the read rules, to prove they were met.
fn org_endpoint<E: TestEndpoint>(transaction: &Rule) -> (Frame<E>, Vec<Rule>) {
    let key = mock!(Client::get_item)
        .sequence()
        .output(|| {
            let token = TokenRecord { user_id: EDITOR.to_owned(), expiry: Expiry::Never };
            GetItemOutput::builder().set_item(Some(token.to_item(&token_hash(EDITOR_KEY)))).build()
        })
        .repeatedly()
        .build();
    let reads = mock!(Client::batch_get_item)
        .sequence()
        .output(|| {
            let editor = UserRecord {
                user_id: EDITOR.to_owned(),
                org_uuid: Some(ORG_A.to_owned()),
                role: None,
                permissions: vec![EDIT_RIGHT.to_owned()],
            };
            let entry = |uuid: &str, codename: &str| {
                CatalogEntry { permission_uuid: uuid.to_owned(), codename: codename.to_owned() }.to_item()
            };
            BatchGetItemOutput::builder()
                .responses("users", vec![editor.to_item()])
                .responses("permissions", vec![entry(EDIT_RIGHT, "edit_org_users"), entry(P1, "view_reports")])
                .build()
        })
        .repeatedly()
        .build();
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&key, &reads, transaction], |config| {
        config.retry_config(retry_config())
    });
    (stubbed::<E>(client), vec![key, reads])
}

fn unavailable_admin() -> Value {
    json!({ "error": { "code": "SERVICE_UNAVAILABLE", "message": "Service temporarily unavailable, try again later." } })
}

fn unavailable_org() -> Value {
    json!({ "detail": "Service temporarily unavailable, try again later." })
}

async fn admin_throttling_that_outlasts_the_retries_is_a_503_with_retry_after<E: TestEndpoint>() {
    let rule = mock!(Client::transact_write_items)
        .match_requests(carries_whole_change::<E>)
        .sequence()
        .http_status(400, Some(THROTTLED.into()))
        .repeatedly()
        .build();
    let event = admin_change::<E>();
    let (response, took, logs) = through::<E>(mocked(&[&rule]), &event).await;
    assert_eq!((response.status, &response.body), (503, &unavailable_admin()), "{response:?}");
    assert_eq!(response.headers["retry-after"], "1");
    assert_eq!(rule.num_calls(), 3, "the SDK's three attempts");
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert!(logs.contains(&event.request_id) && logs.contains("ThrottlingException"), "{logs}");
    assert!(logs.contains("outcome=\"throttled\"") && logs.contains("status=503"), "{logs}");
    assert!(!logs.contains(audit_line(action::<E>())), "nothing was changed: {logs}");
}

async fn an_admin_change_whose_transaction_conflicts_is_retried_until_it_lands<E: TestEndpoint>() {
    let rule = mock!(Client::transact_write_items)
        .match_requests(carries_whole_change::<E>)
        .sequence()
        .error(cancelled(3, "TransactionConflict"))
        .times(3)
        .output(|| TransactWriteItemsOutput::builder().build())
        .build();
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&rule]);
    let response = TestResponse::from(stubbed::<E>(client).handle(admin_change::<E>().http_api()).await);
    assert_eq!((response.status, &response.body), (200, &success::<E>()), "{response:?}");
    assert_eq!(rule.num_calls(), 4, "three conflicts, then the attempt that lands");
}

async fn endless_conflicts_on_an_admin_change_end_in_a_bounded_503<E: TestEndpoint>() {
    let rule =
        mock!(Client::transact_write_items).sequence().error(cancelled(3, "TransactionConflict")).repeatedly().build();
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&rule]);
    let started = Instant::now();
    let response = TestResponse::from(stubbed::<E>(client).handle(admin_change::<E>().http_api()).await);
    // Contention clears by itself: the caller is told to come back, as for throttling.
    assert_eq!((response.status, &response.body), (503, &unavailable_admin()), "{response:?}");
    assert_eq!(response.headers["retry-after"], "1");
    assert!((8..=40).contains(&rule.num_calls()), "attempts are bounded: {}", rule.num_calls());
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(1_500) && took < Duration::from_millis(3_500), "retrying took {took:?}");
}

async fn admin_transactions_cancelled_by_throttling_end_in_a_503<E: TestEndpoint>() {
    let rule = mock!(Client::transact_write_items)
        .match_requests(carries_whole_change::<E>)
        .sequence()
        .error(cancelled(3, "ThrottlingError"))
        .repeatedly()
        .build();
    let (response, ..) = through::<E>(mocked(&[&rule]), &admin_change::<E>()).await;
    assert_eq!((response.status, &response.body), (503, &unavailable_admin()), "{response:?}");
    assert_eq!(response.headers["retry-after"], "1");
    assert!((8..=40).contains(&rule.num_calls()), "attempts are bounded: {}", rule.num_calls());
}

async fn admin_internal_server_errors_are_retried_then_a_500<E: TestEndpoint>() {
    let rule = mock!(Client::transact_write_items)
        .match_requests(carries_whole_change::<E>)
        .sequence()
        .http_status(500, Some(INTERNAL_ERROR.into()))
        .repeatedly()
        .build();
    let event = admin_change::<E>();
    let (response, _, logs) = through::<E>(mocked(&[&rule]), &event).await;
    assert_eq!(response.status, 500, "{response:?}");
    assert_eq!(response.body, json!({ "error": { "code": "SERVER_ERROR", "message": "Internal server error" } }));
    assert!(response.headers.get("retry-after").is_none());
    assert_eq!(rule.num_calls(), 3, "the SDK's three attempts");
    assert!(logs.contains(&event.request_id) && logs.contains("InternalServerError"), "{logs}");
}

async fn org_internal_server_errors_on_the_transaction_are_retried_then_a_500<E: TestEndpoint>() {
    let transaction = mock!(Client::transact_write_items)
        .sequence()
        .http_status(500, Some(INTERNAL_ERROR.into()))
        .repeatedly()
        .build();
    let (endpoint, _reads) = org_endpoint::<E>(&transaction);
    let response = TestResponse::from(endpoint.handle(org_change::<E>().http_api()).await);
    assert_eq!((response.status, response.body), (500, json!({ "detail": "A server error occurred." })));
    assert_eq!(transaction.num_calls(), 3);
}

async fn org_throttling_of_the_reads_is_a_503_with_retry_after_in_drf_shape<E: TestEndpoint>() {
    let rule = mock!(Client::get_item).sequence().http_status(400, Some(THROTTLED.into())).repeatedly().build();
    let (response, ..) = through::<E>(mocked(&[&rule]), &org_change::<E>()).await;
    assert_eq!((response.status, &response.body), (503, &unavailable_org()), "{response:?}");
    assert_eq!(response.headers["retry-after"], "1");
}

async fn org_throttling_of_the_transaction_is_a_503_with_retry_after_in_drf_shape<E: TestEndpoint>() {
    let transaction = mock!(Client::transact_write_items)
        .match_requests(carries_whole_change::<E>)
        .sequence()
        .http_status(400, Some(THROTTLED.into()))
        .repeatedly()
        .build();
    let (endpoint, reads) = org_endpoint::<E>(&transaction);
    let logs = CapturedLogs::start();
    let event = org_change::<E>();
    let response = TestResponse::from(endpoint.handle(event.http_api()).await);
    assert_eq!((response.status, &response.body), (503, &unavailable_org()), "{response:?}");
    assert_eq!(response.headers["retry-after"], "1");
    assert_eq!(transaction.num_calls(), 3, "the SDK's three attempts");
    assert!(reads.iter().all(|rule| rule.num_calls() > 0), "the request was authorized first");
    let text = logs.text();
    assert!(text.contains(&event.request_id) && text.contains("ThrottlingException"), "{text}");
}

async fn an_org_change_whose_transaction_conflicts_is_retried_until_it_lands<E: TestEndpoint>() {
    // The org transaction: the key, the caller, the target, the audit record.
    let transaction = mock!(Client::transact_write_items)
        .match_requests(carries_whole_change::<E>)
        .sequence()
        .error(cancelled(4, "TransactionConflict"))
        .times(3)
        .output(|| TransactWriteItemsOutput::builder().build())
        .build();
    let (endpoint, _reads) = org_endpoint::<E>(&transaction);
    let response = TestResponse::from(endpoint.handle(org_change::<E>().http_api()).await);
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(response.body, json!({ "user_uuid": ORG_TARGET, "permission_uuids": [P1] }));
    assert_eq!(transaction.num_calls(), 4, "three conflicts, then the attempt that lands");
}

#[tokio::test]
async fn a_conflicted_transaction_is_retried_until_it_lands() {
    an_admin_change_whose_transaction_conflicts_is_retried_until_it_lands::<AdminAdd>().await;
}

#[tokio::test]
async fn endless_conflicts_end_in_a_bounded_503() {
    endless_conflicts_on_an_admin_change_end_in_a_bounded_503::<AdminAdd>().await;
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
    let env =
        TestEnv::over(client, TableNames::unprefixed(), JwtVerifier::new(JWT_SECRET.as_bytes(), None, None).unwrap());

    let logs = CapturedLogs::start();
    // Lambda gives this invocation 1.6 s; the handler keeps 1 s back to answer.
    let event = admin_change::<AdminAdd>();
    let started = Instant::now();
    let response = env.call::<AdminAdd>(event.http_api_with_deadline_in(Duration::from_millis(1_600))).await;
    let took = started.elapsed();
    assert_eq!(response.status, 500, "{response:?}");
    assert!(took < Duration::from_millis(1_200), "answered after {took:?}");
    let text = logs.text();
    assert!(text.contains(&event.request_id) && text.contains("budget"), "{text}");

    let org = Event::org(ORG_TARGET).token("any").json(&json!({ "permission_uuids": [] }));
    let response = env.call::<OrgAdd>(org.http_api_with_deadline_in(Duration::from_millis(1_600))).await;
    assert_eq!(response.status, 500);
    assert_eq!(response.body, json!({ "detail": "A server error occurred." }));
}

#[tokio::test]
async fn throttling_that_outlasts_the_retries_is_a_503_with_retry_after() {
    admin_throttling_that_outlasts_the_retries_is_a_503_with_retry_after::<AdminAdd>().await;
}

#[tokio::test]
async fn throttling_that_clears_is_retried_by_the_sdk() {
    let rule = mock!(Client::transact_write_items)
        .match_requests(carries_whole_change::<AdminAdd>)
        .sequence()
        .http_status(400, Some(THROTTLED.into()))
        .times(2)
        .output(|| TransactWriteItemsOutput::builder().build())
        .build();
    let (response, ..) = through::<AdminAdd>(mocked(&[&rule]), &admin_change::<AdminAdd>()).await;
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(rule.num_calls(), 3);
}

#[tokio::test]
async fn transactions_cancelled_by_throttling_end_in_a_503() {
    admin_transactions_cancelled_by_throttling_end_in_a_503::<AdminAdd>().await;
}

#[tokio::test]
async fn the_org_endpoint_answers_throttling_in_its_own_shape() {
    org_throttling_of_the_reads_is_a_503_with_retry_after_in_drf_shape::<OrgAdd>().await;
}

#[tokio::test]
async fn internal_server_errors_are_retried_then_a_500() {
    admin_internal_server_errors_are_retried_then_a_500::<AdminAdd>().await;
    org_internal_server_errors_on_the_transaction_are_retried_then_a_500::<OrgAdd>().await;
}

#[tokio::test]
async fn a_malformed_response_is_a_500() {
    let rule = mock!(Client::transact_write_items)
        .sequence()
        .http_status(200, Some(r#"{"ItemCollectionMetrics": {"users": [{"#.into()))
        .repeatedly()
        .build();
    let event = admin_change::<AdminAdd>();
    let (response, _, logs) = through::<AdminAdd>(mocked(&[&rule]), &event).await;
    assert_eq!(response.status, 500, "{response:?}");
    assert_eq!(response.body["error"]["code"], "SERVER_ERROR");
    assert!(logs.contains(&event.request_id) && logs.contains("TransactWriteItems"), "{logs}");
}

#[tokio::test]
async fn an_unreachable_dynamodb_is_a_prompt_500() {
    // A port nothing listens on: every connection is refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let client = Client::from_conf(
        crate::support::client_config().endpoint_url(format!("http://{closed}")).retry_config(retry_config()).build(),
    );
    let event = admin_change::<AdminAdd>();
    let (response, took, logs) = through::<AdminAdd>(client, &event).await;
    assert_eq!(response.status, 500, "{response:?}");
    assert_eq!(response.body["error"]["code"], "SERVER_ERROR");
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert!(logs.contains(&event.request_id) && logs.contains("dispatch failure"), "{logs}");
}

// The remove endpoints: the same transaction with `DELETE`, so the same faults, answered in each
// API's shape.

mod remove {
    use super::*;

    #[tokio::test]
    async fn admin_throttling_that_outlasts_the_retries_is_a_503_with_retry_after() {
        super::admin_throttling_that_outlasts_the_retries_is_a_503_with_retry_after::<AdminRemove>().await;
    }

    #[tokio::test]
    async fn admin_transactions_cancelled_by_throttling_end_in_a_503() {
        super::admin_transactions_cancelled_by_throttling_end_in_a_503::<AdminRemove>().await;
    }

    #[tokio::test]
    async fn an_admin_removal_whose_transaction_conflicts_is_retried_until_it_lands() {
        an_admin_change_whose_transaction_conflicts_is_retried_until_it_lands::<AdminRemove>().await;
    }

    #[tokio::test]
    async fn endless_conflicts_on_an_admin_removal_end_in_a_bounded_503() {
        endless_conflicts_on_an_admin_change_end_in_a_bounded_503::<AdminRemove>().await;
    }

    #[tokio::test]
    async fn org_throttling_of_the_removal_is_a_503_with_retry_after_in_drf_shape() {
        org_throttling_of_the_transaction_is_a_503_with_retry_after_in_drf_shape::<OrgRemove>().await;
    }

    #[tokio::test]
    async fn org_throttling_of_the_reads_is_a_503_with_retry_after_in_drf_shape() {
        super::org_throttling_of_the_reads_is_a_503_with_retry_after_in_drf_shape::<OrgRemove>().await;
    }

    #[tokio::test]
    async fn an_org_removal_whose_transaction_conflicts_is_retried_until_it_lands() {
        an_org_change_whose_transaction_conflicts_is_retried_until_it_lands::<OrgRemove>().await;
    }

    #[tokio::test]
    async fn internal_server_errors_on_a_removal_are_retried_then_a_500_in_each_shape() {
        admin_internal_server_errors_are_retried_then_a_500::<AdminRemove>().await;
        org_internal_server_errors_on_the_transaction_are_retried_then_a_500::<OrgRemove>().await;
    }
}
