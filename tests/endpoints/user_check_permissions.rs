//! `POST /user/check-permissions` end to end on DynamoDB Local, against SPEC's "Endpoint: POST
//! /user/check-permissions" and "Enforcement" and docs/api.md: a user checks itself, an admin
//! anyone; 413, 401, 400, 403, 404 in that order; one result per distinct permission asked, decided
//! by the implication table; strongly consistent, one DynamoDB round trip, never a write, never
//! audited, an `Idempotency-Key` ignored.

use serde_json::{Value, json};

use crate::admin_changes::{error, invalid_token, is_validation_error, not_found};
use crate::support::fixtures::admin::*;
use crate::support::logs::{assert_has, lines_of};
use crate::support::recorder::{Sent, assert_consistent_reads_only};
use crate::support::{AdminAdd, AdminCheck, AdminRemove, CapturedLogs, Event, JWT_SECRET, now};

const CHECKED: &str = "Successfully checked permissions for this user.";
const FORBIDDEN: &str = "Insufficient permissions: only admins can check another user's permissions.";
const TOO_LARGE: &str = "Request body must not exceed 65536 bytes.";

/// `caller`'s check of `payload` (the object under `"payload"`).
fn check(caller: &str, payload: Value) -> Event {
    Event::admin_check().bearer(&jwt_for(caller)).json(&json!({ "payload": payload }))
}

/// `caller` checks itself, naming no user.
fn self_check(caller: &str, permissions: &[&str]) -> Event {
    check(caller, json!({ "permissions": permissions }))
}

/// `caller` checks `target` by id.
fn check_of(caller: &str, target: &str, permissions: &[&str]) -> Event {
    check(caller, json!({ "userId": target, "permissions": permissions }))
}

/// The 200 answer for `user_id`: each permission asked, with the held permission expected to
/// grant it (none: not allowed).
fn checked(user_id: &str, results: &[(&str, Option<&str>)]) -> Value {
    let results: Vec<Value> = results
        .iter()
        .map(|(permission, by)| json!({ "permission": permission, "allowed": by.is_some(), "grantedBy": by }))
        .collect();
    let allowed = results.iter().all(|result| result["allowed"] == true);
    json!({ "message": CHECKED, "data": { "userId": user_id, "allowed": allowed, "results": results } })
}

fn forbidden() -> Value {
    error("FORBIDDEN", FORBIDDEN)
}

/// An admin's change (`event`: add or remove) of `target`'s `permissions`.
fn change(event: Event, target: &str, permissions: &[&str]) -> Event {
    event.bearer(&jwt_for(ADMIN)).json(&json!({ "payload": { "userId": target, "permissions": permissions } }))
}

#[tokio::test]
async fn answers_the_example_of_docs_api_md() {
    // The admin world's target is the docs' user, holding compass.users.*.
    let env = admin_world().await;
    let event = check_of(ADMIN, TARGET, &["compass.users.invite", "compass.dashboard.export"]);
    let response = env.reads::<AdminCheck>(event.http_api()).await;
    let documented = json!({
        "message": "Successfully checked permissions for this user.",
        "data": { "userId": "68bb46bb4db8c853599f1ebb", "allowed": false,
                  "results": [{ "permission": "compass.users.invite", "allowed": true, "grantedBy": "compass.users.*" },
                              { "permission": "compass.dashboard.export", "allowed": false, "grantedBy": null }] }
    });
    assert_eq!(response.body, documented);
    assert_eq!(response.headers["content-type"], "application/json");
}

#[tokio::test]
async fn a_user_of_any_role_checks_itself_without_a_user_id() {
    let env = admin_world().await;
    env.put_user(BARE, None, None, &["compass.reports.*"]).await;
    let asked = ["compass.dashboard.overview", "compass.dashboard", "compass.reports.export"];
    for (caller, results) in [
        (MEMBER, [Some("compass.dashboard.overview"), None, None]),
        (TARGET, [None, None, None]),
        // No role at all.
        (BARE, [None, None, Some("compass.reports.*")]),
        (ADMIN, [None, None, None]),
    ] {
        let expected: Vec<(&str, Option<&str>)> = asked.into_iter().zip(results).collect();
        let event = self_check(caller, &asked);
        for request in [event.http_api(), event.rest_api()] {
            let response = env.reads::<AdminCheck>(request).await;
            assert_eq!(response.body, checked(caller, &expected), "{caller}");
        }
    }
    let response = env.reads::<AdminCheck>(self_check(MEMBER, &["compass.dashboard.overview"]).http_api()).await;
    assert_eq!(response.body["data"]["allowed"], true);
}

#[tokio::test]
async fn a_non_admin_naming_itself_in_any_case_is_a_self_check() {
    let env = admin_world().await;
    let mixed: String =
        MEMBER.chars().enumerate().map(|(i, c)| if i % 2 == 0 { c.to_ascii_uppercase() } else { c }).collect();
    for id in [MEMBER.to_owned(), MEMBER.to_uppercase(), mixed] {
        let event = check_of(MEMBER, &id, &["compass.dashboard.overview", "compass.users.invite"]);
        let response = env.reads::<AdminCheck>(event.http_api()).await;
        let expected = checked(
            MEMBER,
            &[("compass.dashboard.overview", Some("compass.dashboard.overview")), ("compass.users.invite", None)],
        );
        assert_eq!(response.body, expected, "{id}");
    }
}

#[tokio::test]
async fn an_admin_checks_another_user_named_in_any_case_and_hears_its_id_lowercase() {
    let env = admin_world().await;
    for id in [MEMBER.to_owned(), MEMBER.to_uppercase()] {
        let event = check_of(ADMIN, &id, &["compass.dashboard.overview", "compass.dashboard.export"]);
        let response = env.reads::<AdminCheck>(event.http_api()).await;
        let expected = checked(
            MEMBER,
            &[("compass.dashboard.overview", Some("compass.dashboard.overview")), ("compass.dashboard.export", None)],
        );
        assert_eq!(response.body, expected, "{id}");
    }
    let response = env.reads::<AdminCheck>(check_of(ADMIN, &BARE.to_uppercase(), &["compass.a"]).http_api()).await;
    assert_eq!(response.body, checked(BARE, &[("compass.a", None)]));
}

#[tokio::test]
async fn one_result_per_distinct_permission_in_the_order_first_asked() {
    let env = admin_world().await;
    env.put_user(BARE, None, Some("user"), &["compass.a.*", "compass.c.x"]).await;
    let asked = ["compass.z", "compass.a.*", "compass.z", "compass.c.x", "compass.a.*", "compass.a.b", "compass.z"];
    let response = env.reads::<AdminCheck>(check_of(ADMIN, BARE, &asked).http_api()).await;
    let expected = checked(
        BARE,
        &[
            ("compass.z", None),
            ("compass.a.*", Some("compass.a.*")),
            ("compass.c.x", Some("compass.c.x")),
            ("compass.a.b", Some("compass.a.*")),
        ],
    );
    assert_eq!(response.body, expected);

    // 100 distinct, in an order that is not sorted: answered in the order asked.
    let many: Vec<String> = (0..100).rev().map(|i| format!("compass.m{i:03}.x")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let response = env.reads::<AdminCheck>(check_of(ADMIN, BARE, &many).http_api()).await;
    let answered: Vec<&str> = response.body["data"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["permission"].as_str().unwrap())
        .collect();
    assert_eq!(answered, many);

    // 100 items as sent, the most allowed, all the same: one result.
    let same = ["compass.a.b"; 100];
    let response = env.reads::<AdminCheck>(check_of(ADMIN, BARE, &same).http_api()).await;
    assert_eq!(response.body, checked(BARE, &[("compass.a.b", Some("compass.a.*"))]));
}

#[tokio::test]
async fn the_top_level_allowed_is_true_only_when_every_permission_is_implied() {
    let env = admin_world().await;
    env.put_user(BARE, None, Some("user"), &["compass.a.*", "compass.b.x"]).await;
    for (asked, allowed) in [
        (vec!["compass.a.x"], true),
        (vec!["compass.a.x", "compass.b.x", "compass.a"], true),
        (vec!["compass.a.x", "compass.b.y"], false),
        (vec!["compass.b.y", "compass.a.x"], false),
        (vec!["compass.b"], false),
    ] {
        let response = env.reads::<AdminCheck>(check_of(ADMIN, BARE, &asked).http_api()).await;
        assert_eq!(response.body["data"]["allowed"], allowed, "{asked:?}: {}", response.body);
    }
}

/// SPEC's and docs/api.md's table, a row per (held, requested), and the neighbours each row
/// implies: a user holding only `held` checks `requested`, through a self-check and an admin's.
const IMPLICATION_TABLE: [(&str, &str, bool); 18] = [
    ("compass.m.a", "compass.m.a", true),
    ("compass.m.*", "compass.m.a", true),
    ("compass.m.*", "compass.m", true),
    ("compass.m.*", "compass.m.*", true),
    ("compass.m", "compass.m.a", false),
    ("compass.m.a", "compass.m", false),
    ("compass.m.a", "compass.m.*", false),
    ("compass.m.*", "compass.n.a", false),
    ("compass.m.*", "compass.mm.a", false),
    // What the table implies beside its rows.
    ("compass.m", "compass.m", true),
    ("compass.m", "compass.m.*", false),
    ("compass.m.a", "compass.m.b", false),
    ("compass.m.*", "compass.n", false),
    ("compass.m.*", "compass.mm", false),
    ("compass.m.*", "compass.mm.*", false),
    ("compass.mm.*", "compass.m.a", false),
    ("compass.m_x.*", "compass.m.a", false),
    ("compass.m-x.*", "compass.m-x.a-b_c9", true),
];

#[tokio::test]
async fn the_implication_table_row_by_row() {
    let env = admin_world().await;
    for (held, requested, implied) in IMPLICATION_TABLE {
        env.put_user(BARE, None, Some("user"), &[held]).await;
        let expected = checked(BARE, &[(requested, implied.then_some(held))]);
        for event in [self_check(BARE, &[requested]), check_of(ADMIN, BARE, &[requested])] {
            let response = env.reads::<AdminCheck>(event.http_api()).await;
            assert_eq!(response.body, expected, "held {held}, requested {requested}");
        }
    }
}

#[tokio::test]
async fn a_held_module_wildcard_grants_the_module_its_wildcard_and_its_actions_and_nothing_else() {
    let env = admin_world().await;
    env.put_user(BARE, None, Some("user"), &["compass.m.*"]).await;
    let asked = ["compass.m", "compass.m.*", "compass.m.a", "compass.mm.a", "compass.n.a", "compass.mm"];
    let response = env.reads::<AdminCheck>(check_of(ADMIN, BARE, &asked).http_api()).await;
    let by = Some("compass.m.*");
    let expected = checked(
        BARE,
        &[
            ("compass.m", by),
            ("compass.m.*", by),
            ("compass.m.a", by),
            ("compass.mm.a", None),
            ("compass.n.a", None),
            ("compass.mm", None),
        ],
    );
    assert_eq!(response.body, expected);

    // A bare module is entry to the module, not its actions.
    env.put_user(BARE, None, Some("user"), &["compass.m"]).await;
    let response = env.reads::<AdminCheck>(check_of(ADMIN, BARE, &asked).http_api()).await;
    let expected = checked(
        BARE,
        &[
            ("compass.m", Some("compass.m")),
            ("compass.m.*", None),
            ("compass.m.a", None),
            ("compass.mm.a", None),
            ("compass.n.a", None),
            ("compass.mm", None),
        ],
    );
    assert_eq!(response.body, expected);
}

#[tokio::test]
async fn granted_by_names_the_exact_string_before_the_wildcard() {
    let env = admin_world().await;
    env.put_user(BARE, None, Some("user"), &["compass.m.a", "compass.m.*", "compass.m", "compass.n.*"]).await;
    let asked = ["compass.m.a", "compass.m.b", "compass.m.*", "compass.m", "compass.n", "compass.n.a"];
    let response = env.reads::<AdminCheck>(self_check(BARE, &asked).http_api()).await;
    let expected = checked(
        BARE,
        &[
            ("compass.m.a", Some("compass.m.a")),
            ("compass.m.b", Some("compass.m.*")),
            ("compass.m.*", Some("compass.m.*")),
            ("compass.m", Some("compass.m")),
            ("compass.n", Some("compass.n.*")),
            ("compass.n.a", Some("compass.n.*")),
        ],
    );
    assert_eq!(response.body, expected);
}

#[tokio::test]
async fn a_held_string_outside_the_grammar_implies_nothing_it_is_not_and_cannot_be_asked_about() {
    let env = admin_world().await;
    // Data written before the grammar was enforced, each a near miss of something that would
    // grant module m: other case, prefixes, extra segments, stray whitespace.
    let garbage = [
        "Compass.m.*",
        "COMPASS.M.*",
        "compass.M.*",
        "compass.*",
        "compass.m*",
        "compass.m.**",
        "compass.m.*.*",
        "compass.m.a.*",
        "compass..*",
        " compass.m.*",
        "compass.m.* ",
        "compass.m.*\n",
        "compass.m.A",
    ];
    // Beside them, grammatical strings: a longer module, and what the user may do.
    let mut held = garbage.to_vec();
    held.extend(["compass.mm", "compass.n.x"]);
    env.put_user(BARE, None, Some("user"), &held).await;
    let asked = ["compass.m", "compass.m.*", "compass.m.a", "compass.n.x"];
    let response = env.reads::<AdminCheck>(check_of(ADMIN, BARE, &asked).http_api()).await;
    let expected = checked(
        BARE,
        &[("compass.m", None), ("compass.m.*", None), ("compass.m.a", None), ("compass.n.x", Some("compass.n.x"))],
    );
    assert_eq!(response.body, expected);
    // Asking about such a string is a 400, never "not implied", even to the user holding it.
    for text in garbage {
        for event in [self_check(BARE, &[text]), check_of(ADMIN, BARE, &["compass.n.x", text])] {
            let response = env.refuses::<AdminCheck>(event.http_api(), 400).await;
            assert!(is_validation_error(&response.body), "{text:?}: {:?}", response.body);
            let message = response.body["error"]["message"].as_str().unwrap();
            assert!(message.contains("payload.permissions["), "{text:?}: {message}");
        }
    }
}

#[tokio::test]
async fn unknown_fields_are_ignored_and_field_names_are_case_sensitive() {
    let env = admin_world().await;
    let body = json!({
        "payload": { "permissions": ["compass.dashboard.overview"], "userID": TARGET, "user_id": TARGET,
                     "role": "admin", "allowed": true },
        "userId": TARGET,
        "extra": [1, { "x": null }]
    });
    let event = Event::admin_check().bearer(&jwt_for(MEMBER)).json(&body);
    let response = env.reads::<AdminCheck>(event.http_api()).await;
    assert_eq!(response.body, checked(MEMBER, &[("compass.dashboard.overview", Some("compass.dashboard.overview"))]));
}

#[tokio::test]
async fn a_json_content_type_with_parameters_or_in_any_case_is_json() {
    let env = admin_world().await;
    let body = json!({ "payload": { "permissions": ["compass.dashboard.overview"] } }).to_string();
    for media in ["application/json; charset=utf-8", "Application/JSON", "application/json;charset=UTF-8"] {
        let event = Event::admin_check().bearer(&jwt_for(MEMBER)).header("content-type", media).body(&body);
        let response = env.reads::<AdminCheck>(event.http_api()).await;
        assert_eq!(response.body["data"]["allowed"], true, "{media}");
    }
}

#[tokio::test]
async fn rest_api_events_and_the_trailing_slash_are_served() {
    let env = admin_world().await;
    let asked = ["compass.users.invite", "compass.dashboard.export"];
    let expected =
        checked(TARGET, &[("compass.users.invite", Some("compass.users.*")), ("compass.dashboard.export", None)]);
    for event in [
        check_of(ADMIN, TARGET, &asked),
        self_check(TARGET, &asked),
        check_of(ADMIN, TARGET, &asked).path("/user/check-permissions/"),
        self_check(TARGET, &asked).path("/prod/user/check-permissions"),
        self_check(TARGET, &asked).path("/prod/user/check-permissions/"),
    ] {
        for request in [event.http_api(), event.rest_api()] {
            assert_eq!(env.reads::<AdminCheck>(request).await.body, expected, "{event:?}");
        }
    }
    // Refusals in 1.0 too.
    let response = env.refuses::<AdminCheck>(check_of(MEMBER, TARGET, &asked).rest_api(), 403).await;
    assert_eq!(response.body, forbidden());
    let response = env.refuses::<AdminCheck>(self_check(NOBODY, &asked).rest_api(), 401).await;
    assert_eq!(response.body, invalid_token());
    let response = env.refuses::<AdminCheck>(self_check(MEMBER, &["compass"]).rest_api(), 400).await;
    assert!(is_validation_error(&response.body));
}

#[tokio::test]
async fn other_methods_and_paths_answer_like_api_gateway() {
    let env = admin_world().await;
    let not_found = json!({ "message": "Not Found" });
    let request = || check_of(ADMIN, TARGET, &["compass.users.invite"]);
    for event in [
        request().method("GET"),
        request().method("PUT"),
        request().method("PATCH"),
        request().method("DELETE"),
        request().method("OPTIONS"),
        request().path("/user/check-permission"),
        request().path("/user/check-permissions/x"),
        request().path("/user/check-permissions//"),
        request().path("/user/add-permissions"),
        request().path("/user/Check-Permissions"),
    ] {
        assert_eq!(env.refuses::<AdminCheck>(event.http_api(), 404).await.body, not_found, "{event:?}");
        assert_eq!(env.refuses::<AdminCheck>(event.rest_api(), 404).await.body, not_found, "{event:?}");
    }
}

/// The bodies a check refuses with a 400, each with a part of the message it must carry.
fn invalid_bodies() -> Vec<(Value, &'static str)> {
    let too_many: Vec<String> = (0..101).map(|i| format!("compass.m{i}")).collect();
    let too_many_same = vec!["compass.a"; 101];
    let items = "payload.permissions must hold 1 to 100 items.";
    let object_id = "payload.userId must be a MongoDB ObjectId";
    let mut bodies = vec![
        (json!({}), "payload is required."),
        (json!([]), "payload is required."),
        (json!("payload"), "payload is required."),
        (json!(null), "payload is required."),
        (json!(5), "payload is required."),
        (json!({ "payload": null }), "payload must be an object."),
        (json!({ "payload": [] }), "payload must be an object."),
        (json!({ "payload": "x" }), "payload must be an object."),
        (json!({ "payload": {} }), "payload.permissions is required."),
        (json!({ "payload": { "userId": TARGET } }), "payload.permissions is required."),
        (json!({ "payload": { "permissions": null } }), "payload.permissions must be an array of strings."),
        (json!({ "payload": { "permissions": "compass.a" } }), "payload.permissions must be an array of strings."),
        (json!({ "payload": { "permissions": { "0": "compass.a" } } }), "payload.permissions must be an array"),
        (json!({ "payload": { "permissions": [] } }), items),
        (json!({ "payload": { "permissions": too_many } }), items),
        (json!({ "payload": { "permissions": too_many_same } }), items),
        (json!({ "payload": { "userId": TARGET, "permissions": [] } }), items),
        (json!({ "payload": { "permissions": ["compass.a", null] } }), "payload.permissions[1] must be"),
        (json!({ "payload": { "permissions": ["compass.a", 5] } }), "payload.permissions[1] must be"),
        (json!({ "payload": { "permissions": [["compass.a"]] } }), "payload.permissions[0] must be"),
    ];
    for outside in [
        "compass",
        "compass.",
        "Compass.users",
        "COMPASS.USERS.*",
        "compass.Users",
        "compass.users.*.x",
        "compass.users.a.b",
        "compass.1users",
        "compass._users",
        "compass.*",
        "compass.users.**",
        "compass.users.",
        " compass.users",
        "compass.users ",
        "compass.users\n",
        "compass..users",
        "other.users",
        "",
    ] {
        bodies
            .push((json!({ "payload": { "permissions": ["compass.ok", outside] } }), "payload.permissions[1] must be"));
    }
    let long = format!("compass.{}", "a".repeat(65));
    let long_action = format!("compass.a.{}", "b".repeat(65));
    for outside in [long, long_action] {
        bodies.push((json!({ "payload": { "permissions": [outside] } }), "payload.permissions[0] must be"));
    }
    for user_id in [
        json!(""),
        json!(null),
        json!(5),
        json!(true),
        json!([TARGET]),
        json!({ "$oid": TARGET }),
        json!(&TARGET[1..]),
        json!(format!("{TARGET}0")),
        json!(format!("{}z", &TARGET[1..])),
        json!(format!(" {}", &TARGET[1..])),
        json!(format!("{TARGET} ")),
        json!(format!("ObjectId({TARGET})")),
        json!(format!("0x{}", &TARGET[2..])),
    ] {
        bodies.push((json!({ "payload": { "userId": user_id, "permissions": ["compass.a"] } }), object_id));
    }
    bodies
}

#[tokio::test]
async fn every_body_problem_is_a_validation_error_naming_it() {
    let env = admin_world().await;
    // An admin, which could check itself or anyone: a `userId` of "" or null is not "the caller".
    for caller in [ADMIN, MEMBER] {
        for (body, part) in invalid_bodies() {
            let event = Event::admin_check().bearer(&jwt_for(caller)).json(&body);
            let response = env.refuses::<AdminCheck>(event.http_api(), 400).await;
            assert!(is_validation_error(&response.body), "{body}: {:?}", response.body);
            let message = response.body["error"]["message"].as_str().unwrap();
            assert!(message.contains(part), "{body}: {message} lacks {part}");
        }
    }
    // Every problem is named at once.
    let body = json!({ "payload": { "userId": "", "permissions": ["compass.ok", "no", "compass.ok", 7] } });
    let response =
        env.refuses::<AdminCheck>(Event::admin_check().bearer(&jwt_for(ADMIN)).json(&body).http_api(), 400).await;
    let message = response.body["error"]["message"].as_str().unwrap();
    for part in ["payload.userId must be", "payload.permissions[1] must be", "payload.permissions[3] must be"] {
        assert!(message.contains(part), "{message} lacks {part}");
    }
    assert!(!message.contains("payload.permissions[0]") && !message.contains("payload.permissions[2]"), "{message}");
}

#[tokio::test]
async fn a_body_that_is_not_json_or_not_sent_as_json_is_a_validation_error() {
    let env = admin_world().await;
    let valid = json!({ "payload": { "permissions": ["compass.a"] } }).to_string();
    let base = || Event::admin_check().bearer(&jwt_for(ADMIN));
    let content_type = "Content-Type must be application/json.";
    let not_json = "Request body is not valid JSON";
    let cases = [
        (base().header("content-type", "application/json").body("{\"payload\": "), not_json),
        (base().header("content-type", "application/json").body("payload=compass.a"), not_json),
        (base().header("content-type", "application/json").body("{'payload': {}}"), not_json),
        (base().header("content-type", "application/json").body(&format!("{valid}x")), not_json),
        (base().header("content-type", "application/json").binary_body(b"\xff\xfe{}"), not_json),
        (base().header("content-type", "application/json").body(" "), not_json),
        (base().header("content-type", "application/json"), "Request body is required."),
        (base().header("content-type", "application/json").body(""), "Request body is required."),
        (base().body(&valid), content_type),
        (base(), content_type),
        (base().header("content-type", "text/plain").body(&valid), content_type),
        (base().header("content-type", "application/jsonx").body(&valid), content_type),
        (base().header("content-type", "application/x-www-form-urlencoded").body("payload=x"), content_type),
        (base().header("content-type", "").body(&valid), content_type),
    ];
    for (event, part) in cases {
        for request in [event.http_api(), event.rest_api()] {
            let response = env.refuses::<AdminCheck>(request, 400).await;
            assert!(is_validation_error(&response.body), "{event:?}: {:?}", response.body);
            let message = response.body["error"]["message"].as_str().unwrap();
            assert!(message.contains(part), "{event:?}: {message} lacks {part}");
        }
    }
}

/// Tokens that are not a caller's: each answered 401 `Invalid or expired authentication token.`
fn bad_tokens() -> Vec<(&'static str, String)> {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
    let claims = json!({ "sub": ADMIN, "exp": now() + 600 });
    let part = |value: &Value| URL_SAFE_NO_PAD.encode(value.to_string());
    let unsigned = |alg: &str| format!("{}.{}.", part(&json!({ "alg": alg, "typ": "JWT" })), part(&claims));
    let genuine = jwt_for(ADMIN);
    let hs512 = encode(&Header::new(Algorithm::HS512), &claims, &EncodingKey::from_secret(JWT_SECRET.as_bytes()));
    vec![
        ("alg none", unsigned("none")),
        ("alg None", unsigned("None")),
        ("HS512", hs512.unwrap()),
        ("wrong key", encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(&[7; 32])).unwrap()),
        ("stripped signature", genuine.rsplit_once('.').unwrap().0.to_owned() + "."),
        ("expired", jwt(&json!({ "sub": ADMIN, "exp": now() - 120 }))),
        ("no exp", jwt(&json!({ "sub": ADMIN }))),
        ("no sub", jwt(&json!({ "exp": now() + 600 }))),
        ("not yet valid", jwt(&json!({ "sub": ADMIN, "exp": now() + 600, "nbf": now() + 300 }))),
        ("garbage", "not.a.jwt".to_owned()),
        ("unknown caller", jwt_for(NOBODY)),
    ]
}

#[tokio::test]
async fn without_a_valid_token_of_an_existing_caller_every_check_is_401() {
    let env = admin_world().await;
    let payloads = [
        json!({ "permissions": ["compass.users.invite"] }),
        json!({ "userId": TARGET, "permissions": ["compass.users.invite"] }),
        json!({ "userId": NOBODY, "permissions": ["compass.users.invite"] }),
    ];
    for payload in &payloads {
        for (name, token) in bad_tokens() {
            let event = Event::admin_check().bearer(&token).json(&json!({ "payload": payload }));
            for request in [event.http_api(), event.rest_api()] {
                let response = env.refuses::<AdminCheck>(request, 401).await;
                assert_eq!(response.body, invalid_token(), "{name}, {payload}");
                assert_eq!(response.headers["www-authenticate"], "Bearer", "{name}");
            }
        }
        let missing = error("UNAUTHORIZED", "Missing authentication token.");
        let genuine = jwt_for(ADMIN);
        for (header, expected) in [
            (None, &missing),
            (Some("Token abc".to_owned()), &missing),
            (Some(format!("Basic {genuine}")), &missing),
            (Some("Bearer".to_owned()), &invalid_token()),
            (Some(format!("Bearer {genuine} x")), &invalid_token()),
        ] {
            let mut event = Event::admin_check().json(&json!({ "payload": payload }));
            if let Some(header) = &header {
                event = event.header("authorization", header);
            }
            let response = env.refuses::<AdminCheck>(event.http_api(), 401).await;
            assert_eq!(&response.body, expected, "{header:?}");
            assert_eq!(response.headers["www-authenticate"], "Bearer", "{header:?}");
        }
    }
    // A caller deleted after its token was issued, checking itself or anyone.
    let token = jwt_for(MEMBER);
    env.delete_user(MEMBER).await;
    for payload in &payloads {
        let event = Event::admin_check().bearer(&token).json(&json!({ "payload": payload }));
        assert_eq!(env.refuses::<AdminCheck>(event.http_api(), 401).await.body, invalid_token(), "{payload}");
    }
}

#[tokio::test]
async fn an_unknown_caller_hears_401_whatever_its_body() {
    let env = admin_world().await;
    let unknown = || Event::admin_check().bearer(&jwt_for(NOBODY));
    let mut events: Vec<Event> = invalid_bodies().into_iter().map(|(body, _)| unknown().json(&body)).collect();
    events.extend([
        unknown().header("content-type", "application/json").body("{\"payload\": "),
        unknown().header("content-type", "application/json"),
        unknown().header("content-type", "text/plain").body("x"),
        unknown().body(&json!({ "payload": { "permissions": ["compass.a"] } }).to_string()),
        unknown(),
    ]);
    for event in events {
        let response = env.refuses::<AdminCheck>(event.http_api(), 401).await;
        assert_eq!(response.body, invalid_token(), "{event:?}");
        assert_eq!(response.headers["www-authenticate"], "Bearer");
    }
}

#[tokio::test]
async fn a_non_admin_checking_another_user_is_403_even_when_that_user_does_not_exist() {
    let env = admin_world().await;
    env.put_user(BARE, None, None, &["compass.users.*"]).await;
    for (caller, target) in
        [(MEMBER, TARGET), (MEMBER, NOBODY), (MEMBER, ADMIN), (TARGET, MEMBER), (BARE, TARGET), (BARE, NOBODY)]
    {
        for id in [target.to_owned(), target.to_uppercase()] {
            let response =
                env.refuses::<AdminCheck>(check_of(caller, &id, &["compass.users.invite"]).http_api(), 403).await;
            assert_eq!(response.body, forbidden(), "{caller} checking {id}");
        }
    }
    // Other roles are no admin: the role is exactly `admin`.
    for role in ["Admin", "ADMIN", "admin ", "administrator", ""] {
        env.put_user(BARE, None, Some(role), &[]).await;
        env.refuses::<AdminCheck>(check_of(BARE, TARGET, &["compass.a"]).http_api(), 403).await;
        env.reads::<AdminCheck>(self_check(BARE, &["compass.a"]).http_api()).await;
    }
}

#[tokio::test]
async fn an_admin_checking_a_missing_user_is_404() {
    let env = admin_world().await;
    for id in [NOBODY.to_owned(), NOBODY.to_uppercase()] {
        let response = env.refuses::<AdminCheck>(check_of(ADMIN, &id, &["compass.users.invite"]).http_api(), 404).await;
        assert_eq!(response.body, not_found(), "{id}");
    }
    assert!(env.user(NOBODY).await.is_none());
}

#[tokio::test]
async fn a_body_over_64_kib_is_413_before_anything_else_and_64_kib_is_served() {
    let env = admin_world().await;
    let valid = json!({ "payload": { "permissions": ["compass.dashboard.overview"] } }).to_string();
    let padded = |size: usize| format!("{valid}{}", " ".repeat(size - valid.len()));
    let over = padded(64 * 1024 + 1);
    for event in [
        Event::admin_check().header("content-type", "application/json").body(&over),
        Event::admin_check().bearer("not-a-jwt").header("content-type", "text/plain").body(&over),
        Event::admin_check().bearer(&jwt_for(NOBODY)).header("content-type", "application/json").body(&over),
        Event::admin_check().bearer(&jwt_for(MEMBER)).header("content-type", "application/json").body(&over),
        Event::admin_check().bearer(&jwt_for(MEMBER)).binary_body(&vec![b'x'; 70_000]),
    ] {
        for request in [event.http_api(), event.rest_api()] {
            let response = env.refuses::<AdminCheck>(request, 413).await;
            assert_eq!(response.body, error("PAYLOAD_TOO_LARGE", TOO_LARGE));
        }
    }
    // Exactly 64 KiB is within the limit.
    let event = Event::admin_check().bearer(&jwt_for(MEMBER)).header("content-type", "application/json");
    let response = env.reads::<AdminCheck>(event.body(&padded(64 * 1024)).http_api()).await;
    assert_eq!(response.body["data"]["allowed"], true);
}

#[tokio::test]
async fn checks_run_in_the_contract_order_each_boundary_by_a_request_failing_both_sides() {
    let env = admin_world().await;
    let huge = "x".repeat(64 * 1024 + 1);
    let bad_form = json!({ "payload": { "userId": TARGET, "permissions": [] } });
    let bad_id = json!({ "payload": { "userId": "", "permissions": ["compass.a"] } });
    let not_found_route = json!({ "message": "Not Found" });

    // The route before the size.
    let event = Event::admin_check().method("GET").header("content-type", "application/json").body(&huge);
    assert_eq!(env.refuses::<AdminCheck>(event.http_api(), 404).await.body, not_found_route);

    // 413 before 401: no token, a bad one, an unknown caller.
    for event in [
        Event::admin_check().header("content-type", "application/json").body(&huge),
        Event::admin_check().bearer("x").header("content-type", "application/json").body(&huge),
        Event::admin_check().bearer(&jwt_for(NOBODY)).header("content-type", "application/json").body(&huge),
    ] {
        assert_eq!(env.refuses::<AdminCheck>(event.http_api(), 413).await.body["error"]["code"], "PAYLOAD_TOO_LARGE");
    }

    // 401 before 400: no token, a bad token, an unknown caller, each with a bad body.
    for body in [&bad_form, &bad_id] {
        let missing = Event::admin_check().json(body);
        let response = env.refuses::<AdminCheck>(missing.http_api(), 401).await;
        assert_eq!(response.body, error("UNAUTHORIZED", "Missing authentication token."));
        let bad = Event::admin_check().bearer("x").json(body);
        assert_eq!(env.refuses::<AdminCheck>(bad.http_api(), 401).await.body, invalid_token());
        let unknown = Event::admin_check().bearer(&jwt_for(NOBODY)).json(body);
        assert_eq!(env.refuses::<AdminCheck>(unknown.http_api(), 401).await.body, invalid_token());
    }

    // 401 before 403 and before 404: an unknown caller naming another user, or a missing one.
    for target in [TARGET, NOBODY] {
        let response = env.refuses::<AdminCheck>(check_of(NOBODY, target, &["compass.a"]).http_api(), 401).await;
        assert_eq!(response.body, invalid_token(), "{target}");
    }

    // 400 before 403: a non-admin naming another user, with a bad body.
    for body in [
        bad_form.clone(),
        json!({ "payload": { "userId": TARGET, "permissions": ["Compass.a"] } }),
        json!({ "payload": { "userId": NOBODY, "permissions": [null] } }),
    ] {
        let event = Event::admin_check().bearer(&jwt_for(MEMBER)).json(&body);
        let response = env.refuses::<AdminCheck>(event.http_api(), 400).await;
        assert!(is_validation_error(&response.body), "{body}: {:?}", response.body);
    }
    let event = Event::admin_check().bearer(&jwt_for(MEMBER)).header("content-type", "text/plain").body("{}");
    env.refuses::<AdminCheck>(event.http_api(), 400).await;

    // 400 before 404: an admin naming a missing user, with a bad body.
    let event = Event::admin_check()
        .bearer(&jwt_for(ADMIN))
        .json(&json!({ "payload": { "userId": NOBODY, "permissions": [] } }));
    let response = env.refuses::<AdminCheck>(event.http_api(), 400).await;
    assert!(is_validation_error(&response.body), "{:?}", response.body);

    // 403 before 404: a non-admin naming a missing user learns nothing about it.
    let response = env.refuses::<AdminCheck>(check_of(MEMBER, NOBODY, &["compass.a"]).http_api(), 403).await;
    assert_eq!(response.body, forbidden());

    // And the 404 last of all.
    let response = env.refuses::<AdminCheck>(check_of(ADMIN, NOBODY, &["compass.a"]).http_api(), 404).await;
    assert_eq!(response.body, not_found());
}

#[tokio::test]
async fn a_grant_and_a_revoke_count_on_the_very_next_check() {
    let env = admin_world().await;
    let asked = ["compass.reports.export", "compass.reports"];
    // Both ways of asking, a user itself and an admin, see each change at once.
    let both = || [self_check(BARE, &asked), check_of(ADMIN, BARE, &asked)];
    let step = async |expected: Value| {
        for event in both() {
            assert_eq!(env.reads::<AdminCheck>(event.http_api()).await.body, expected);
        }
    };
    step(checked(BARE, &[("compass.reports.export", None), ("compass.reports", None)])).await;
    env.changes::<AdminAdd>(change(Event::admin(), BARE, &["compass.reports.*"]).http_api()).await;
    let wildcard = Some("compass.reports.*");
    step(checked(BARE, &[("compass.reports.export", wildcard), ("compass.reports", wildcard)])).await;
    env.changes::<AdminAdd>(change(Event::admin(), BARE, &["compass.reports.export"]).http_api()).await;
    step(checked(BARE, &[("compass.reports.export", Some("compass.reports.export")), ("compass.reports", wildcard)]))
        .await;
    env.changes::<AdminRemove>(change(Event::admin_remove(), BARE, &["compass.reports.*"]).http_api()).await;
    step(checked(BARE, &[("compass.reports.export", Some("compass.reports.export")), ("compass.reports", None)])).await;
    env.changes::<AdminRemove>(change(Event::admin_remove(), BARE, &["compass.reports.export"]).http_api()).await;
    step(checked(BARE, &[("compass.reports.export", None), ("compass.reports", None)])).await;
}

#[tokio::test]
async fn nothing_is_cached_a_change_to_the_stored_users_shows_at_once() {
    let env = admin_world().await;
    let asked = ["compass.users.invite"];
    env.reads::<AdminCheck>(check_of(ADMIN, TARGET, &asked).http_api()).await;
    env.put_user(TARGET, None, Some("user"), &[]).await;
    let response = env.reads::<AdminCheck>(check_of(ADMIN, TARGET, &asked).http_api()).await;
    assert_eq!(response.body, checked(TARGET, &[("compass.users.invite", None)]));
    env.delete_user(TARGET).await;
    env.refuses::<AdminCheck>(check_of(ADMIN, TARGET, &asked).http_api(), 404).await;

    // A demoted admin may still check itself, no longer anyone else; a deleted one nothing.
    env.put_user(ADMIN, None, Some("user"), &["compass.users.*"]).await;
    env.refuses::<AdminCheck>(check_of(ADMIN, MEMBER, &asked).http_api(), 403).await;
    let response = env.reads::<AdminCheck>(check_of(ADMIN, ADMIN, &asked).http_api()).await;
    assert_eq!(response.body, checked(ADMIN, &[("compass.users.invite", Some("compass.users.*"))]));
    env.put_user(ADMIN, None, Some("admin"), &[]).await;
    env.reads::<AdminCheck>(check_of(ADMIN, MEMBER, &asked).http_api()).await;
    env.delete_user(ADMIN).await;
    env.refuses::<AdminCheck>(self_check(ADMIN, &asked).http_api(), 401).await;
}

#[tokio::test]
async fn an_idempotency_key_is_ignored_entirely_valid_malformed_or_sent_twice() {
    let env = admin_world().await;
    let asked = ["compass.reports.export"];
    let denied = checked(BARE, &[("compass.reports.export", None)]);
    let allowed = checked(BARE, &[("compass.reports.export", Some("compass.reports.*"))]);
    let long = "k".repeat(256);
    let keys = ["check-key-1", "", "has space", "tab\there", long.as_str(), "é"];
    for key in keys {
        env.put_user(BARE, None, Some("user"), &[]).await;
        let keyed = |event: Event| event.header("idempotency-key", key);
        // Same key, same request, the state changed in between: the second answer is not a replay.
        assert_eq!(env.reads::<AdminCheck>(keyed(self_check(BARE, &asked)).http_api()).await.body, denied, "{key:?}");
        env.put_user(BARE, None, Some("user"), &["compass.reports.*"]).await;
        assert_eq!(env.reads::<AdminCheck>(keyed(self_check(BARE, &asked)).http_api()).await.body, allowed, "{key:?}");
        // Same key, another request (a write would answer 422): answered for itself.
        let other = env.reads::<AdminCheck>(keyed(self_check(BARE, &["compass.a"])).http_api()).await;
        assert_eq!(other.body, checked(BARE, &[("compass.a", None)]), "{key:?}");
        let other = env.reads::<AdminCheck>(keyed(check_of(ADMIN, BARE, &asked)).rest_api()).await;
        assert_eq!(other.body, allowed, "{key:?}");
        // Sent twice (REST keeps the two apart; a write would refuse them as malformed).
        let twice = keyed(self_check(BARE, &asked)).header("idempotency-key", "another");
        assert_eq!(env.reads::<AdminCheck>(twice.rest_api()).await.body, allowed, "{key:?}");
        assert_eq!(env.reads::<AdminCheck>(twice.http_api()).await.body, allowed, "{key:?}");
        // Refusals are the check's own, never about the key.
        let response = env.refuses::<AdminCheck>(keyed(self_check(BARE, &["nope"])).http_api(), 400).await;
        let message = response.body["error"]["message"].as_str().unwrap();
        assert!(message.contains("payload.permissions[0]") && !message.contains("dempotency"), "{key:?}: {message}");
        env.refuses::<AdminCheck>(keyed(check_of(BARE, TARGET, &asked)).http_api(), 403).await;
        env.refuses::<AdminCheck>(keyed(self_check(NOBODY, &asked)).http_api(), 401).await;
    }
    let snapshot = env.snapshot().await;
    assert!(!snapshot.iter().any(|line| line.starts_with(&env.tables.idempotency)), "{snapshot:?}");
    assert_eq!(env.audit_count().await, 0);
}

/// The users a request read, by operation, from what its client sent.
fn keys_read(sent: &Sent, users_table: &str) -> Vec<String> {
    let id = |key: &Value| key["user_id"]["S"].as_str().expect("a user_id key").to_owned();
    match sent.operation.as_str() {
        "GetItem" => {
            assert_eq!(sent.body["TableName"], users_table, "{:?}", sent.body);
            vec![id(&sent.body["Key"])]
        }
        "BatchGetItem" => {
            let tables = sent.body["RequestItems"].as_object().unwrap();
            assert_eq!(tables.keys().collect::<Vec<_>>(), [users_table], "{:?}", sent.body);
            tables[users_table]["Keys"].as_array().unwrap().iter().map(id).collect()
        }
        other => panic!("{other} is not a read of users"),
    }
}

#[tokio::test]
async fn one_strongly_consistent_round_trip_a_get_item_for_a_self_check_a_batch_for_another_user() {
    let world = admin_world().await;
    let (env, recorder) = world.recorded();
    let users = world.tables.users.as_str();
    let asked = json!(["compass.users.invite"]);
    let upper_member = MEMBER.to_uppercase();
    let upper_target = TARGET.to_uppercase();
    let cases: Vec<(&str, Value, u16, &str, Vec<&str>)> = vec![
        (MEMBER, json!({ "permissions": asked }), 200, "GetItem", vec![MEMBER]),
        (MEMBER, json!({ "userId": upper_member, "permissions": asked }), 200, "GetItem", vec![MEMBER]),
        (ADMIN, json!({ "userId": ADMIN, "permissions": asked }), 200, "GetItem", vec![ADMIN]),
        (ADMIN, json!({ "userId": upper_target, "permissions": asked }), 200, "BatchGetItem", vec![ADMIN, TARGET]),
        (ADMIN, json!({ "userId": NOBODY, "permissions": asked }), 404, "BatchGetItem", vec![ADMIN, NOBODY]),
        (MEMBER, json!({ "userId": TARGET, "permissions": asked }), 403, "BatchGetItem", vec![MEMBER, TARGET]),
        (MEMBER, json!({ "userId": NOBODY, "permissions": asked }), 403, "BatchGetItem", vec![MEMBER, NOBODY]),
        (NOBODY, json!({ "permissions": asked }), 401, "GetItem", vec![NOBODY]),
        (NOBODY, json!({ "userId": TARGET, "permissions": asked }), 401, "BatchGetItem", vec![NOBODY, TARGET]),
        // A body that fails to parse costs a read of the caller, so that an unknown one hears 401.
        (MEMBER, json!({ "userId": TARGET, "permissions": [] }), 400, "GetItem", vec![MEMBER]),
        (NOBODY, json!({ "userId": "", "permissions": asked }), 401, "GetItem", vec![NOBODY]),
    ];
    for (caller, payload, status, operation, keys) in cases {
        let case = format!("{caller}: {payload}");
        let before = world.snapshot().await;
        recorder.take();
        let response = env.call::<AdminCheck>(check(caller, payload.clone()).http_api()).await;
        assert_eq!(response.status, status, "{case}: {response:?}");
        let sent = recorder.take();
        assert_eq!(sent.len(), 1, "{case}: one round trip, not {sent:?}");
        assert_eq!(sent[0].operation, operation, "{case}");
        assert_consistent_reads_only(&sent, &case);
        let mut read = keys_read(&sent[0], users);
        read.sort();
        let mut expected: Vec<String> = keys.iter().map(|key| (*key).to_owned()).collect();
        expected.sort();
        assert_eq!(read, expected, "{case}");
        assert_eq!(world.snapshot().await, before, "{case}: a check wrote something");
    }
    // No token worth a read: no round trip at all.
    for event in [
        Event::admin_check().json(&json!({ "payload": { "permissions": asked } })),
        Event::admin_check().bearer("x").json(&json!({ "payload": { "permissions": asked } })),
        Event::admin_check().header("content-type", "application/json").body(&"x".repeat(70_000)),
    ] {
        recorder.take();
        let response = env.call::<AdminCheck>(event.http_api()).await;
        assert!([401, 413].contains(&response.status), "{response:?}");
        assert!(recorder.take().is_empty(), "{event:?} reached DynamoDB");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn each_check_logs_one_line_allowed_or_denied_and_no_audit_line_and_never_the_token() {
    let env = admin_world().await;
    let logs = CapturedLogs::start();
    let allowed = self_check(TARGET, &["compass.users.invite"]);
    let denied = check_of(ADMIN, TARGET, &["compass.users.invite", "compass.dashboard.export"]);
    let forbidden = check_of(MEMBER, TARGET, &["compass.users.invite"]);
    let invalid = self_check(MEMBER, &["nope"]);
    let tampered_token = {
        let token = jwt_for(ADMIN);
        let (rest, signature) = token.rsplit_once('.').unwrap();
        let flipped = if signature.starts_with('A') { 'B' } else { 'A' };
        format!("{rest}.{flipped}{}", &signature[1..])
    };
    let unauthenticated =
        Event::admin_check().bearer(&tampered_token).json(&json!({ "payload": { "permissions": ["compass.a"] } }));
    env.reads::<AdminCheck>(allowed.http_api()).await;
    env.reads::<AdminCheck>(denied.http_api()).await;
    env.refuses::<AdminCheck>(forbidden.http_api(), 403).await;
    env.refuses::<AdminCheck>(invalid.http_api(), 400).await;
    env.refuses::<AdminCheck>(unauthenticated.http_api(), 401).await;
    let text = logs.text();
    for (event, status, outcome) in [
        (&allowed, 200, "allowed"),
        (&denied, 200, "denied"),
        (&forbidden, 403, "forbidden"),
        (&invalid, 400, "validation_error"),
        (&unauthenticated, 401, "invalid_token"),
    ] {
        let lines: Vec<&str> =
            lines_of(&text, &event.request_id).into_iter().filter(|line| line.contains("request completed")).collect();
        assert_eq!(lines.len(), 1, "{outcome}: {text}");
        let (status, outcome) = (format!("status={status}"), format!("outcome=\"{outcome}\""));
        assert_has(lines[0], &["endpoint=\"user-check-permissions\"", &status, &outcome]);
    }
    assert!(!text.contains("log_type"), "a check was audited: {text}");
    for token in [jwt_for(TARGET), jwt_for(ADMIN), jwt_for(MEMBER), tampered_token] {
        let signature = token.rsplit('.').next().unwrap();
        assert!(!text.contains(signature), "a token leaked: {text}");
    }
    assert!(!text.contains(JWT_SECRET), "the secret leaked: {text}");
}

#[tokio::test]
async fn a_backend_failure_is_a_500_in_the_admin_shape_logged_with_the_request_id_and_no_token() {
    let env = admin_world().await;
    for event in [self_check(MEMBER, &["compass.a"]), check_of(ADMIN, TARGET, &["compass.a"])] {
        let (response, logs) = env.fails_without::<AdminCheck>(&env.tables.users, &event).await;
        assert_eq!(response.body, error("SERVER_ERROR", "Internal server error"));
        for caller in [MEMBER, ADMIN] {
            let token = jwt_for(caller);
            assert!(!logs.contains(token.rsplit('.').next().unwrap()), "a token leaked: {logs}");
        }
    }
}

#[tokio::test]
async fn many_checks_write_nothing_and_are_never_audited() {
    let env = admin_world().await;
    let before = env.snapshot().await;
    for _ in 0..3 {
        for event in [
            self_check(MEMBER, &["compass.dashboard.overview"]),
            check_of(ADMIN, TARGET, &["compass.users.*", "compass.users.a"]),
            check_of(ADMIN, NOBODY, &["compass.a"]),
            check_of(MEMBER, TARGET, &["compass.a"]),
        ] {
            env.call::<AdminCheck>(event.http_api()).await;
            env.call::<AdminCheck>(event.rest_api()).await;
        }
    }
    assert_eq!(env.snapshot().await, before);
    assert_eq!(env.audit_of(TARGET).await.len() + env.audit_of(MEMBER).await.len(), 0);
}
