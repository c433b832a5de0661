//! What the admin API's add and remove share, one body each, generic over the endpoint: the same
//! body, checks, statuses and error answers, and the same success but for its message.
//! `user_add_permissions.rs` and `user_remove_permissions.rs` run each body for their endpoint,
//! beside the tests of what only that endpoint does.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use permissions_service::store::audit::Action;
use serde_json::{Value, json};

use crate::support::changes::{Audited, Logged, action, after, assert_logged};
use crate::support::fixtures::admin::*;
use crate::support::{CapturedLogs, Event, JWT_SECRET, TestEndpoint, TestEnv, now};

/// The seed document's example request.
pub const SEED_PERMISSIONS: [&str; 3] =
    ["compass.dashboard.*", "compass.dashboard.overview", "compass.emailmeter.stats"];

/// One of the seed's permissions: changing it changes the target's set in [`world`] either way.
const ONE: &str = "compass.emailmeter.stats";

/// The seed's target's set in [`world`]: its own alone before a grant, the seed's example and its
/// own before a revoke, so that a change of the seed's example changes it either way.
pub fn held<E: TestEndpoint>() -> &'static [&'static str] {
    match action::<E>() {
        Action::Grant => &["compass.users.*"],
        Action::Revoke => {
            &["compass.dashboard.*", "compass.dashboard.overview", "compass.emailmeter.stats", "compass.users.*"]
        }
    }
}

/// The admin world, the seed's target holding [`held`].
pub async fn world<E: TestEndpoint>() -> TestEnv {
    let env = admin_world().await;
    env.put_user(TARGET, None, Some("user"), held::<E>()).await;
    env
}

/// The seed's target's set once `E` changed [`held`] by `permissions`.
pub fn target_after<E: TestEndpoint>(permissions: &[&str]) -> Vec<String> {
    after::<E>(held::<E>(), permissions)
}

/// `E`'s request from `caller` for `target` and `permissions`.
pub fn change<E: TestEndpoint>(caller: &str, target: &str, permissions: &[&str]) -> Event {
    route::<E>().bearer(&jwt_for(caller)).json(&json!({ "payload": { "userId": target, "permissions": permissions } }))
}

/// `E`'s route, with no credentials and no body yet.
fn route<E: TestEndpoint>() -> Event {
    Event::route(E::ROUTE, None)
}

pub fn error(code: &str, message: &str) -> Value {
    json!({ "error": { "code": code, "message": message } })
}

/// `E`'s answer to a change.
pub fn success<E: TestEndpoint>() -> Value {
    let message = match action::<E>() {
        Action::Grant => "Successfully added permissions for this user.",
        Action::Revoke => "Successfully removed permissions for this user.",
    };
    json!({ "message": message, "data": {} })
}

/// `E`'s answer to a caller that is not an admin.
pub fn forbidden<E: TestEndpoint>() -> Value {
    let what = match action::<E>() {
        Action::Grant => "add permissions",
        Action::Revoke => "remove permissions",
    };
    error("FORBIDDEN", &format!("Insufficient permissions: only admins can {what}."))
}

pub fn not_found() -> Value {
    error("USER_NOT_FOUND", "User with this ID does not exist.")
}

pub fn invalid_token() -> Value {
    error("UNAUTHORIZED", "Invalid or expired authentication token.")
}

pub fn is_validation_error(body: &Value) -> bool {
    body["error"]["code"] == "VALIDATION_ERROR"
        && body["error"]["message"].as_str().is_some_and(|message| !message.is_empty())
        && body.as_object().is_some_and(|fields| fields.len() == 1)
        && body["error"].as_object().is_some_and(|fields| fields.len() == 2)
}

fn forged(header: &Value, claims: &Value, signature: &str) -> String {
    let part = |value: &Value| URL_SAFE_NO_PAD.encode(value.to_string());
    format!("{}.{}.{signature}", part(header), part(claims))
}

pub async fn the_seed_example_is_changed_and_audited<E: TestEndpoint>() {
    let env = world::<E>().await;
    let event = change::<E>(ADMIN, TARGET, &SEED_PERMISSIONS);
    let response = env.changes::<E>(event.http_api()).await;
    assert_eq!(response.body, success::<E>());
    assert_eq!(env.permissions_of(TARGET).await.unwrap(), target_after::<E>(&SEED_PERMISSIONS));
    let records = env.audit_of(TARGET).await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].actor_id, ADMIN);
    assert_eq!(records[0].endpoint, E::ROUTE.binary);
    assert_eq!(records[0].request_id, event.request_id);
    assert_eq!(records[0].permissions, SEED_PERMISSIONS);
}

pub async fn the_audit_record_names_the_action_target_actor_endpoint_permissions_and_request_id<E: TestEndpoint>() {
    let env = world::<E>().await;
    let event = change::<E>(ADMIN, &TARGET.to_uppercase(), &["compass.emailmeter.stats", "compass.dashboard.*"]);
    env.changes::<E>(event.http_api()).await;
    let permissions = ["compass.dashboard.*", "compass.emailmeter.stats"];
    let request_id = &event.request_id;
    let audited = Audited { target: TARGET, actor: ADMIN, permissions: &permissions, request_id, org_uuid: None };
    let item = env.audited_once::<E>(audited).await;
    assert!(!item.contains_key("org_uuid"), "{item:?}");
}

pub async fn rest_api_events_are_served_too<E: TestEndpoint>() {
    let env = world::<E>().await;
    let response = env.changes::<E>(change::<E>(ADMIN, TARGET, &[ONE]).rest_api()).await;
    assert_eq!(response.body, success::<E>());
    assert_eq!(env.permissions_of(TARGET).await.unwrap(), target_after::<E>(&[ONE]));
}

pub async fn invalid_requests_are_validation_errors_and_write_nothing<E: TestEndpoint>() {
    let env = world::<E>().await;
    let too_many: Vec<String> = (0..101).map(|i| format!("compass.m{i}")).collect();
    let bodies = vec![
        json!({}),
        json!([]),
        json!({ "payload": null }),
        json!({ "payload": [] }),
        json!({ "payload": { "permissions": ["compass.users.*"] } }),
        json!({ "payload": { "userId": 5, "permissions": ["compass.users.*"] } }),
        json!({ "payload": { "userId": "68bb46bb4db8c853599f1eb", "permissions": ["compass.users.*"] } }),
        json!({ "payload": { "userId": "68bb46bb4db8c853599f1ebz", "permissions": ["compass.users.*"] } }),
        json!({ "payload": { "userId": TARGET } }),
        json!({ "payload": { "userId": TARGET, "permissions": "compass.users.*" } }),
        json!({ "payload": { "userId": TARGET, "permissions": [] } }),
        json!({ "payload": { "userId": TARGET, "permissions": too_many } }),
        json!({ "payload": { "userId": TARGET, "permissions": ["compass.users.*", null] } }),
        json!({ "payload": { "userId": TARGET, "permissions": ["compass"] } }),
        json!({ "payload": { "userId": TARGET, "permissions": ["Compass.users"] } }),
        json!({ "payload": { "userId": TARGET, "permissions": ["compass.users.*.x"] } }),
        json!({ "payload": { "userId": TARGET, "permissions": ["compass.1users"] } }),
        json!({ "payload": { "userId": TARGET, "permissions": ["compass.*"] } }),
        json!({ "payload": { "userId": TARGET, "permissions": [format!("compass.{}", "a".repeat(65))] } }),
    ];
    for body in bodies {
        let request = route::<E>().bearer(&jwt_for(ADMIN)).json(&body);
        let response = env.refuses::<E>(request.http_api(), 400).await;
        assert!(is_validation_error(&response.body), "for {body}: {:?}", response.body);
    }
    let base = route::<E>().bearer(&jwt_for(ADMIN));
    let valid = json!({ "payload": { "userId": TARGET, "permissions": ["compass.users.*"] } }).to_string();
    let cases = [
        (base.clone().header("content-type", "application/json").body("{\"payload\": "), None),
        (
            base.clone().header("content-type", "text/plain").body(&valid),
            Some("Content-Type must be application/json."),
        ),
        (base.clone().body(&valid), Some("Content-Type must be application/json.")),
        (base.clone().header("content-type", "application/json"), Some("Request body is required.")),
    ];
    for (request, message) in cases {
        let response = env.refuses::<E>(request.http_api(), 400).await;
        assert!(is_validation_error(&response.body), "{:?}", response.body);
        if let Some(message) = message {
            assert_eq!(response.body, error("VALIDATION_ERROR", message));
        }
    }
    assert_eq!(env.permissions_of(TARGET).await.unwrap(), held::<E>());
}

pub async fn bad_tokens_get_401_with_a_bearer_challenge<E: TestEndpoint>() {
    let env = world::<E>().await;
    let claims = json!({ "sub": ADMIN, "exp": now() + 600 });
    let genuine = jwt_for(ADMIN);
    let stripped = genuine.rsplit_once('.').unwrap().0.to_owned() + ".";
    let hs512 = encode(&Header::new(Algorithm::HS512), &claims, &EncodingKey::from_secret(JWT_SECRET.as_bytes()));
    let wrong_key = encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(&[7; 32])).unwrap();
    let tokens = vec![
        ("alg none", forged(&json!({ "alg": "none", "typ": "JWT" }), &claims, "")),
        ("alg None", forged(&json!({ "alg": "None" }), &claims, "")),
        ("HS512", hs512.unwrap()),
        ("wrong key", wrong_key),
        ("stripped signature", stripped),
        ("expired", jwt(&json!({ "sub": ADMIN, "exp": now() - 120 }))),
        ("no exp", jwt(&json!({ "sub": ADMIN }))),
        ("no sub", jwt(&json!({ "exp": now() + 600 }))),
        ("empty sub", jwt(&json!({ "sub": "", "exp": now() + 600 }))),
        ("not yet valid", jwt(&json!({ "sub": ADMIN, "exp": now() + 600, "nbf": now() + 300 }))),
        ("unknown caller", jwt_for(NOBODY)),
        ("garbage", "not.a.jwt".to_owned()),
    ];
    let body = json!({ "payload": { "userId": TARGET, "permissions": [ONE] } });
    for (name, token) in tokens {
        let response = env.refuses::<E>(route::<E>().bearer(&token).json(&body).http_api(), 401).await;
        assert_eq!(response.body, invalid_token(), "{name}");
        assert_eq!(response.headers["www-authenticate"], "Bearer", "{name}");
    }
    let missing = error("UNAUTHORIZED", "Missing authentication token.");
    for (header, expected) in [
        ("", &missing),
        ("Token abc", &missing),
        ("Bearer", &invalid_token()),
        (&format!("Basic {genuine}"), &missing),
        (&format!("Bearer {genuine} x"), &invalid_token()),
    ] {
        let mut event = route::<E>().json(&body);
        if !header.is_empty() {
            event = event.header("authorization", header);
        }
        let response = env.refuses::<E>(event.http_api(), 401).await;
        assert_eq!(&response.body, expected, "{header}");
        assert_eq!(response.headers["www-authenticate"], "Bearer", "{header}");
    }
    assert_eq!(env.permissions_of(TARGET).await.unwrap(), held::<E>());
}

pub async fn non_admins_get_403_and_a_demoted_admin_is_stopped_at_once<E: TestEndpoint>() {
    let env = world::<E>().await;
    let response = env.refuses::<E>(change::<E>(MEMBER, TARGET, &[ONE]).http_api(), 403).await;
    assert_eq!(response.body, forbidden::<E>());
    // Not even on itself.
    let response = env.refuses::<E>(change::<E>(MEMBER, MEMBER, &["compass.dashboard.overview"]).http_api(), 403).await;
    assert_eq!(response.body, forbidden::<E>());
    // A user without a role is no admin either.
    env.put_user(BARE, None, None, &[]).await;
    env.refuses::<E>(change::<E>(BARE, TARGET, &[ONE]).http_api(), 403).await;

    env.changes::<E>(change::<E>(ADMIN, TARGET, &[ONE]).http_api()).await;
    env.put_user(ADMIN, None, Some("user"), &["compass.users.*"]).await;
    let response = env.refuses::<E>(change::<E>(ADMIN, MEMBER, &["compass.a"]).http_api(), 403).await;
    assert_eq!(response.body, forbidden::<E>());
    let response = env.refuses::<E>(change::<E>(ADMIN, ADMIN, &["compass.users.*"]).http_api(), 403).await;
    assert_eq!(response.body, forbidden::<E>());
    assert_eq!(env.permissions_of(MEMBER).await.unwrap(), ["compass.dashboard.overview"]);
}

pub async fn a_deleted_admin_is_401_even_when_changing_itself<E: TestEndpoint>() {
    let env = world::<E>().await;
    let token = jwt_for(ADMIN);
    env.delete_user(ADMIN).await;
    for target in [ADMIN, TARGET] {
        let body = json!({ "payload": { "userId": target, "permissions": ["compass.users.*"] } });
        let response = env.refuses::<E>(route::<E>().bearer(&token).json(&body).http_api(), 401).await;
        assert_eq!(response.body, invalid_token());
    }
    assert!(env.user(ADMIN).await.is_none(), "a change to itself must not recreate a deleted caller");
}

pub async fn a_missing_target_is_404_and_is_not_created<E: TestEndpoint>() {
    let env = world::<E>().await;
    let response = env.refuses::<E>(change::<E>(ADMIN, NOBODY, &["compass.users.*"]).http_api(), 404).await;
    assert_eq!(response.body, not_found());
    assert!(env.user(NOBODY).await.is_none());
}

pub async fn bodies_over_64_kib_get_413_before_authentication<E: TestEndpoint>() {
    let env = world::<E>().await;
    let huge = "x".repeat(64 * 1024 + 1);
    let request = route::<E>().header("content-type", "application/json").body(&huge);
    let response = env.refuses::<E>(request.http_api(), 413).await;
    assert_eq!(response.body, error("PAYLOAD_TOO_LARGE", "Request body must not exceed 65536 bytes."));
}

pub async fn checks_run_in_the_contract_order<E: TestEndpoint>() {
    let env = world::<E>().await;
    let bad_body = json!({ "payload": { "userId": "nope", "permissions": [] } });
    let huge = "x".repeat(64 * 1024 + 1);
    // The route before the size, the size before authentication.
    let wrong_method = route::<E>().method("PATCH").header("content-type", "application/json");
    let response = env.refuses::<E>(wrong_method.body(&huge).http_api(), 404).await;
    assert_eq!(response.body, json!({ "message": "Not Found" }));
    let response = env.refuses::<E>(route::<E>().bearer("x").body(&huge).http_api(), 413).await;
    assert_eq!(response.body["error"]["code"], "PAYLOAD_TOO_LARGE");
    // Authentication before the form, for a missing token, a bad one, and an unknown caller.
    let response = env.refuses::<E>(route::<E>().json(&bad_body).http_api(), 401).await;
    assert_eq!(response.body, error("UNAUTHORIZED", "Missing authentication token."));
    let response = env.refuses::<E>(route::<E>().bearer("x").json(&bad_body).http_api(), 401).await;
    assert_eq!(response.body, invalid_token());
    let unknown = route::<E>().bearer(&jwt_for(NOBODY)).json(&bad_body);
    assert_eq!(env.refuses::<E>(unknown.http_api(), 401).await.body, invalid_token());
    let unknown = route::<E>().bearer(&jwt_for(NOBODY)).header("content-type", "text/plain").body("x");
    assert_eq!(env.refuses::<E>(unknown.http_api(), 401).await.body, invalid_token());
    // The form before the right.
    let response = env.refuses::<E>(route::<E>().bearer(&jwt_for(MEMBER)).json(&bad_body).http_api(), 400).await;
    assert!(is_validation_error(&response.body), "{:?}", response.body);
    // The right before the target: a non-admin learns nothing about it.
    for target in [NOBODY, TARGET, MEMBER] {
        let response = env.refuses::<E>(change::<E>(MEMBER, target, &["compass.users.*"]).http_api(), 403).await;
        assert_eq!(response.body, forbidden::<E>(), "{target}");
    }
    // An unknown caller naming a missing target is still the 401.
    let response = env.refuses::<E>(change::<E>(NOBODY, NOBODY, &["compass.users.*"]).http_api(), 401).await;
    assert_eq!(response.body, invalid_token());
    let response = env.refuses::<E>(change::<E>(ADMIN, NOBODY, &["compass.a"]).http_api(), 404).await;
    assert_eq!(response.body, not_found());
}

/// `E` answers every other method and path as API Gateway would, and so does `Sibling`, the
/// other change endpoint, to `E`'s own request.
pub async fn unknown_routes_and_methods_answer_like_api_gateway<E: TestEndpoint, Sibling: TestEndpoint>() {
    let env = world::<E>().await;
    let not_found = json!({ "message": "Not Found" });
    let request = || change::<E>(ADMIN, TARGET, &["compass.users.*"]);
    let other_methods =
        ["PATCH", "POST", "GET", "PUT", "DELETE"].into_iter().filter(|method| E::ROUTE.method.as_str() != *method);
    let mut events: Vec<Event> = other_methods.map(|method| request().method(method)).collect();
    let path = E::ROUTE.path;
    let misspelt = path.strip_suffix('s').expect("a path that ends in -permissions");
    events.extend([
        request().path(Sibling::ROUTE.path),
        request().path(misspelt),
        request().path(&format!("{path}/x")),
    ]);
    for event in events {
        assert_eq!(env.refuses::<E>(event.http_api(), 404).await.body, not_found, "{event:?}");
    }
    assert_eq!(env.refuses::<Sibling>(request().http_api(), 404).await.body, not_found);
}

/// Either table a change writes missing: a 500 in the admin shape, and no credential logged.
pub async fn a_backend_failure_is_a_500_logged_with_the_request_id_and_no_token<E: TestEndpoint>() {
    let env = world::<E>().await;
    for table in [&env.tables.users, &env.tables.audit] {
        let (response, logs) = env.fails_without::<E>(table, &change::<E>(ADMIN, TARGET, &[ONE])).await;
        assert_eq!(response.body, error("SERVER_ERROR", "Internal server error"), "{table}");
        let token = jwt_for(ADMIN);
        let signature = token.rsplit('.').next().unwrap();
        assert!(!logs.contains(signature) && !logs.contains(JWT_SECRET), "a credential leaked into the log: {logs}");
    }
}

/// A change, a no-op and a refusal: each one request line; the change and the no-op an audit
/// line each.
pub async fn a_change_logs_its_request_line_and_an_audit_line<E: TestEndpoint>() {
    let env = world::<E>().await;
    let logs = CapturedLogs::start();
    let changed = change::<E>(ADMIN, TARGET, &["compass.users.*", "compass.hubspot.*"]);
    env.changes::<E>(changed.http_api()).await;
    let no_op = change::<E>(ADMIN, TARGET, &["compass.users.*"]);
    env.changes::<E>(no_op.http_api()).await;
    let refused = change::<E>(MEMBER, TARGET, &["compass.users.*"]);
    env.refuses::<E>(refused.http_api(), 403).await;
    let permissions = "compass.hubspot.*,compass.users.*";
    assert_logged::<E>(
        &logs.text(),
        Logged {
            changed: &changed,
            no_op: &no_op,
            refused: &refused,
            refused_status: 403,
            refused_outcome: "forbidden",
            actor: ADMIN,
            target: TARGET,
            permissions,
        },
    );
}
