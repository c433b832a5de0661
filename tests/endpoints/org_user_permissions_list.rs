//! `GET /organizations/users/permissions/{user_uuid}/` end to end on DynamoDB Local: what a user
//! of the caller's organization holds, with codenames; 401, 400, 403, 404 in that order; never
//! a write, never cached, strongly consistent.

use serde_json::{Value, json};

use crate::raw_events::invoke;
use crate::support::fixtures::org::*;
use crate::support::recorder::assert_consistent_reads_only;
use crate::support::{CapturedLogs, Event, OrgAdd, OrgList, OrgRemove, TestEnv, TestResponse, now};

fn list(key: &str, target: &str) -> Event {
    Event::org_list(target).token(key)
}

fn grant(target: &str, uuids: &[&str]) -> Event {
    Event::org(target).token(EDITOR_KEY).json(&json!({ "permission_uuids": uuids }))
}

fn revoke(target: &str, uuids: &[&str]) -> Event {
    Event::org_remove(target).token(EDITOR_KEY).json(&json!({ "permission_uuids": uuids }))
}

/// `event` through the binary's own entry path (`lambda_entry`), as format 2.0 or 1.0: for what
/// lambda_http's own conversion would mangle (hostile query bytes, a repeated header).
async fn entry(env: &TestEnv, event: &Event, rest: bool) -> TestResponse {
    let json = if rest { event.rest_api_json() } else { event.http_api_json() };
    invoke(&env.frame::<OrgList>(), json, &event.request_id).await
}

fn held(uuid: &str, codename: Option<&str>) -> Value {
    json!({ "uuid": uuid, "codename": codename })
}

const MISSING: &str = "f0000000-0000-4000-8000-00000000000f";
const NOT_FOUND: &str = "Not found.";
const FORBIDDEN: &str = "You do not have permission to perform this action.";

#[tokio::test]
async fn lists_what_the_target_holds_with_codenames_sorted_by_uuid() {
    let env = org_world().await;
    env.changes::<OrgAdd>(grant(TARGET, &[P1, P2]).http_api()).await;
    let response = env.reads::<OrgList>(list(EDITOR_KEY, TARGET).http_api()).await;
    assert_eq!(
        response.body,
        json!({
            "user_uuid": TARGET,
            "permissions": [
                held(P3, Some("view_users")),
                held(P2, Some("edit_reports")),
                held(P1, Some("view_reports")),
            ],
        })
    );
}

#[tokio::test]
async fn a_user_without_a_permissions_attribute_lists_none() {
    let env = org_world().await;
    let response = env.reads::<OrgList>(list(EDITOR_KEY, BARE).http_api()).await;
    assert_eq!(response.body, json!({ "user_uuid": BARE, "permissions": [] }));
}

#[tokio::test]
async fn a_caller_with_view_org_users_may_list_but_not_change() {
    let env = viewer_world().await;
    let response = env.reads::<OrgList>(list(VIEWER_KEY, TARGET).http_api()).await;
    assert_eq!(response.body, json!({ "user_uuid": TARGET, "permissions": [held(P3, Some("view_users"))] }));
    let change = Event::org(TARGET).token(VIEWER_KEY).json(&json!({ "permission_uuids": [P1] }));
    assert_eq!(env.refuses::<OrgAdd>(change.http_api(), 403).await.body, json!({ "detail": FORBIDDEN }));
}

#[tokio::test]
async fn a_stored_uuid_the_catalog_lacks_has_a_null_codename_until_the_catalog_has_it() {
    let env = org_world().await;
    env.put_user(TARGET, Some(ORG_A), None, &[P3, UNKNOWN]).await;
    let response = env.reads::<OrgList>(list(EDITOR_KEY, TARGET).http_api()).await;
    assert_eq!(response.body["permissions"], json!([held(P3, Some("view_users")), held(UNKNOWN, None)]));
    // The absence was not cached: an entry added to the catalog shows on the next read.
    env.put_permission(UNKNOWN, "added_later").await;
    let response = env.reads::<OrgList>(list(EDITOR_KEY, TARGET).http_api()).await;
    assert_eq!(response.body["permissions"], json!([held(P3, Some("view_users")), held(UNKNOWN, Some("added_later"))]));
}

/// A read that must succeed, with what was logged if it did not.
async fn read_logged(env: &TestEnv, event: &Event) -> TestResponse {
    let logs = CapturedLogs::start();
    let before = env.snapshot().await;
    let response = env.call::<OrgList>(event.http_api()).await;
    assert_eq!(response.status, 200, "{response:?}; logged: {}", logs.text());
    assert_eq!(env.snapshot().await, before, "a read wrote something");
    response
}

#[tokio::test(flavor = "current_thread")]
async fn stored_strings_that_could_never_be_a_catalog_key_are_listed_with_a_null_codename() {
    // The list shows what is stored, whatever wrote it: a string DynamoDB would refuse as a key
    // of the catalog (over 2,048 bytes) is simply not in the catalog.
    let env = org_world().await;
    let huge = "h".repeat(2049);
    env.put_user(TARGET, Some(ORG_A), None, &[P3, &huge, "compass.dashboard.*"]).await;
    let response = read_logged(&env, &list(EDITOR_KEY, TARGET)).await;
    assert_eq!(
        response.body["permissions"],
        json!([held(P3, Some("view_users")), held("compass.dashboard.*", None), held(&huge, None)])
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_caller_holding_a_string_that_could_never_be_a_catalog_key_is_judged_on_its_right() {
    // A cold catalog cache: the caller's permissions are looked up in the catalog, the huge one
    // with them.
    let huge = "h".repeat(2049);
    let env = org_world().await;
    env.put_user(EDITOR, Some(ORG_A), None, &[EDIT_RIGHT, &huge]).await;
    let response = read_logged(&env, &list(EDITOR_KEY, TARGET)).await;
    assert_eq!(response.body["permissions"], json!([held(P3, Some("view_users"))]));
    let env = org_world().await;
    env.put_user(PLAIN, Some(ORG_A), None, &[P1, &huge]).await;
    let response = env.refuses::<OrgList>(list(PLAIN_KEY, TARGET).http_api(), 403).await;
    assert_eq!(response.body, json!({ "detail": FORBIDDEN }));
}

#[tokio::test]
async fn a_user_with_hundreds_of_permissions_lists_them_all() {
    // More than one BatchGetItem of the catalog: some known, most not.
    let env = org_world().await;
    let uuids: Vec<String> = (0..250).map(|i| format!("00000000-0000-4000-8000-{i:012}")).collect();
    for uuid in uuids.iter().step_by(7) {
        env.put_permission(uuid, &format!("code_{uuid}")).await;
    }
    let stored: Vec<&str> = uuids.iter().map(String::as_str).collect();
    env.put_user(TARGET, Some(ORG_A), None, &stored).await;
    let response = env.reads::<OrgList>(list(EDITOR_KEY, TARGET).http_api()).await;
    let expected: Vec<Value> = uuids
        .iter()
        .enumerate()
        .map(|(i, uuid)| held(uuid, (i % 7 == 0).then(|| format!("code_{uuid}")).as_deref()))
        .collect();
    assert_eq!(response.body["permissions"], json!(expected));
}

#[tokio::test]
async fn a_grant_and_a_revoke_show_on_the_very_next_read() {
    let env = org_world().await;
    env.changes::<OrgAdd>(grant(TARGET, &[P1]).http_api()).await;
    let response = env.reads::<OrgList>(list(EDITOR_KEY, TARGET).http_api()).await;
    assert_eq!(response.body["permissions"], json!([held(P3, Some("view_users")), held(P1, Some("view_reports"))]));
    env.changes::<OrgRemove>(revoke(TARGET, &[P3, P1]).http_api()).await;
    let response = env.reads::<OrgList>(list(EDITOR_KEY, TARGET).http_api()).await;
    assert_eq!(response.body, json!({ "user_uuid": TARGET, "permissions": [] }));
}

#[tokio::test]
async fn nothing_is_cached_a_change_to_the_stored_user_shows_at_once() {
    let env = org_world().await;
    env.reads::<OrgList>(list(EDITOR_KEY, TARGET).http_api()).await;
    env.put_user(TARGET, Some(ORG_A), None, &[P2]).await;
    let response = env.reads::<OrgList>(list(EDITOR_KEY, TARGET).http_api()).await;
    assert_eq!(response.body["permissions"], json!([held(P2, Some("edit_reports"))]));
    // Moved to another organization: out of scope on the next read.
    env.put_user(TARGET, Some(ORG_B), None, &[P2]).await;
    env.refuses::<OrgList>(list(EDITOR_KEY, TARGET).http_api(), 404).await;
}

#[tokio::test]
async fn every_read_is_strongly_consistent_and_writes_nothing() {
    let world = viewer_world().await;
    let (env, recorder) = world.recorded();
    // Cold and warm caches, both rights, the caller itself, a missing target, a stranger's.
    for (key, target) in [
        (EDITOR_KEY, TARGET),
        (EDITOR_KEY, TARGET),
        (VIEWER_KEY, TARGET),
        (EDITOR_KEY, EDITOR),
        (VIEWER_KEY, VIEWER),
        (EDITOR_KEY, MISSING),
        (VIEWER_KEY, OUTSIDER),
        (PLAIN_KEY, TARGET),
    ] {
        let before = world.snapshot().await;
        recorder.take();
        let response = env.call::<OrgList>(list(key, target).http_api()).await;
        assert!([200, 403, 404].contains(&response.status), "{response:?}");
        assert_consistent_reads_only(&recorder.take(), &format!("{key} reading {target}"));
        assert_eq!(world.snapshot().await, before, "a read wrote something");
    }
}

#[tokio::test]
async fn a_caller_may_list_itself() {
    let env = viewer_world().await;
    env.changes::<OrgAdd>(grant(EDITOR, &[P1]).http_api()).await;
    let (recorded, recorder) = env.recorded();
    for (key, user, expected) in [
        (EDITOR_KEY, EDITOR, json!([held(P1, Some("view_reports")), held(EDIT_RIGHT, Some("edit_org_users"))])),
        (VIEWER_KEY, VIEWER, json!([held(VIEW_RIGHT, Some("view_org_users"))])),
    ] {
        for target in [user.to_owned(), user.to_uppercase()] {
            let response = recorded.call::<OrgList>(list(key, &target).http_api()).await;
            assert_eq!(response.status, 200, "{target}: {response:?}");
            assert_eq!(response.body, json!({ "user_uuid": user, "permissions": expected }), "{target}");
            // The caller is the target: its key is asked for once.
            assert_consistent_reads_only(&recorder.take(), &target);
        }
    }
}

#[tokio::test]
async fn the_path_works_with_and_without_the_trailing_slash_and_in_any_case() {
    let env = org_world().await;
    let expected = json!({ "user_uuid": TARGET, "permissions": [held(P3, Some("view_users"))] });
    let slashless = list(EDITOR_KEY, TARGET).path(&format!("/organizations/users/permissions/{TARGET}"));
    assert_eq!(env.reads::<OrgList>(slashless.http_api()).await.body, expected);
    let upper = list(EDITOR_KEY, &TARGET.to_uppercase());
    assert_eq!(env.reads::<OrgList>(upper.http_api()).await.body, expected);
    let mixed = list(EDITOR_KEY, &format!("{}{}", &TARGET[..18].to_uppercase(), &TARGET[18..]));
    assert_eq!(env.reads::<OrgList>(mixed.http_api()).await.body, expected);
}

#[tokio::test]
async fn rest_api_and_function_url_events_are_served_too() {
    let env = org_world().await;
    let expected = json!({ "user_uuid": TARGET, "permissions": [held(P3, Some("view_users"))] });
    assert_eq!(env.reads::<OrgList>(list(EDITOR_KEY, TARGET).rest_api()).await.body, expected);
    let url = list(EDITOR_KEY, TARGET)
        .without_path_parameters()
        .path(&format!("/lambda-url/org-user-permissions-list/organizations/users/permissions/{TARGET}/"));
    assert_eq!(env.reads::<OrgList>(url.http_api()).await.body, expected);
}

#[tokio::test]
async fn a_body_on_the_get_is_ignored_however_large_or_malformed() {
    let env = org_world().await;
    let expected = env.reads::<OrgList>(list(EDITOR_KEY, TARGET).http_api()).await.body;
    let huge = format!("{{\"permission_uuids\": [\"{}\"]}}", "a".repeat(70 * 1024));
    for event in [
        list(EDITOR_KEY, TARGET).json(&json!({ "permission_uuids": "nope" })),
        list(EDITOR_KEY, TARGET).header("content-type", "application/json").body(&huge),
        list(EDITOR_KEY, TARGET).header("content-type", "text/plain").body("{not json"),
        list(EDITOR_KEY, TARGET).body("[1, 2"),
        list(EDITOR_KEY, TARGET).binary_body(b"\xff\xfe\x00"),
    ] {
        for request in [event.http_api(), event.rest_api()] {
            assert_eq!(env.reads::<OrgList>(request).await.body, expected);
        }
    }
}

#[tokio::test]
async fn a_query_string_is_ignored() {
    let env = org_world().await;
    let expected = env.reads::<OrgList>(list(EDITOR_KEY, TARGET).http_api()).await.body;
    let before = env.snapshot().await;
    for query in
        [format!("user_uuid={MISSING}"), "userId=x&limit=0&cursor=junk".to_owned(), "%zz=\"<>\"&a=%ff".to_owned()]
    {
        for rest in [false, true] {
            let response = entry(&env, &list(EDITOR_KEY, TARGET).query(&query), rest).await;
            assert_eq!((response.status, &response.body), (200, &expected), "{query}");
        }
    }
    assert_eq!(env.snapshot().await, before);
}

#[tokio::test]
async fn unauthenticated_requests_get_401_with_a_token_challenge_even_for_a_bad_path() {
    let env = org_world().await;
    env.put_token("expired-key", EDITOR, Some(now() - 1)).await;
    env.put_token("orphaned-key", "e0000000-0000-4000-8000-0000000000ff", None).await;
    let not_provided = json!({ "detail": "Authentication credentials were not provided." });
    let invalid = json!({ "detail": "Invalid token." });
    let before = env.snapshot().await;
    for target in [TARGET, MISSING, "not-a-uuid"] {
        let cases: Vec<(Event, &Value)> = vec![
            (Event::org_list(target), &not_provided),
            (Event::org_list(target).header("authorization", &format!("Bearer {EDITOR_KEY}")), &not_provided),
            (Event::org_list(target).header("authorization", "Token"), &invalid),
            (Event::org_list(target).header("authorization", &format!("Token {EDITOR_KEY} extra")), &invalid),
            (list("no-such-key", target), &invalid),
            (list("expired-key", target), &invalid),
            (list("orphaned-key", target), &invalid),
            (list(EDITOR_KEY, target).token(EDITOR_KEY), &invalid),
        ];
        for (event, expected) in cases {
            for rest in [false, true] {
                let response = entry(&env, &event, rest).await;
                assert_eq!((response.status, &response.body), (401, expected), "{target}, rest: {rest}");
                assert_eq!(response.headers["www-authenticate"], "Token");
            }
        }
    }
    assert_eq!(env.snapshot().await, before, "a refused read wrote something");
}

#[tokio::test]
async fn an_invalid_path_uuid_is_400_after_authentication_and_before_authorization() {
    let env = viewer_world().await;
    let invalid = json!({ "user_uuid": ["Must be a valid UUID."] });
    let targets = [
        "not-a-uuid".to_owned(),
        format!("{{{TARGET}}}"),
        TARGET.replace('-', ""),
        format!("{TARGET}0"),
        TARGET[1..].to_owned(),
        format!("urn:uuid:{TARGET}"),
        TARGET.replace('e', "g"),
        format!("{TARGET} "),
    ];
    for target in &targets {
        // The right holders, a caller without the right and one without an org alike.
        for key in [EDITOR_KEY, VIEWER_KEY, PLAIN_KEY, ORGLESS_KEY] {
            let response = env.refuses::<OrgList>(list(key, target).http_api(), 400).await;
            assert_eq!(response.body, invalid, "{key} {target:?}");
        }
    }
}

#[tokio::test]
async fn callers_without_a_right_or_without_an_org_get_403() {
    let env = viewer_world().await;
    // The target holds `view_users`, a near miss of `view_org_users`.
    env.put_token("target-key", TARGET, None).await;
    // A member of org A holding only a uuid the catalog lacks.
    env.put_user("e0000000-0000-4000-8000-000000000007", Some(ORG_A), None, &[UNKNOWN]).await;
    env.put_token("unknown-right-key", "e0000000-0000-4000-8000-000000000007", None).await;
    for key in [PLAIN_KEY, ORGLESS_KEY, "target-key", "unknown-right-key"] {
        for target in [TARGET, BARE] {
            let response = env.refuses::<OrgList>(list(key, target).http_api(), 403).await;
            assert_eq!(response.body, json!({ "detail": FORBIDDEN }), "{key}");
        }
    }
}

#[tokio::test]
async fn authorization_comes_before_the_targets_existence() {
    let env = org_world().await;
    for target in [MISSING, OUTSIDER] {
        let response = env.refuses::<OrgList>(list(PLAIN_KEY, target).http_api(), 403).await;
        assert_eq!(response.body, json!({ "detail": FORBIDDEN }));
    }
}

#[tokio::test]
async fn a_user_of_another_org_is_indistinguishable_from_a_missing_one() {
    let env = viewer_world().await;
    for key in [EDITOR_KEY, VIEWER_KEY] {
        let other_org = env.refuses::<OrgList>(list(key, OUTSIDER).http_api(), 404).await;
        let missing = env.refuses::<OrgList>(list(key, MISSING).http_api(), 404).await;
        assert_eq!(other_org.body, json!({ "detail": NOT_FOUND }));
        assert_eq!(other_org.body, missing.body);
        assert_eq!(other_org.headers, missing.headers);
    }
    // A user with no org at all is in no caller's scope either.
    env.refuses::<OrgList>(list(EDITOR_KEY, ORGLESS).http_api(), 404).await;
}

#[tokio::test]
async fn a_revoked_right_stops_the_very_next_read_and_the_warm_cache_never_authorizes() {
    let env = viewer_world().await;
    env.reads::<OrgList>(list(VIEWER_KEY, TARGET).http_api()).await;
    env.put_user(VIEWER, Some(ORG_A), None, &[P1]).await;
    env.refuses::<OrgList>(list(VIEWER_KEY, TARGET).http_api(), 403).await;
    // The editor's right's catalog entry changes after this process cached it.
    env.reads::<OrgList>(list(EDITOR_KEY, TARGET).http_api()).await;
    env.put_permission(EDIT_RIGHT, "view_users").await;
    env.refuses::<OrgList>(list(EDITOR_KEY, TARGET).http_api(), 403).await;
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_like_api_gateway() {
    let env = org_world().await;
    let not_found = json!({ "message": "Not Found" });
    for event in [
        list(EDITOR_KEY, TARGET).method("POST"),
        list(EDITOR_KEY, TARGET).method("PATCH"),
        list(EDITOR_KEY, TARGET).method("HEAD"),
        list(EDITOR_KEY, TARGET).without_path_parameters().path("/organizations/users/permissions//"),
        list(EDITOR_KEY, TARGET).path(&format!("/organizations/users/permission/{TARGET}/")),
        list(EDITOR_KEY, TARGET).path(&format!("/organizations/users/permissions/{TARGET}/extra")),
    ] {
        assert_eq!(env.refuses::<OrgList>(event.http_api(), 404).await.body, not_found);
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_read_logs_one_line_and_no_audit_line_and_never_the_token() {
    let env = org_world().await;
    let logs = CapturedLogs::start();
    let event = list(EDITOR_KEY, TARGET);
    env.reads::<OrgList>(event.http_api()).await;
    let text = logs.text();
    let lines: Vec<&str> = text.lines().filter(|line| line.contains("request completed")).collect();
    assert_eq!(lines.len(), 1, "{text}");
    for expected in
        [event.request_id.as_str(), "endpoint=\"org-user-permissions-list\"", "status=200", "outcome=\"listed\""]
    {
        assert!(lines[0].contains(expected), "{expected} missing from {}", lines[0]);
    }
    assert!(!text.contains("log_type"), "a read was audited: {text}");
    assert!(!text.contains(EDITOR_KEY), "the token leaked: {text}");
    assert_eq!(env.audit_count().await, 0);
}
