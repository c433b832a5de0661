//! The Lambda authorizer's decisions, event by event, through its Lambda entry
//! (`lambda_entry::authorizer::answer`, exactly what the binary does per invocation) on DynamoDB
//! Local: what is allowed and with which context, every reason for a denial, events of any shape,
//! backend failures (an invocation error, never an allow), its one log line per decision (never
//! the token) and its one strongly consistent read per decision that reaches the user.
//!
//! The world and the route map are shared with the hostile campaign (`authorizer_hostile`) and the
//! real binary's tests (`authorizer_process`), which hold the authorizer to the same table.

use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_dynamodb::Client;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use lambda_http::Context;
use permissions_service::auth::jwt::JwtVerifier;
use permissions_service::authorizer::{Authorizer, RoutePermissions};
use permissions_service::lambda_entry::authorizer::{AuthorizerFailed, answer};
use permissions_service::store::retry_config;
use permissions_service::telemetry::metrics::Metrics;
use serde_json::{Value, json};

use crate::support::logs::{assert_has, lines_of};
use crate::support::{CapturedLogs, JWT_SECRET, TestEnv, now};

/// The protected API's routes as its `ROUTE_PERMISSIONS` names them: one action, a module, two
/// lists (all required, in different orders, one naming a permission twice) and `$default`.
pub const ROUTE_PERMISSIONS: &str = r#"{
    "GET /reports/{id}": "compass.reports.view",
    "GET /reports": "compass.reports",
    "POST /reports": ["compass.reports.create", "compass.users.invite", "compass.reports.view"],
    "POST /invitations": ["compass.users.invite", "compass.reports.create", "compass.users.invite"],
    "$default": "compass.admin.*"
}"#;

/// The route keys of [`ROUTE_PERMISSIONS`], in the order of [`GRANTS`]' columns.
pub const ROUTES: [&str; 5] = ["GET /reports/{id}", "GET /reports", "POST /reports", "POST /invitations", "$default"];

/// Holds the action `GET /reports/{id}` needs, exactly.
pub const READER: &str = "64a000000000000000000001";
/// Holds the reports module's wildcard.
pub const WILDCARD: &str = "64a000000000000000000002";
/// Holds the bare module: entry to the module, none of its actions.
pub const MODULE_ONLY: &str = "64a000000000000000000003";
/// Holds an action and its module's wildcard both, and an action of another module.
pub const BOTH: &str = "64a000000000000000000004";
/// Holds the reports wildcard and one users action.
pub const TEAM: &str = "64a000000000000000000005";
/// Holds strings that share a prefix with, or differ only in case or form from, what the routes
/// need: none implies anything but itself.
pub const NEAR_MISS: &str = "64a000000000000000000006";
/// Holds nothing.
pub const NOTHING: &str = "64a000000000000000000007";
/// Holds the admin module's wildcard, which `$default` names itself.
pub const ADMINISTRATOR: &str = "64a000000000000000000008";
/// Nobody: no item has this id.
pub const UNKNOWN: &str = "64a0000000000000000000ff";

pub const USERS: [(&str, &[&str]); 8] = [
    (READER, &["compass.reports.view"]),
    (WILDCARD, &["compass.reports.*"]),
    (MODULE_ONLY, &["compass.reports"]),
    (BOTH, &["compass.reports.view", "compass.reports.*", "compass.users.invite"]),
    (TEAM, &["compass.reports.*", "compass.users.invite"]),
    (
        NEAR_MISS,
        &[
            "compass.rep.*",
            "compass.reportsx.*",
            "compass.reports.vie",
            "compass.reports.viewer",
            "compass.reports.view.*",
            "COMPASS.REPORTS.VIEW",
            "compass.reports.view ",
            "compass.*",
            "compass.report",
            "compass.users.*x",
            "compass.admin",
        ],
    ),
    (NOTHING, &[]),
    (ADMINISTRATOR, &["compass.admin.*"]),
];

/// The decision for each user (rows) on each route of [`ROUTES`] (columns), written out by hand
/// from the contract's table: `Some(grantedBy)` when allowed, `None` when denied.
pub const GRANTS: [(&str, [Option<&str>; 5]); 8] = [
    (READER, [Some("compass.reports.view"), None, None, None, None]),
    (WILDCARD, [Some("compass.reports.*"), Some("compass.reports.*"), None, None, None]),
    (MODULE_ONLY, [None, Some("compass.reports"), None, None, None]),
    (
        BOTH,
        [
            Some("compass.reports.view"),
            Some("compass.reports.*"),
            Some("compass.reports.*,compass.users.invite,compass.reports.view"),
            Some("compass.users.invite,compass.reports.*"),
            None,
        ],
    ),
    (
        TEAM,
        [
            Some("compass.reports.*"),
            Some("compass.reports.*"),
            Some("compass.reports.*,compass.users.invite"),
            Some("compass.users.invite,compass.reports.*"),
            None,
        ],
    ),
    (NEAR_MISS, [None, None, None, None, None]),
    (NOTHING, [None, None, None, None, None]),
    (ADMINISTRATOR, [None, None, None, None, Some("compass.admin.*")]),
];

/// What the authorizer must answer `user` on `route_key`: its `grantedBy` when allowed.
pub fn granted(user: &str, route_key: &str) -> Option<&'static str> {
    let column = ROUTES.iter().position(|route| *route == route_key)?;
    GRANTS.iter().find(|(row, _)| *row == user).and_then(|(_, decisions)| decisions[column])
}

/// The users of [`USERS`] on fresh tables.
pub async fn authorizer_world() -> TestEnv {
    let env = TestEnv::new().await;
    for (user, permissions) in USERS {
        env.put_user(user, None, Some("user"), permissions).await;
    }
    env
}

pub fn verifier() -> JwtVerifier {
    JwtVerifier::new(JWT_SECRET.as_bytes(), None, None).unwrap()
}

/// The authorizer over `env`'s users table with [`ROUTE_PERMISSIONS`] and the test key.
pub fn authorizer_of(env: &TestEnv) -> Authorizer {
    env.authorizer(ROUTE_PERMISSIONS, verifier())
}

/// An HS256 token of `claims`, signed with `key`.
pub fn signed(claims: &Value, key: &str) -> String {
    encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(key.as_bytes())).unwrap()
}

/// A genuine token of `sub`, as the admin API would accept it.
pub fn token_for(sub: &str) -> String {
    signed(&json!({ "sub": sub, "exp": now() + 600 }), JWT_SECRET)
}

/// A token of `header` and `claims` with `signature` as given: what no library would sign.
pub fn forged(header: &Value, claims: &Value, signature: &str) -> String {
    let part = |value: &Value| URL_SAFE_NO_PAD.encode(value.to_string());
    format!("{}.{}.{signature}", part(header), part(claims))
}

/// The payload-2.0 authorizer event API Gateway sends for `route_key` with `headers`.
pub fn event_with_headers(route_key: &str, headers: Value) -> Value {
    let identity: Vec<Value> = headers.get("authorization").cloned().into_iter().collect();
    json!({
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/$default/GET/reports/7",
        "identitySource": identity,
        "routeKey": route_key,
        "rawPath": "/reports/7",
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abcdef1234",
            "domainName": "abcdef1234.execute-api.us-east-1.amazonaws.com",
            "http": { "method": "GET", "path": "/reports/7", "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1", "userAgent": "curl/8.5.0" },
            "requestId": "gateway-request",
            "routeKey": route_key,
            "stage": "$default",
        },
    })
}

/// The event for `route_key` with `Authorization: <authorization>` (or none).
pub fn event(route_key: &str, authorization: Option<&str>) -> Value {
    let mut headers = json!({ "host": "abcdef1234.execute-api.us-east-1.amazonaws.com", "user-agent": "curl/8.5.0" });
    if let Some(value) = authorization {
        headers["authorization"] = json!(value);
    }
    event_with_headers(route_key, headers)
}

pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// The simple response that allows `user_id`, with `granted_by` as its context.
pub fn allowed(user_id: &str, granted_by: &str) -> Value {
    json!({ "isAuthorized": true, "context": { "userId": user_id, "grantedBy": granted_by } })
}

pub fn denied() -> Value {
    json!({ "isAuthorized": false })
}

/// One invocation as the binary answers it: the answer, its request id and everything logged.
pub struct Decided {
    pub answer: Result<Value, AuthorizerFailed>,
    pub request_id: String,
    pub logs: String,
}

impl Decided {
    /// The one line logged about this request.
    pub fn line(&self) -> &str {
        let lines = lines_of(&self.logs, &self.request_id);
        assert_eq!(lines.len(), 1, "one log line per decision:\n{}", self.logs);
        lines[0]
    }

    /// Proves the answer is `expected` and the line logged says why (`outcome`).
    #[track_caller]
    pub fn is(&self, expected: &Value, outcome: &str, case: &str) {
        assert_eq!(self.answer.as_ref().ok(), Some(expected), "{case}: {}", self.logs);
        assert_has(self.line(), &[&format!("outcome=\"{outcome}\"")]);
    }
}

/// A Lambda context with a request id of its own, as the Runtime API hands one out.
pub fn context() -> Context {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let mut context = Context::default();
    context.request_id = format!("authorizer-request-{}", NEXT.fetch_add(1, Ordering::Relaxed));
    context
}

pub async fn decide(authorizer: &Authorizer, event: Value) -> Decided {
    decide_logging_at(authorizer, event, tracing::Level::DEBUG).await
}

/// [`decide`], collecting what is logged at `level` and above.
pub async fn decide_logging_at(authorizer: &Authorizer, event: Value, level: tracing::Level) -> Decided {
    let logs = CapturedLogs::start_at(level);
    let context = context();
    let request_id = context.request_id.clone();
    let answer = answer(authorizer, &Metrics::Off, event, context).await;
    Decided { answer, request_id, logs: logs.text() }
}

#[tokio::test]
async fn every_user_on_every_route_gets_the_decision_of_the_contracts_table() {
    let env = authorizer_world().await;
    let authorizer = authorizer_of(&env);
    for (user, _) in USERS {
        let authorization = bearer(&token_for(user));
        for route_key in ROUTES {
            let decided = decide(&authorizer, event(route_key, Some(&authorization))).await;
            let case = format!("{user} on {route_key}");
            match granted(user, route_key) {
                Some(granted_by) => decided.is(&allowed(user, granted_by), "allowed", &case),
                None => decided.is(&denied(), "not_granted", &case),
            }
        }
    }
}

#[tokio::test]
async fn allowed_exactly_by_a_wildcard_and_only_with_every_permission_of_a_list() {
    let env = authorizer_world().await;
    let authorizer = authorizer_of(&env);
    let ask = async |user: &str, route_key: &str| {
        decide(&authorizer, event(route_key, Some(&bearer(&token_for(user))))).await.answer.unwrap()
    };
    assert_eq!(ask(READER, "GET /reports/{id}").await, allowed(READER, "compass.reports.view"), "exactly");
    assert_eq!(ask(WILDCARD, "GET /reports/{id}").await, allowed(WILDCARD, "compass.reports.*"), "by its wildcard");
    assert_eq!(ask(WILDCARD, "GET /reports").await, allowed(WILDCARD, "compass.reports.*"), "the module too");
    assert_eq!(ask(ADMINISTRATOR, "$default").await, allowed(ADMINISTRATOR, "compass.admin.*"), "a wildcard needed");
    // A list: every permission, each held permission named once, in the order the route needs.
    assert_eq!(ask(TEAM, "POST /reports").await, allowed(TEAM, "compass.reports.*,compass.users.invite"));
    assert_eq!(ask(TEAM, "POST /invitations").await, allowed(TEAM, "compass.users.invite,compass.reports.*"));
    // The exact string is named when held, the wildcard only for what it alone grants.
    assert_eq!(
        ask(BOTH, "POST /reports").await,
        allowed(BOTH, "compass.reports.*,compass.users.invite,compass.reports.view")
    );
    // Holding one of the list is not enough; a wildcard needs a wildcard.
    assert_eq!(ask(READER, "POST /reports").await, denied());
    assert_eq!(ask(WILDCARD, "POST /invitations").await, denied());
    assert_eq!(ask(BOTH, "$default").await, denied());
}

/// The expired, forged and otherwise unusable tokens of a user who would be allowed.
fn bad_tokens(sub: &str) -> Vec<(&'static str, String)> {
    let genuine = token_for(sub);
    let (head, signature) = genuine.rsplit_once('.').unwrap();
    let claims = json!({ "sub": sub, "exp": now() + 600 });
    let hmac = |algorithm| encode(&Header::new(algorithm), &claims, &EncodingKey::from_secret(JWT_SECRET.as_bytes()));
    vec![
        ("not a JWT", "not-a-jwt".to_owned()),
        ("three empty segments", "..".to_owned()),
        ("expired", signed(&json!({ "sub": sub, "exp": now() - 3600 }), JWT_SECRET)),
        ("not yet valid", signed(&json!({ "sub": sub, "exp": now() + 600, "nbf": now() + 3600 }), JWT_SECRET)),
        ("no exp", signed(&json!({ "sub": sub }), JWT_SECRET)),
        ("no sub", signed(&json!({ "exp": now() + 600 }), JWT_SECRET)),
        ("a sub that is not a string", signed(&json!({ "sub": 64, "exp": now() + 600 }), JWT_SECRET)),
        ("an empty sub", signed(&json!({ "sub": "", "exp": now() + 600 }), JWT_SECRET)),
        ("another key", signed(&claims, "another-key-that-is-at-least-32-bytes-long")),
        ("alg none", forged(&json!({ "alg": "none", "typ": "JWT" }), &claims, "")),
        ("alg none with the genuine signature", forged(&json!({ "alg": "none" }), &claims, signature)),
        ("HS384 with the key", hmac(Algorithm::HS384).unwrap()),
        ("HS512 with the key", hmac(Algorithm::HS512).unwrap()),
        ("RS256 header, HMAC signature", forged(&json!({ "alg": "RS256" }), &claims, signature)),
        ("no signature", format!("{head}.")),
        ("a truncated signature", format!("{head}.{}", &signature[..signature.len() - 2])),
        ("a signature with a byte more", format!("{head}.{signature}AA")),
        ("two segments", head.to_owned()),
        ("four segments", format!("{genuine}.{signature}")),
        ("another user's claims under this signature", {
            let other = json!({ "sub": ADMINISTRATOR, "exp": now() + 600 });
            forged(&json!({ "alg": "HS256", "typ": "JWT" }), &other, signature)
        }),
    ]
}

#[tokio::test]
async fn denied_for_each_reason_and_logged_with_it() {
    let env = authorizer_world().await;
    let authorizer = authorizer_of(&env);
    let token = token_for(READER);
    let genuine = bearer(&token);
    // What the very same request is, allowed, proves that each case below fails on its own flaw.
    decide(&authorizer, event("GET /reports/{id}", Some(&genuine))).await.is(
        &allowed(READER, "compass.reports.view"),
        "allowed",
        "the genuine request",
    );

    let mut cases: Vec<(String, Value, &str)> = Vec::new();
    for route_key in
        ["GET /reports/{id}/", "get /reports/{id}", "GET /reports/7", "GET  /reports/{id}", "GET /report", ""]
    {
        cases.push((format!("unknown route {route_key:?}"), event(route_key, Some(&genuine)), "unknown_route"));
    }
    let mut without_route = event("GET /reports/{id}", Some(&genuine));
    without_route.as_object_mut().unwrap().remove("routeKey");
    cases.push(("no route key".into(), without_route, "malformed_event"));
    for not_a_string in
        [json!(null), json!(5), json!(true), json!(["GET /reports/{id}"]), json!({ "GET /reports/{id}": 1 })]
    {
        let mut event = event("GET /reports/{id}", Some(&genuine));
        event["routeKey"] = not_a_string.clone();
        cases.push((format!("route key {not_a_string}"), event, "malformed_event"));
    }
    cases.push(("no Authorization header".into(), event("GET /reports/{id}", None), "missing_token"));
    let mut without_headers = event("GET /reports/{id}", Some(&genuine));
    without_headers.as_object_mut().unwrap().remove("headers");
    cases.push(("no headers object".into(), without_headers, "missing_token"));
    for headers in [json!(null), json!([["authorization", genuine]]), json!(genuine), json!(7)] {
        cases.push((format!("headers {headers}"), event_with_headers("GET /reports/{id}", headers), "missing_token"));
    }
    for other_scheme in [format!("Token {token}"), format!("Basic {token}"), format!("Bearer{token}"), token.clone()] {
        cases.push((
            format!("scheme of {other_scheme:.12}"),
            event("GET /reports/{id}", Some(&other_scheme)),
            "missing_token",
        ));
    }
    for malformed in [
        "Bearer".to_owned(),
        "Bearer ".to_owned(),
        format!("Bearer {token},Bearer {token}"),
        format!("Bearer {token}, Bearer {token}"),
        format!("Bearer {token} {token}"),
        format!("Bearer {token}\u{a0}"),
        format!("Bearer {}", "a".repeat(8 * 1024 + 1)),
    ] {
        cases.push((format!("header {malformed:.40}"), event("GET /reports/{id}", Some(&malformed)), "invalid_token"));
    }
    let twice = json!({ "authorization": genuine, "Authorization": genuine });
    cases.push((
        "the header named twice in different cases".into(),
        event_with_headers("GET /reports/{id}", twice),
        "invalid_token",
    ));
    for not_a_string in [json!(null), json!(1), json!([genuine]), json!({ "value": genuine })] {
        let headers = json!({ "authorization": not_a_string });
        cases.push((
            format!("header value {not_a_string:.30}"),
            event_with_headers("GET /reports/{id}", headers),
            "invalid_token",
        ));
    }
    for (flaw, bad) in bad_tokens(READER) {
        cases.push((format!("token: {flaw}"), event("GET /reports/{id}", Some(&bearer(&bad))), "invalid_token"));
    }
    cases.push(("unknown user".into(), event("GET /reports/{id}", Some(&bearer(&token_for(UNKNOWN)))), "unknown_user"));
    let not_granted: [(&str, &str); 5] = [
        (NOTHING, "GET /reports/{id}"),
        (MODULE_ONLY, "GET /reports/{id}"),
        (READER, "GET /reports"),
        (NEAR_MISS, "GET /reports/{id}"),
        (READER, "POST /reports"),
    ];
    for (user, route_key) in not_granted {
        cases.push((
            format!("{user} not granted {route_key}"),
            event(route_key, Some(&bearer(&token_for(user)))),
            "not_granted",
        ));
    }

    for (case, event, outcome) in cases {
        decide(&authorizer, event).await.is(&denied(), outcome, &case);
    }
}

#[tokio::test]
async fn bearer_is_case_insensitive_and_spaces_around_the_token_are_read_as_a_header() {
    let env = authorizer_world().await;
    let authorizer = authorizer_of(&env);
    let token = token_for(WILDCARD);
    for authorization in [
        format!("bearer {token}"),
        format!("BEARER {token}"),
        format!("bEaReR {token}"),
        format!("Bearer    {token}"),
        format!("  Bearer {token}\t"),
    ] {
        let decided = decide(&authorizer, event("GET /reports/{id}", Some(&authorization))).await;
        decided.is(&allowed(WILDCARD, "compass.reports.*"), "allowed", &authorization);
    }
    // API Gateway sends header names lowercase; a front end that does not is read too.
    let headers = json!({ "Authorization": bearer(&token) });
    let decided = decide(&authorizer, event_with_headers("GET /reports/{id}", headers)).await;
    decided.is(&allowed(WILDCARD, "compass.reports.*"), "allowed", "a capitalised header name");
}

#[tokio::test]
async fn events_that_are_not_objects_are_denied_never_an_error() {
    let env = authorizer_world().await;
    let authorizer = authorizer_of(&env);
    let genuine = event("GET /reports/{id}", Some(&bearer(&token_for(READER))));
    for not_an_object in [
        json!([]),
        json!([genuine]),
        json!("GET /reports/{id}"),
        json!(7),
        json!(-0.5),
        json!(null),
        json!(true),
        json!({}),
    ] {
        let case = not_an_object.to_string();
        decide(&authorizer, not_an_object).await.is(&denied(), "malformed_event", &case);
    }
}

#[tokio::test]
async fn a_users_table_that_does_not_exist_is_an_invocation_error_logged_with_the_request_id() {
    let env = authorizer_world().await;
    let broken = TestEnv::over(env.client.clone(), env.tables.without(&env.tables.users), verifier());
    let authorizer = authorizer_of(&broken);
    let token = token_for(READER);
    let decided = decide(&authorizer, event("GET /reports/{id}", Some(&bearer(&token)))).await;
    assert!(decided.answer.is_err(), "a decision that could not read the user: {:?}", decided.answer);
    let failures = lines_of(&decided.logs, &decided.request_id);
    assert!(failures.iter().any(|line| line.contains("backend failure")), "{}", decided.logs);
    assert!(failures.iter().any(|line| line.contains("authorizer failed")), "{}", decided.logs);
    assert!(!decided.logs.contains(&token), "the token was logged: {}", decided.logs);
    // What never needed the table is still decided: fail closed, without the read.
    let unknown_route = decide(&authorizer, event("GET /elsewhere", Some(&bearer(&token)))).await;
    unknown_route.is(&denied(), "unknown_route", "an unknown route");
    let forged = decide(&authorizer, event("GET /reports/{id}", Some("Bearer a.b.c"))).await;
    forged.is(&denied(), "invalid_token", "a forged token");
}

/// DynamoDB's answer when a table is throttled: HTTP 400 with the error type in the body.
const THROTTLED: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Throughput exceeds the current capacity of your table or index."}"#;

#[tokio::test]
async fn throttling_that_outlasts_the_retries_is_an_invocation_error_never_an_allow() {
    let throttled = mock!(Client::get_item).sequence().http_status(400, Some(THROTTLED.into())).repeatedly().build();
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&throttled], |config| config
        .retry_config(retry_config()));
    let routes = RoutePermissions::parse(ROUTE_PERMISSIONS).unwrap();
    let authorizer = Authorizer::new(&client, "users".into(), routes, verifier());
    let decided = decide(&authorizer, event("GET /reports/{id}", Some(&bearer(&token_for(READER))))).await;
    assert!(decided.answer.is_err(), "{:?}", decided.answer);
    assert_eq!(throttled.num_calls(), 3, "the SDK's own retries, then the failure");
    let failures = lines_of(&decided.logs, &decided.request_id);
    assert!(
        failures.iter().any(|line| line.contains("backend failure") && line.contains("Throttling")),
        "{}",
        decided.logs
    );
}

#[tokio::test]
async fn one_log_line_per_decision_with_route_user_allowed_and_latency_never_the_token() {
    let env = authorizer_world().await;
    let authorizer = authorizer_of(&env);
    let (reader, unknown) = (token_for(READER), token_for(UNKNOWN));
    let expired = signed(&json!({ "sub": READER, "exp": now() - 3600 }), JWT_SECRET);
    let cases: [(&str, Option<&str>, &str, &str, &str); 6] = [
        ("GET /reports/{id}", Some(&reader), READER, "true", "allowed"),
        ("POST /reports", Some(&reader), READER, "false", "not_granted"),
        ("GET /reports/{id}", Some(&unknown), UNKNOWN, "false", "unknown_user"),
        ("GET /reports/{id}", Some(&expired), "-", "false", "invalid_token"),
        ("GET /elsewhere", Some(&reader), "-", "false", "unknown_route"),
        ("GET /reports/{id}", None, "-", "false", "missing_token"),
    ];
    for (route_key, token, user, allowed, outcome) in cases {
        let authorization = token.map(bearer);
        let decided = decide(&authorizer, event(route_key, authorization.as_deref())).await;
        let line = decided.line();
        assert_has(
            line,
            &[
                "authorizer decision",
                "endpoint=\"permissions-authorizer\"",
                &format!("route_key=\"{route_key}\""),
                &format!("user=\"{user}\""),
                &format!("allowed={allowed}"),
                &format!("outcome=\"{outcome}\""),
                "latency_us=",
            ],
        );
        if let Some(token) = token {
            let signature = token.rsplit('.').next().unwrap();
            assert!(!decided.logs.contains(signature), "the token was logged: {}", decided.logs);
        }
    }
}

#[tokio::test]
async fn one_strongly_consistent_get_item_per_decision_that_reaches_the_user_and_none_before() {
    let seeded = authorizer_world().await;
    let (env, recorder) = seeded.recorded();
    let authorizer = authorizer_of(&env);
    let reaches_the_user = [
        (READER, "GET /reports/{id}"),
        (READER, "POST /reports"),
        (TEAM, "POST /invitations"),
        (UNKNOWN, "GET /reports/{id}"),
    ];
    for (user, route_key) in reaches_the_user {
        decide(&authorizer, event(route_key, Some(&bearer(&token_for(user))))).await.answer.unwrap();
        let sent = recorder.take();
        let case = format!("{user} on {route_key}");
        assert_eq!(sent.len(), 1, "{case}: {sent:?}");
        assert_eq!(sent[0].operation, "GetItem", "{case}");
        assert_eq!(sent[0].body["ConsistentRead"], true, "{case}: {:?}", sent[0].body);
        assert_eq!(sent[0].body["TableName"], seeded.tables.users.as_str(), "{case}");
        assert_eq!(sent[0].body["Key"], json!({ "user_id": { "S": user } }), "{case}");
    }
    let expired = signed(&json!({ "sub": READER, "exp": now() - 3600 }), JWT_SECRET);
    let decided_before_the_read = [
        event("GET /elsewhere", Some(&bearer(&token_for(READER)))),
        event("GET /reports/{id}", Some(&bearer(&expired))),
        event("GET /reports/{id}", Some("Bearer not-a-jwt")),
        event("GET /reports/{id}", None),
        json!(null),
    ];
    for event in decided_before_the_read {
        let case = event.to_string();
        decide(&authorizer, event).await.answer.unwrap();
        assert_eq!(recorder.take().len(), 0, "{case:.200}: read DynamoDB");
    }
}
