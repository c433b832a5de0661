//! "Changes take effect for the user's next request", proven end to end: API Gateway's HTTP API
//! authorizer step (`local::gateway`: route matching, the payload-2.0 authorizer event, what it
//! makes of the answer) in front of a stub integration, asking the REAL `permissions-authorizer`
//! binary through its Lambda entry point (a stub Runtime API); the grant and the revoke go
//! through the admin API's own endpoints over the same users table on DynamoDB Local.

use permissions_service::local::gateway::{Gate, GatewayRequest, ProtectedApi};
use permissions_service::store::users::USER_ID;
use serde_json::{Value, json};

use crate::authorizer::{NOTHING, ROUTE_PERMISSIONS, authorizer_world, token_for};
use crate::authorizer_process::{AuthorizerProcess, json_lines_of, settings};
use crate::runtime_stub::Posted;
use crate::support::fixtures::admin::{ADMIN, jwt_for};
use crate::support::{AdminAdd, AdminRemove, Event, TestEnv, s};

/// API Gateway in front of the protected API, its authorizer the real binary.
struct Gateway {
    api: ProtectedApi,
    authorizer: AuthorizerProcess,
    requests: usize,
}

/// What the client got, and whether the authorizer was asked.
#[derive(Debug)]
struct Reply {
    status: u16,
    body: Value,
    request_id: String,
    authorizer_asked: bool,
}

impl Gateway {
    fn new(env: &TestEnv) -> Self {
        let api = ProtectedApi::new(crate::authorizer::ROUTES);
        // Every level the subscriber has: no log line at any level may carry a token.
        let authorizer = AuthorizerProcess::start(&settings(env, ROUTE_PERMISSIONS), "trace");
        Self { api, authorizer, requests: 0 }
    }

    fn request(&mut self, method: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
        self.requests += 1;
        let request_id = format!("gateway-request-{}", self.requests);
        let Some(route_key) = self.api.route_key(method, path) else {
            return Reply { status: 404, body: json!({ "message": "Not Found" }), request_id, authorizer_asked: false };
        };
        let headers: Vec<(String, String)> =
            headers.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())).collect();
        let request = GatewayRequest::new(&route_key, method, path, &headers, &request_id);
        let asked_before = self.authorizer.invocations();
        let gate = match request.identity() {
            None => Gate::Unauthorized,
            Some(_) => match self.authorizer.invoke(&request_id, &request.authorizer_event()) {
                Posted::Response { body, .. } => Gate::of_answer::<()>(Ok(&body)),
                Posted::Error { body, .. } => {
                    assert_eq!(body["errorType"], "AuthorizerFailed", "{body}");
                    Gate::of_answer(Err(()))
                }
                Posted::InitError { body } => panic!("an init error mid-run: {body}"),
            },
        };
        let (status, body) = gate.response(&route_key);
        Reply { status, body, request_id, authorizer_asked: self.authorizer.invocations() > asked_before }
    }
}

fn change(event: Event, permissions: &[&str]) -> lambda_http::Request {
    event
        .bearer(&jwt_for(ADMIN))
        .json(&json!({ "payload": { "userId": NOTHING, "permissions": permissions } }))
        .http_api()
}

#[test]
fn a_grant_counts_on_the_very_next_request_and_a_revoke_too() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let env = runtime.block_on(async {
        let env = authorizer_world().await;
        env.put_user(ADMIN, None, Some("admin"), &[]).await;
        env
    });
    let mut gateway = Gateway::new(&env);
    let token = token_for(NOTHING);
    let authorization = format!("Bearer {token}");
    let user = [("Authorization", authorization.as_str())];

    let anonymous = gateway.request("GET", "/reports/7", &[("accept", "application/json")]);
    assert_eq!((anonymous.status, &anonymous.body), (401, &json!({ "message": "Unauthorized" })));
    assert!(!anonymous.authorizer_asked, "API Gateway refuses a request without its identity source itself");

    let before = gateway.request("GET", "/reports/7", &user);
    assert_eq!((before.status, &before.body), (403, &json!({ "message": "Forbidden" })), "holds nothing yet");

    let granted = runtime.block_on(env.call::<AdminAdd>(change(Event::admin(), &["compass.reports.*"])));
    assert_eq!(granted.status, 200, "{granted:?}");
    let after_grant = gateway.request("GET", "/reports/7", &user);
    let integration = json!({
        "message": "The protected integration ran.",
        "routeKey": "GET /reports/{id}",
        "authorizer": { "lambda": { "userId": NOTHING, "grantedBy": "compass.reports.*" } },
    });
    assert_eq!((after_grant.status, &after_grant.body), (200, &integration), "the very next request");
    let list_route = gateway.request("POST", "/reports", &user);
    assert_eq!(list_route.status, 403, "a route that also needs compass.users.invite: {list_route:?}");

    let revoked = runtime.block_on(env.call::<AdminRemove>(change(Event::admin_remove(), &["compass.reports.*"])));
    assert_eq!(revoked.status, 200, "{revoked:?}");
    let after_revoke = gateway.request("GET", "/reports/7", &user);
    assert_eq!((after_revoke.status, &after_revoke.body), (403, &json!({ "message": "Forbidden" })), "the very next");

    // Users kept apart from the rest of the table: the authorizer's read can no longer succeed.
    runtime.block_on(async {
        env.client.delete_table().table_name(&env.tables.users).send().await.unwrap();
        let gone = env.client.get_item().table_name(&env.tables.users).key(USER_ID, s(NOTHING)).send().await;
        assert!(gone.is_err(), "the users table is still there");
    });
    let unreachable = gateway.request("GET", "/reports/7", &user);
    assert_eq!((unreachable.status, &unreachable.body), (500, &json!({ "message": "Internal Server Error" })));
    gateway.authorizer.assert_alive_and_polling();

    let logs = gateway.authorizer.stop();
    assert!(!logs.contains(&token) && !logs.contains(token.rsplit('.').next().unwrap()), "the JWT was logged");
    assert_eq!(json_lines_of(&logs, &anonymous.request_id), Vec::<Value>::new(), "asked without an identity");
    for (reply, allowed, outcome) in
        [(&before, false, "not_granted"), (&after_grant, true, "allowed"), (&after_revoke, false, "not_granted")]
    {
        let decisions: Vec<Value> = json_lines_of(&logs, &reply.request_id)
            .into_iter()
            .filter(|line| line["message"] == "authorizer decision")
            .collect();
        assert_eq!(decisions.len(), 1, "{}: {decisions:?}", reply.request_id);
        let line = &decisions[0];
        assert_eq!(
            (&line["route_key"], &line["user"], &line["allowed"], &line["outcome"]),
            (&json!("GET /reports/{id}"), &json!(NOTHING), &json!(allowed), &json!(outcome)),
            "{line}"
        );
        assert!(line["latency_us"].is_u64(), "{line}");
    }
    let failure = json_lines_of(&logs, &unreachable.request_id);
    assert!(failure.iter().any(|line| line["message"] == "backend failure"), "{failure:?}");
    assert!(failure.iter().any(|line| line["message"] == "authorizer failed"), "{failure:?}");
}
