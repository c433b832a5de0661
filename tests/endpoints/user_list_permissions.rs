//! `GET /user/permissions?userId=` end to end on DynamoDB Local: what a user holds, sorted; 401,
//! 400, 403, 404 in that order; the query as API Gateway delivers it in both payload formats;
//! never a write, never cached, strongly consistent.

use serde_json::{Value, json};

use crate::raw_events::invoke;
use crate::support::fixtures::admin::*;
use crate::support::recorder::assert_consistent_reads_only;
use crate::support::{AdminAdd, AdminList, AdminRemove, CapturedLogs, Event, TestEnv, TestResponse, now};

const RETRIEVED: &str = "Successfully retrieved permissions for this user.";
const FORBIDDEN: &str = "Insufficient permissions: only admins can view permissions.";

fn list(caller: &str, query: &str) -> Event {
    Event::admin_list(query).bearer(&jwt_for(caller))
}

fn change(event: Event, target: &str, permissions: &[&str]) -> Event {
    event.bearer(&jwt_for(ADMIN)).json(&json!({ "payload": { "userId": target, "permissions": permissions } }))
}

/// `event` through the binary's own entry path (`lambda_entry`), as format 2.0 or 1.0: for what
/// lambda_http's own conversion would mangle (hostile query bytes, a repeated header).
async fn entry(env: &TestEnv, event: &Event, rest: bool) -> TestResponse {
    let json = if rest { event.rest_api_json() } else { event.http_api_json() };
    invoke(&env.frame::<AdminList>(), json, &event.request_id).await
}

fn listed(user_id: &str, permissions: &[&str]) -> Value {
    json!({ "message": RETRIEVED, "data": { "userId": user_id, "permissions": permissions } })
}

fn assert_error(body: &Value, code: &str, case: &str) {
    assert_eq!(body["error"]["code"], code, "{case}: {body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{case}: {body}");
    assert_eq!(body.as_object().map(|fields| fields.len()), Some(1), "{case}: {body}");
}

#[tokio::test]
async fn lists_what_the_target_holds_sorted() {
    let env = admin_world().await;
    let permissions = ["compass.zeta", "compass.dashboard.*", "compass.alpha.read"];
    env.changes::<AdminAdd>(change(Event::admin(), TARGET, &permissions).http_api()).await;
    let response = env.reads::<AdminList>(list(ADMIN, &format!("userId={TARGET}")).http_api()).await;
    let expected = ["compass.alpha.read", "compass.dashboard.*", "compass.users.*", "compass.zeta"];
    assert_eq!(response.body, listed(TARGET, &expected));
}

#[tokio::test]
async fn a_user_without_permissions_lists_none() {
    let env = admin_world().await;
    let response = env.reads::<AdminList>(list(ADMIN, &format!("userId={BARE}")).http_api()).await;
    assert_eq!(response.body, listed(BARE, &[]));
}

#[tokio::test]
async fn the_user_id_is_read_in_any_case_percent_encoded_and_answered_lowercase() {
    let env = admin_world().await;
    let expected = listed(TARGET, &["compass.users.*"]);
    let encoded: String = TARGET.bytes().map(|byte| format!("%{byte:02X}")).collect();
    for query in [
        format!("userId={}", TARGET.to_uppercase()),
        "userId=%36%38bb46bb4db8c853599f1ebb".to_owned(),
        "userId=%36%38%42%42%34%36bb4db8c853599f1ebb".to_owned(),
        format!("userId={encoded}"),
        format!("us%65rId={TARGET}"),
    ] {
        for request in [list(ADMIN, &query).http_api(), list(ADMIN, &query).rest_api()] {
            assert_eq!(env.reads::<AdminList>(request).await.body, expected, "{query}");
        }
    }
}

#[tokio::test]
async fn unknown_query_parameters_are_ignored() {
    let env = admin_world().await;
    let expected = listed(TARGET, &["compass.users.*"]);
    let before = env.snapshot().await;
    for query in [
        format!("userId={TARGET}&limit=0&cursor=junk"),
        format!("a=1&userId={TARGET}&b"),
        format!("userid={MEMBER}&userId={TARGET}&USERID=x&user_id={MEMBER}"),
        format!("userId={TARGET}&%zz=\"<>\"&=&&"),
        format!("userId={TARGET}&x=%23&y=%26userId%3D{MEMBER}"),
    ] {
        for rest in [false, true] {
            let response = entry(&env, &list(ADMIN, &query), rest).await;
            assert_eq!((response.status, &response.body), (200, &expected), "{query}, rest: {rest}");
        }
    }
    assert_eq!(env.snapshot().await, before);
}

#[tokio::test]
async fn a_missing_invalid_or_repeated_user_id_is_a_validation_error() {
    let env = admin_world().await;
    let queries = [
        String::new(),
        "userId".to_owned(),
        "userId=".to_owned(),
        format!("userid={TARGET}"),
        format!("UserId={TARGET}"),
        format!("USERID={TARGET}"),
        format!("user_id={TARGET}"),
        format!("userId={}", &TARGET[1..]),
        format!("userId={TARGET}b"),
        format!("userId={}g", &TARGET[1..]),
        format!("userId=+{}", &TARGET[1..]),
        format!("userId=%20{TARGET}"),
        format!("userId={TARGET}%00"),
        format!("userId={TARGET}+"),
        format!("userId=ObjectId({TARGET})"),
        format!("userId=\"{TARGET}\""),
        format!("userId={TARGET}&userId={TARGET}"),
        format!("userId={TARGET}&userId={MEMBER}"),
        format!("userId={TARGET}&userId="),
        format!("userId=&userId={TARGET}"),
        format!("userId={TARGET},{MEMBER}"),
        format!("userId[]={TARGET}"),
    ];
    let before = env.snapshot().await;
    for query in &queries {
        for rest in [false, true] {
            let response = entry(&env, &list(ADMIN, query), rest).await;
            assert_eq!(response.status, 400, "{query:?}, rest: {rest}: {response:?}");
            assert_error(&response.body, "VALIDATION_ERROR", &format!("{query:?}, rest: {rest}"));
            let message = response.body["error"]["message"].as_str().unwrap();
            assert!(message.contains("userId"), "{query:?}: {message}");
        }
    }
    assert_eq!(env.snapshot().await, before);
}

#[tokio::test]
async fn a_repeated_user_id_is_refused_in_a_rest_event_that_carries_both_maps() {
    // The builder puts the last value in `queryStringParameters` and both in the multi-value map,
    // as API Gateway does: the multi-value map must be the one read.
    let env = admin_world().await;
    let event = list(ADMIN, &format!("userId={MEMBER}&userId={TARGET}"));
    let json = event.rest_api_json();
    assert_eq!(json["queryStringParameters"]["userId"], TARGET);
    assert_eq!(json["multiValueQueryStringParameters"]["userId"], json!([MEMBER, TARGET]));
    let response = env.refuses::<AdminList>(event.rest_api(), 400).await;
    assert_error(&response.body, "VALIDATION_ERROR", "repeated in 1.0");
}

#[tokio::test]
async fn unauthenticated_requests_get_401_whatever_the_query() {
    let env = admin_world().await;
    let expired = jwt(&json!({ "sub": ADMIN, "exp": now() - 120 }));
    let no_expiry = jwt(&json!({ "sub": ADMIN }));
    let tampered = {
        let token = jwt_for(ADMIN);
        let (rest, signature) = token.rsplit_once('.').unwrap();
        let flipped = if signature.starts_with('A') { 'B' } else { 'A' };
        format!("{rest}.{flipped}{}", &signature[1..])
    };
    let before = env.snapshot().await;
    for query in [format!("userId={TARGET}"), "userId=nope".to_owned(), String::new(), "userId=1&userId=2".to_owned()] {
        let cases = [
            Event::admin_list(&query),
            Event::admin_list(&query).header("authorization", "Bearer"),
            Event::admin_list(&query).header("authorization", &format!("Token {}", jwt_for(ADMIN))),
            Event::admin_list(&query).bearer("not-a-jwt"),
            Event::admin_list(&query).bearer(&expired),
            Event::admin_list(&query).bearer(&no_expiry),
            Event::admin_list(&query).bearer(&tampered),
            list(ADMIN, &query).bearer(&jwt_for(ADMIN)),
            // A genuine token whose subject does not exist.
            list(NOBODY, &query),
        ];
        for event in cases {
            for rest in [false, true] {
                let response = entry(&env, &event, rest).await;
                assert_eq!(response.status, 401, "{query}, rest: {rest}: {response:?}");
                assert_error(&response.body, "UNAUTHORIZED", &query);
                assert_eq!(response.headers["www-authenticate"], "Bearer");
            }
        }
    }
    assert_eq!(env.snapshot().await, before);
}

#[tokio::test]
async fn a_bad_query_from_a_non_admin_is_400_before_403() {
    let env = admin_world().await;
    for query in ["", "userId=x", "userId=1&userId=2"] {
        let response = env.refuses::<AdminList>(list(MEMBER, query).http_api(), 400).await;
        assert_error(&response.body, "VALIDATION_ERROR", query);
    }
}

#[tokio::test]
async fn non_admins_get_403_even_for_a_missing_target_or_themselves() {
    let env = admin_world().await;
    for (caller, target) in [(MEMBER, TARGET), (MEMBER, NOBODY), (MEMBER, MEMBER), (BARE, TARGET), (TARGET, TARGET)] {
        let response = env.refuses::<AdminList>(list(caller, &format!("userId={target}")).http_api(), 403).await;
        assert_eq!(response.body, json!({ "error": { "code": "FORBIDDEN", "message": FORBIDDEN } }));
    }
}

#[tokio::test]
async fn a_missing_target_is_404() {
    let env = admin_world().await;
    for target in [NOBODY.to_owned(), NOBODY.to_uppercase()] {
        let response = env.refuses::<AdminList>(list(ADMIN, &format!("userId={target}")).http_api(), 404).await;
        assert_eq!(
            response.body,
            json!({ "error": { "code": "USER_NOT_FOUND", "message": "User with this ID does not exist." } })
        );
    }
}

#[tokio::test]
async fn a_demoted_admin_is_refused_on_its_very_next_read() {
    let env = admin_world().await;
    env.reads::<AdminList>(list(ADMIN, &format!("userId={TARGET}")).http_api()).await;
    env.put_user(ADMIN, None, Some("user"), &[]).await;
    env.refuses::<AdminList>(list(ADMIN, &format!("userId={TARGET}")).http_api(), 403).await;
    env.delete_user(ADMIN).await;
    env.refuses::<AdminList>(list(ADMIN, &format!("userId={TARGET}")).http_api(), 401).await;
}

#[tokio::test]
async fn a_grant_and_a_revoke_show_on_the_very_next_read() {
    let env = admin_world().await;
    let query = format!("userId={BARE}");
    env.changes::<AdminAdd>(change(Event::admin(), BARE, &["compass.reports.*", "compass.a"]).http_api()).await;
    let response = env.reads::<AdminList>(list(ADMIN, &query).http_api()).await;
    assert_eq!(response.body, listed(BARE, &["compass.a", "compass.reports.*"]));
    env.changes::<AdminRemove>(change(Event::admin_remove(), BARE, &["compass.reports.*"]).http_api()).await;
    let response = env.reads::<AdminList>(list(ADMIN, &query).http_api()).await;
    assert_eq!(response.body, listed(BARE, &["compass.a"]));
    env.changes::<AdminRemove>(change(Event::admin_remove(), BARE, &["compass.a"]).http_api()).await;
    let response = env.reads::<AdminList>(list(ADMIN, &query).rest_api()).await;
    assert_eq!(response.body, listed(BARE, &[]));
}

#[tokio::test]
async fn nothing_is_cached_a_change_to_the_stored_user_shows_at_once() {
    let env = admin_world().await;
    let query = format!("userId={TARGET}");
    env.reads::<AdminList>(list(ADMIN, &query).http_api()).await;
    env.put_user(TARGET, None, Some("user"), &["compass.b", "compass.a"]).await;
    assert_eq!(
        env.reads::<AdminList>(list(ADMIN, &query).http_api()).await.body,
        listed(TARGET, &["compass.a", "compass.b"])
    );
    env.delete_user(TARGET).await;
    env.refuses::<AdminList>(list(ADMIN, &query).http_api(), 404).await;
}

#[tokio::test]
async fn every_read_is_strongly_consistent_writes_nothing_and_a_self_read_asks_for_one_key() {
    let world = admin_world().await;
    let (env, recorder) = world.recorded();
    let upper = ADMIN.to_uppercase();
    for (caller, target, status) in [
        (ADMIN, TARGET, 200),
        (ADMIN, ADMIN, 200),
        (ADMIN, upper.as_str(), 200),
        (ADMIN, NOBODY, 404),
        (MEMBER, TARGET, 403),
        (MEMBER, MEMBER, 403),
        (NOBODY, TARGET, 401),
        (NOBODY, NOBODY, 401),
    ] {
        let before = world.snapshot().await;
        recorder.take();
        let response = env.call::<AdminList>(list(caller, &format!("userId={target}")).http_api()).await;
        assert_eq!(response.status, status, "{caller} reading {target}: {response:?}");
        assert_consistent_reads_only(&recorder.take(), &format!("{caller} reading {target}"));
        assert_eq!(world.snapshot().await, before, "a read wrote something");
    }
    // A bad query from an unknown caller costs a read, strongly consistent too.
    recorder.take();
    let response = env.call::<AdminList>(list(NOBODY, "userId=x").http_api()).await;
    assert_eq!(response.status, 401);
    assert_consistent_reads_only(&recorder.take(), "unknown caller, bad query");
}

#[tokio::test]
async fn an_admin_may_list_itself() {
    let env = admin_world().await;
    env.changes::<AdminAdd>(change(Event::admin(), ADMIN, &["compass.self.*"]).http_api()).await;
    for id in [ADMIN.to_owned(), ADMIN.to_uppercase()] {
        let response = env.reads::<AdminList>(list(ADMIN, &format!("userId={id}")).http_api()).await;
        assert_eq!(response.body, listed(ADMIN, &["compass.self.*"]));
    }
}

#[tokio::test]
async fn a_body_on_the_get_is_ignored_however_large_or_malformed() {
    let env = admin_world().await;
    let query = format!("userId={TARGET}");
    let expected = listed(TARGET, &["compass.users.*"]);
    let huge = format!("{{\"payload\": \"{}\"}}", "a".repeat(70 * 1024));
    for event in [
        list(ADMIN, &query).json(&json!({ "payload": { "userId": MEMBER } })),
        list(ADMIN, &query).header("content-type", "application/json").body(&huge),
        list(ADMIN, &query).header("content-type", "text/plain").body("{not json"),
        list(ADMIN, &query).binary_body(b"\xff\xfe\x00"),
    ] {
        for request in [event.http_api(), event.rest_api()] {
            assert_eq!(env.reads::<AdminList>(request).await.body, expected);
        }
    }
}

#[tokio::test]
async fn the_route_works_with_a_trailing_slash_and_other_methods_answer_like_api_gateway() {
    let env = admin_world().await;
    let query = format!("userId={TARGET}");
    env.reads::<AdminList>(list(ADMIN, &query).path("/user/permissions/").http_api()).await;
    env.reads::<AdminList>(list(ADMIN, &query).path("/prod/user/permissions").rest_api()).await;
    let not_found = json!({ "message": "Not Found" });
    for event in [
        list(ADMIN, &query).method("PUT"),
        list(ADMIN, &query).method("POST"),
        list(ADMIN, &query).path("/user/permission"),
        list(ADMIN, &query).path("/user/permissions/x"),
        list(ADMIN, &query).path("/user/permission-history"),
    ] {
        assert_eq!(env.refuses::<AdminList>(event.http_api(), 404).await.body, not_found);
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_read_logs_one_line_and_no_audit_line_and_never_the_token() {
    let env = admin_world().await;
    let token = jwt_for(ADMIN);
    let logs = CapturedLogs::start();
    let event = Event::admin_list(&format!("userId={TARGET}")).bearer(&token);
    env.reads::<AdminList>(event.http_api()).await;
    let text = logs.text();
    let lines: Vec<&str> = text.lines().filter(|line| line.contains("request completed")).collect();
    assert_eq!(lines.len(), 1, "{text}");
    for expected in
        [event.request_id.as_str(), "endpoint=\"user-list-permissions\"", "status=200", "outcome=\"listed\""]
    {
        assert!(lines[0].contains(expected), "{expected} missing from {}", lines[0]);
    }
    assert!(!text.contains("log_type"), "a read was audited: {text}");
    let signature = token.rsplit('.').next().unwrap();
    assert!(!text.contains(signature), "the token leaked: {text}");
}
