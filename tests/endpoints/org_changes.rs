//! What the org API's add and remove share, one body each, generic over the endpoint: the same
//! body, checks, statuses and answers, and the same audit record and log lines but for the
//! action. `org_user_permissions.rs` and `org_user_permissions_remove.rs` run each body for their
//! endpoint, beside the tests of what only that endpoint does.

use permissions_service::store::audit::Action;
use serde_json::{Value, json};

use crate::support::changes::{Audited, Logged, action, after, assert_logged};
use crate::support::fixtures::org::*;
use crate::support::{CapturedLogs, Event, TestEndpoint, TestEnv, now};

const MISSING: &str = "f0000000-0000-4000-8000-00000000000f";

/// The seed's target's set in [`world`]: P3 alone before a grant, P1, P2 and P3 before a
/// revoke, so that a change of P1 or P2 changes it either way.
pub fn held<E: TestEndpoint>() -> &'static [&'static str] {
    match action::<E>() {
        Action::Grant => &[P3],
        Action::Revoke => &[P1, P2, P3],
    }
}

/// The org world, the seed's target holding [`held`].
pub async fn world<E: TestEndpoint>() -> TestEnv {
    let env = org_world().await;
    env.put_user(TARGET, Some(ORG_A), None, held::<E>()).await;
    env
}

/// The seed's target's set once `E` changed [`held`] by `uuids`.
pub fn target_after<E: TestEndpoint>(uuids: &[&str]) -> Vec<String> {
    after::<E>(held::<E>(), uuids)
}

/// `E`'s request for `target` and `uuids`, from the editor.
pub fn change<E: TestEndpoint>(target: &str, uuids: &[&str]) -> Event {
    Event::route(E::ROUTE, Some(target)).token(EDITOR_KEY).json(&json!({ "permission_uuids": uuids }))
}

/// `E`'s route for `target`, with no credentials and no body yet.
fn route<E: TestEndpoint>(target: &str) -> Event {
    Event::route(E::ROUTE, Some(target))
}

pub fn forbidden() -> Value {
    json!({ "detail": "You do not have permission to perform this action." })
}

pub fn sorted(uuids: &[&str]) -> Vec<String> {
    let mut uuids: Vec<String> = uuids.iter().map(|uuid| (*uuid).to_owned()).collect();
    uuids.sort();
    uuids.dedup();
    uuids
}

fn invalid_pk(uuid: &str) -> String {
    format!("Invalid pk \"{uuid}\" - object does not exist.")
}

pub async fn the_seed_example_answers_with_sorted_unique_lowercase_uuids<E: TestEndpoint>() {
    let env = world::<E>().await;
    let body = json!({ "permission_uuids": [P1.to_uppercase(), P2, P1] });
    let request = route::<E>(TARGET)
        .token(EDITOR_KEY)
        .header("content-type", "application/json; charset=utf-8")
        .body(&body.to_string());
    let response = env.changes::<E>(request.http_api()).await;
    assert_eq!(response.body, json!({ "user_uuid": TARGET, "permission_uuids": [P2, P1] }));
    assert_eq!(env.permissions_of(TARGET).await.unwrap(), target_after::<E>(&[P1, P2]));
}

pub async fn the_audit_record_names_the_action_target_actor_endpoint_org_and_request_id<E: TestEndpoint>() {
    let env = world::<E>().await;
    let event = change::<E>(&TARGET.to_uppercase(), &[P2, P1.to_uppercase().as_str()]);
    env.changes::<E>(event.http_api()).await;
    let permissions = [P2, P1];
    let request_id = &event.request_id;
    let org_uuid = Some(ORG_A);
    env.audited_once::<E>(Audited { target: TARGET, actor: EDITOR, permissions: &permissions, request_id, org_uuid })
        .await;
}

pub async fn the_path_works_with_and_without_the_trailing_slash_and_in_any_case<E: TestEndpoint>() {
    let env = world::<E>().await;
    let slashless = change::<E>(TARGET, &[P1]).path(&format!("/organizations/users/permissions/{TARGET}"));
    env.changes::<E>(slashless.http_api()).await;
    let response = env.changes::<E>(change::<E>(&TARGET.to_uppercase(), &[P2]).http_api()).await;
    assert_eq!(response.body["user_uuid"], TARGET);
    assert_eq!(env.permissions_of(TARGET).await.unwrap(), target_after::<E>(&[P1, P2]));
}

pub async fn the_token_keyword_is_case_insensitive<E: TestEndpoint>() {
    let env = world::<E>().await;
    for (keyword, uuid) in [("token", P1), ("TOKEN", P2)] {
        let request = route::<E>(TARGET)
            .header("authorization", &format!("{keyword} {EDITOR_KEY}"))
            .json(&json!({ "permission_uuids": [uuid] }));
        env.changes::<E>(request.http_api()).await;
    }
    assert_eq!(env.permissions_of(TARGET).await.unwrap(), target_after::<E>(&[P1, P2]));
}

pub async fn rest_api_events_are_served_too<E: TestEndpoint>() {
    let env = world::<E>().await;
    let response = env.changes::<E>(change::<E>(TARGET, &[P1]).rest_api()).await;
    assert_eq!(response.body, json!({ "user_uuid": TARGET, "permission_uuids": [P1] }));
    assert_eq!(env.permissions_of(TARGET).await.unwrap(), target_after::<E>(&[P1]));
}

pub async fn function_url_events_without_path_parameters_take_the_uuid_from_the_path<E: TestEndpoint>() {
    let env = world::<E>().await;
    let function_url = format!("/lambda-url/{}/organizations/users/permissions/{TARGET}/", E::ROUTE.binary);
    let request = change::<E>(TARGET, &[P1]).without_path_parameters().path(&function_url);
    let response = env.changes::<E>(request.http_api()).await;
    assert_eq!(response.body, json!({ "user_uuid": TARGET, "permission_uuids": [P1] }));
    assert_eq!(env.permissions_of(TARGET).await.unwrap(), target_after::<E>(&[P1]));
    // Without path parameters, a path whose segment is not a uuid is the field error.
    let bad = change::<E>(TARGET, &[P2]).without_path_parameters().path("/organizations/users/permissions/nope/");
    let response = env.refuses::<E>(bad.http_api(), 400).await;
    assert_eq!(response.body, json!({ "user_uuid": ["Must be a valid UUID."] }));
}

pub async fn base64_encoded_bodies_are_decoded<E: TestEndpoint>() {
    let env = world::<E>().await;
    let body = json!({ "permission_uuids": [P1] }).to_string();
    let request =
        route::<E>(TARGET).token(EDITOR_KEY).header("content-type", "application/json").binary_body(body.as_bytes());
    env.changes::<E>(request.http_api()).await;
    assert_eq!(env.permissions_of(TARGET).await.unwrap(), target_after::<E>(&[P1]));
}

pub async fn invalid_fields_are_400_in_drf_shape_and_write_nothing<E: TestEndpoint>() {
    let env = world::<E>().await;
    let too_many: Vec<String> = (0..101).map(|i| format!("00000000-0000-4000-8000-{i:012}")).collect();
    let cases: Vec<(&str, Value, Value)> = vec![
        ("not-a-uuid", json!({ "permission_uuids": [P1] }), json!({ "user_uuid": ["Must be a valid UUID."] })),
        (TARGET, json!({}), json!({ "permission_uuids": ["This field is required."] })),
        (TARGET, json!({ "permission_uuids": null }), json!({ "permission_uuids": ["This field may not be null."] })),
        (
            TARGET,
            json!({ "permission_uuids": P1 }),
            json!({ "permission_uuids": ["Expected a list of items but got type \"str\"."] }),
        ),
        (
            TARGET,
            json!({ "permission_uuids": { "a": P1 } }),
            json!({ "permission_uuids": ["Expected a list of items but got type \"dict\"."] }),
        ),
        (TARGET, json!({ "permission_uuids": [] }), json!({ "permission_uuids": ["This list may not be empty."] })),
        (
            TARGET,
            json!({ "permission_uuids": too_many }),
            json!({ "permission_uuids": ["Ensure this field has no more than 100 elements."] }),
        ),
        (
            TARGET,
            json!({ "permission_uuids": [P1, 7, "2a0295b6dd744239998824fcdb1adcea"] }),
            json!({ "permission_uuids": ["Item 1: Must be a valid UUID.", "Item 2: Must be a valid UUID."] }),
        ),
        (
            "x",
            json!({ "permission_uuids": ["{2a0295b6-dd74-4239-9988-24fcdb1adcea}"] }),
            json!({ "user_uuid": ["Must be a valid UUID."], "permission_uuids": ["Item 0: Must be a valid UUID."] }),
        ),
    ];
    for (target, body, expected) in cases {
        let response = env.refuses::<E>(route::<E>(target).token(EDITOR_KEY).json(&body).http_api(), 400).await;
        assert_eq!(response.body, expected, "for body {body}");
    }
    // 100 items as sent, duplicates included, are accepted.
    env.changes::<E>(change::<E>(TARGET, &[P1; 100]).http_api()).await;
    assert_eq!(env.permissions_of(TARGET).await.unwrap(), target_after::<E>(&[P1]));
}

pub async fn malformed_and_non_object_json_are_400_and_write_nothing<E: TestEndpoint>() {
    let env = world::<E>().await;
    let malformed = route::<E>(TARGET).token(EDITOR_KEY).header("content-type", "application/json");
    let response = env.refuses::<E>(malformed.clone().body("{\"permission_uuids\": [").http_api(), 400).await;
    let detail = response.body["detail"].as_str().unwrap();
    assert!(detail.starts_with("JSON parse error - "), "{detail}");
    assert_eq!(response.body.as_object().unwrap().len(), 1, "{:?}", response.body);
    let response = env.refuses::<E>(malformed.clone().binary_body(b"{\"a\": \"\xff\"}").http_api(), 400).await;
    assert!(response.body["detail"].as_str().unwrap().starts_with("JSON parse error - "));
    for (body, type_name) in
        [("[1]", "list"), ("\"x\"", "str"), ("3", "int"), ("1.5", "float"), ("true", "bool"), ("null", "NoneType")]
    {
        let response = env.refuses::<E>(malformed.clone().body(body).http_api(), 400).await;
        let message = format!("Invalid data. Expected a dictionary, but got {type_name}.");
        assert_eq!(response.body, json!({ "non_field_errors": [message] }), "for {body}");
    }
}

pub async fn unknown_catalog_uuids_are_named_and_nothing_is_written<E: TestEndpoint>() {
    let env = world::<E>().await;
    let response = env.refuses::<E>(change::<E>(TARGET, &[P1, UNKNOWN]).http_api(), 400).await;
    assert_eq!(response.body, json!({ "permission_uuids": [invalid_pk(UNKNOWN)] }));
    // Several are named in order.
    let other_unknown = "99999999-0000-4000-8000-000000000098";
    let response = env.refuses::<E>(change::<E>(TARGET, &[P1, UNKNOWN, other_unknown]).http_api(), 400).await;
    assert_eq!(response.body, json!({ "permission_uuids": [invalid_pk(other_unknown), invalid_pk(UNKNOWN)] }));
    assert_eq!(env.permissions_of(TARGET).await.unwrap(), sorted(held::<E>()));
}

pub async fn bodies_that_are_not_json_get_415<E: TestEndpoint>() {
    let env = world::<E>().await;
    let base = route::<E>(TARGET).token(EDITOR_KEY);
    let body = json!({ "permission_uuids": [P1] }).to_string();
    let plain = base.clone().header("content-type", "text/plain").body(&body);
    let response = env.refuses::<E>(plain.http_api(), 415).await;
    assert_eq!(response.body, json!({ "detail": "Unsupported media type \"text/plain\" in request." }));
    let form = base.clone().header("content-type", "application/x-www-form-urlencoded").body("a=b");
    let response = env.refuses::<E>(form.http_api(), 415).await;
    assert_eq!(
        response.body,
        json!({ "detail": "Unsupported media type \"application/x-www-form-urlencoded\" in request." })
    );
    let missing = env.refuses::<E>(base.body(&body).http_api(), 415).await;
    assert_eq!(missing.body, json!({ "detail": "Unsupported media type \"\" in request." }));
}

pub async fn unauthenticated_requests_get_401_with_a_token_challenge<E: TestEndpoint>() {
    let env = world::<E>().await;
    env.put_token("expired-key", EDITOR, Some(now() - 1)).await;
    env.put_token("orphaned-key", "e0000000-0000-4000-8000-0000000000ff", None).await;
    let body = json!({ "permission_uuids": [P1] });
    let not_provided = json!({ "detail": "Authentication credentials were not provided." });
    let invalid = json!({ "detail": "Invalid token." });
    let cases: Vec<(Event, &Value)> = vec![
        (route::<E>(TARGET), &not_provided),
        (route::<E>(TARGET).header("authorization", &format!("Bearer {EDITOR_KEY}")), &not_provided),
        (route::<E>(TARGET).header("authorization", "Token"), &invalid),
        (route::<E>(TARGET).header("authorization", &format!("Token {EDITOR_KEY} extra")), &invalid),
        (route::<E>(TARGET).token("no-such-key"), &invalid),
        (route::<E>(TARGET).token("expired-key"), &invalid),
        (route::<E>(TARGET).token("orphaned-key"), &invalid),
        (route::<E>(TARGET).token(EDITOR_KEY).token(EDITOR_KEY), &invalid),
    ];
    for (event, expected) in cases {
        let response = env.refuses::<E>(event.json(&body).http_api(), 401).await;
        assert_eq!(&response.body, expected);
        assert_eq!(response.headers["www-authenticate"], "Token");
    }
}

pub async fn callers_without_the_right_or_without_an_org_get_403<E: TestEndpoint>() {
    let env = world::<E>().await;
    for key in [PLAIN_KEY, ORGLESS_KEY] {
        let request = route::<E>(TARGET).token(key).json(&json!({ "permission_uuids": [P1] }));
        assert_eq!(env.refuses::<E>(request.http_api(), 403).await.body, forbidden(), "{key}");
    }
    // Not even on itself: a plain member cannot change its own permissions.
    let own = route::<E>(PLAIN).token(PLAIN_KEY).json(&json!({ "permission_uuids": [P1] }));
    assert_eq!(env.refuses::<E>(own.http_api(), 403).await.body, forbidden());
}

pub async fn the_warm_catalog_cache_never_authorizes_on_its_own<E: TestEndpoint>() {
    let env = world::<E>().await;
    env.changes::<E>(change::<E>(TARGET, &[P1]).http_api()).await;
    // The right's catalog entry changes after this process cached it.
    env.put_permission(EDIT_RIGHT, "view_users").await;
    assert_eq!(env.refuses::<E>(change::<E>(TARGET, &[P2]).http_api(), 403).await.body, forbidden());
}

pub async fn a_missing_target_is_404_and_is_not_created<E: TestEndpoint>() {
    let env = world::<E>().await;
    let response = env.refuses::<E>(change::<E>(MISSING, &[P1]).http_api(), 404).await;
    assert_eq!(response.body, json!({ "detail": "Not found." }));
    assert!(env.user(MISSING).await.is_none());
}

pub async fn a_user_of_another_org_is_indistinguishable_from_a_missing_one<E: TestEndpoint>() {
    let env = world::<E>().await;
    // Held by the outsider, and not held: both the 404 of a missing user, and nothing changes.
    for uuids in [&[P3][..], &[P1][..], &[P1, P3][..]] {
        let other_org = env.refuses::<E>(change::<E>(OUTSIDER, uuids).http_api(), 404).await;
        let missing = env.refuses::<E>(change::<E>(MISSING, uuids).http_api(), 404).await;
        assert_eq!(other_org.body, json!({ "detail": "Not found." }));
        assert_eq!((other_org.body, other_org.headers), (missing.body, missing.headers));
    }
    assert_eq!(env.permissions_of(OUTSIDER).await.unwrap(), vec![P3]);
    // A user with no organization is outside every organization.
    let orgless = env.refuses::<E>(change::<E>(ORGLESS, &[EDIT_RIGHT]).http_api(), 404).await;
    assert_eq!(orgless.body, json!({ "detail": "Not found." }));
    assert_eq!(env.permissions_of(ORGLESS).await.unwrap(), vec![EDIT_RIGHT]);
}

pub async fn bodies_over_64_kib_get_413_before_authentication<E: TestEndpoint>() {
    let env = world::<E>().await;
    let huge = format!("{{\"permission_uuids\": [\"{}\"]}}", "a".repeat(64 * 1024));
    let request = route::<E>(TARGET).header("content-type", "application/json").body(&huge);
    let response = env.refuses::<E>(request.http_api(), 413).await;
    assert_eq!(response.body, json!({ "detail": "Request body must not exceed 65536 bytes." }));
    // At the limit exactly, the body is read (and here, the missing credentials answer).
    let pad = 64 * 1024 - format!("{{\"permission_uuids\": [\"{P1}\"], \"pad\": \"\"}}").len();
    let at_limit = format!("{{\"permission_uuids\": [\"{P1}\"], \"pad\": \"{}\"}}", "a".repeat(pad));
    assert_eq!(at_limit.len(), 64 * 1024);
    let request = route::<E>(TARGET).header("content-type", "application/json").body(&at_limit);
    env.refuses::<E>(request.http_api(), 401).await;
    let request = route::<E>(TARGET).token(EDITOR_KEY).header("content-type", "application/json");
    env.changes::<E>(request.body(&at_limit).http_api()).await;
}

pub async fn checks_run_in_the_contract_order<E: TestEndpoint>() {
    let env = world::<E>().await;
    let huge = format!("{{\"permission_uuids\": [\"{}\"]}}", "a".repeat(64 * 1024));
    let bad_body = json!({ "permission_uuids": "nope" });
    let bad_body_error = json!({ "permission_uuids": ["Expected a list of items but got type \"str\"."] });
    let unknown = json!({ "permission_uuids": [UNKNOWN] });
    let unknown_error = json!({ "permission_uuids": [invalid_pk(UNKNOWN)] });
    let not_found = json!({ "detail": "Not found." });

    // The route comes before the body's size.
    let other_method = if E::ROUTE.method.as_str() == "PATCH" { "DELETE" } else { "PATCH" };
    let wrong_method = route::<E>(TARGET).method(other_method).header("content-type", "application/json");
    let response = env.refuses::<E>(wrong_method.body(&huge).http_api(), 404).await;
    assert_eq!(response.body, json!({ "message": "Not Found" }));
    // The body's size comes before authentication.
    let response = env.refuses::<E>(route::<E>(TARGET).token("no-such-key").body(&huge).http_api(), 413).await;
    assert!(response.body["detail"].as_str().unwrap().contains("65536"));
    // Authentication comes before the request's form: none, and an invalid key.
    let response = env.refuses::<E>(route::<E>("nope").json(&bad_body).http_api(), 401).await;
    assert_eq!(response.body, json!({ "detail": "Authentication credentials were not provided." }));
    let invalid = route::<E>("nope").token("no-such-key").header("content-type", "text/plain").body("x");
    assert_eq!(env.refuses::<E>(invalid.http_api(), 401).await.body, json!({ "detail": "Invalid token." }));
    // The form comes before the right: a field error, a media type, malformed JSON.
    let plain = |target: &str| route::<E>(target).token(PLAIN_KEY);
    let response = env.refuses::<E>(plain(TARGET).json(&bad_body).http_api(), 400).await;
    assert_eq!(response.body, bad_body_error);
    let response = env.refuses::<E>(plain("nope").json(&unknown).http_api(), 400).await;
    assert_eq!(response.body, json!({ "user_uuid": ["Must be a valid UUID."] }));
    let text = plain(TARGET).header("content-type", "text/plain").body("{}");
    assert_eq!(env.refuses::<E>(text.http_api(), 415).await.status, 415);
    let broken = plain(TARGET).header("content-type", "application/json").body("{");
    assert!(env.refuses::<E>(broken.http_api(), 400).await.body["detail"].is_string());
    // The right comes before the catalog and the target: the catalog is not revealed, nor is
    // whether the target exists, to a caller without the right or without an org.
    for key in [PLAIN_KEY, ORGLESS_KEY] {
        for target in [TARGET, MISSING, OUTSIDER] {
            let request = route::<E>(target).token(key).json(&unknown);
            assert_eq!(env.refuses::<E>(request.http_api(), 403).await.body, forbidden(), "{key} {target}");
            let request = route::<E>(target).token(key).json(&json!({ "permission_uuids": [P1] }));
            assert_eq!(env.refuses::<E>(request.http_api(), 403).await.body, forbidden(), "{key} {target}");
        }
    }
    // The catalog comes before the write: unknown uuids are a 400 for any target.
    for target in [MISSING, OUTSIDER, TARGET] {
        let response = env.refuses::<E>(change::<E>(target, &[P1, UNKNOWN]).http_api(), 400).await;
        assert_eq!(response.body, unknown_error, "{target}");
    }
    // Then the write: the target is missing or out of scope.
    assert_eq!(env.refuses::<E>(change::<E>(MISSING, &[P1]).http_api(), 404).await.body, not_found);
    assert_eq!(env.permissions_of(TARGET).await.unwrap(), sorted(held::<E>()));
}

/// `E` answers every other method and path as API Gateway would, and so does `Sibling`, the
/// other change endpoint of the same path, to `E`'s own request.
pub async fn unknown_routes_and_methods_answer_like_api_gateway<E: TestEndpoint, Sibling: TestEndpoint>() {
    let env = world::<E>().await;
    let not_found = json!({ "message": "Not Found" });
    let other_methods =
        ["PATCH", "POST", "GET", "PUT", "DELETE"].into_iter().filter(|method| E::ROUTE.method.as_str() != *method);
    let mut events: Vec<Event> = other_methods.map(|method| change::<E>(TARGET, &[P1]).method(method)).collect();
    events.extend([
        change::<E>(TARGET, &[P1]).path("/organizations/users/permission/x/"),
        change::<E>(TARGET, &[P1]).path(&format!("/organizations/users/permissions/{TARGET}/extra/")),
        change::<E>(TARGET, &[P1]).path("/"),
    ]);
    for event in events {
        assert_eq!(env.refuses::<E>(event.http_api(), 404).await.body, not_found, "{event:?}");
    }
    assert_eq!(env.refuses::<Sibling>(change::<E>(TARGET, &[P1]).http_api(), 404).await.body, not_found);
}

pub async fn a_backend_failure_is_a_500_logged_with_the_request_id_and_changes_nothing<E: TestEndpoint>() {
    let env = world::<E>().await;
    let (response, logs) = env.fails_without::<E>(&env.tables.audit, &change::<E>(TARGET, &[P1])).await;
    assert_eq!(response.body, json!({ "detail": "A server error occurred." }));
    assert!(logs.contains("ResourceNotFoundException"), "{logs}");
    assert!(!logs.contains(EDITOR_KEY), "the token leaked into the log: {logs}");
}

/// A change, a no-op and a refusal: each one request line with its id, outcome and latency; the
/// change and the no-op an audit line each; never a token.
pub async fn a_change_logs_its_request_line_and_an_audit_line_and_never_the_token<E: TestEndpoint>() {
    let env = world::<E>().await;
    let logs = CapturedLogs::start();
    let changed = change::<E>(TARGET, &[P2, P1]);
    env.changes::<E>(changed.http_api()).await;
    let no_op = change::<E>(TARGET, &[P2]);
    env.changes::<E>(no_op.http_api()).await;
    let refused = route::<E>(TARGET).token("a-wrong-key-that-must-not-be-logged").json(&json!({}));
    env.refuses::<E>(refused.http_api(), 401).await;
    let text = logs.text();
    let requests = text.lines().filter(|line| line.contains("request completed")).count();
    assert_eq!(requests, 3, "one request line per request: {text}");
    let permissions = format!("{P2},{P1}");
    assert_logged::<E>(
        &text,
        Logged {
            changed: &changed,
            no_op: &no_op,
            refused: &refused,
            refused_status: 401,
            refused_outcome: "invalid_token",
            actor: EDITOR,
            target: TARGET,
            permissions: &permissions,
        },
    );
    assert!(!text.contains(EDITOR_KEY) && !text.contains("a-wrong-key"), "a token leaked: {text}");
}
