//! `GET /user/permission-history?userId=&limit=&cursor=` end to end on DynamoDB Local: who changed
//! a user's permissions, newest first, a page at a time; the cursor bound to its user and refused
//! when tampered with; 401, 400, 403, 404 in that order; never a write, strongly consistent.

use std::collections::{HashMap, HashSet};

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use permissions_service::store::audit::{AUDIT_USER_ID, Action, AuditRecord};
use serde_json::{Value, json};

use crate::raw_events::invoke;
use crate::support::fixtures::admin::*;
use crate::support::recorder::assert_consistent_reads_only;
use crate::support::{AdminAdd, AdminHistory, AdminRemove, Event, TestEnv, TestResponse, s};

const RETRIEVED: &str = "Successfully retrieved permission history for this user.";
const FORBIDDEN: &str = "Insufficient permissions: only admins can view permission history.";
const EVENT_FIELDS: [&str; 7] = ["action", "actor", "at", "endpoint", "eventId", "permissions", "requestId"];

fn history(caller: &str, query: &str) -> Event {
    Event::admin_history(query).bearer(&jwt_for(caller))
}

/// `event` through the binary's own entry path (`lambda_entry`), as format 2.0 or 1.0: for what
/// lambda_http's own conversion would mangle (a repeated header).
async fn entry(env: &TestEnv, event: &Event, rest: bool) -> TestResponse {
    let json = if rest { event.rest_api_json() } else { event.http_api_json() };
    invoke(&env.frame::<AdminHistory>(), json, &event.request_id).await
}

fn change(event: Event, target: &str, permissions: &[&str]) -> Event {
    event.bearer(&jwt_for(ADMIN)).json(&json!({ "payload": { "userId": target, "permissions": permissions } }))
}

/// `count` changes to `target` through the admin endpoints, every third one a revoke; their
/// request ids and actions, oldest first.
async fn make_history(env: &TestEnv, target: &str, count: usize) -> Vec<(String, &'static str)> {
    let mut made = Vec::new();
    for i in 0..count {
        let permission = format!("compass.module{}.read", i % 4);
        let (event, action) = if i % 3 == 2 {
            let event = change(Event::admin_remove(), target, &[&permission]);
            env.changes::<AdminRemove>(event.http_api()).await;
            (event, "revoke")
        } else {
            let event = change(Event::admin(), target, &[&permission]);
            env.changes::<AdminAdd>(event.http_api()).await;
            (event, "grant")
        };
        made.push((event.request_id, action));
    }
    made
}

/// The stored records of `user_id` as the history must show them: newest first.
async fn expected_events(env: &TestEnv, user_id: &str) -> Vec<Value> {
    let mut records = env.audit_of(user_id).await;
    records.reverse();
    records.iter().map(as_event).collect()
}

fn as_event(record: &AuditRecord) -> Value {
    json!({
        "eventId": record.event_id,
        "action": record.action.as_str(),
        "actor": record.actor_id,
        "endpoint": record.endpoint,
        "permissions": record.permissions,
        "at": record.at,
        "requestId": record.request_id,
    })
}

/// A page's `data`, checked for the 200's shape.
async fn page(env: &TestEnv, event: &Event, rest: bool) -> Value {
    let request = if rest { event.rest_api() } else { event.http_api() };
    let response = env.call::<AdminHistory>(request).await;
    assert_eq!(response.status, 200, "{response:?}");
    let body = response.body;
    assert_eq!(body["message"], RETRIEVED, "{body}");
    assert_eq!(body.as_object().unwrap().len(), 2, "{body}");
    let data = &body["data"];
    let mut fields: Vec<&String> = data.as_object().unwrap().keys().collect();
    fields.sort();
    assert_eq!(fields, ["events", "nextCursor", "userId"], "{body}");
    assert!(data["nextCursor"].is_null() || data["nextCursor"].as_str().is_some_and(|c| !c.is_empty()), "{body}");
    for event in data["events"].as_array().unwrap() {
        let mut fields: Vec<&String> = event.as_object().unwrap().keys().collect();
        fields.sort();
        assert_eq!(fields, EVENT_FIELDS, "{event}");
        assert!(["grant", "revoke"].contains(&event["action"].as_str().unwrap()), "{event}");
    }
    data.clone()
}

/// Every page of `user_id`'s history at `limit` (none: the default), following `nextCursor`.
async fn all_pages(env: &TestEnv, user_id: &str, limit: Option<usize>, rest: bool) -> Vec<Vec<Value>> {
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut query = format!("userId={user_id}");
        if let Some(limit) = limit {
            query.push_str(&format!("&limit={limit}"));
        }
        if let Some(cursor) = &cursor {
            query.push_str(&format!("&cursor={cursor}"));
        }
        let data = page(env, &history(ADMIN, &query), rest).await;
        assert_eq!(data["userId"], user_id.to_ascii_lowercase());
        pages.push(data["events"].as_array().unwrap().clone());
        match data["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return pages,
        }
        assert!(pages.len() < 1000, "the cursor never ends");
    }
}

fn sizes(pages: &[Vec<Value>]) -> Vec<usize> {
    pages.iter().map(Vec::len).collect()
}

/// A genuine cursor: the first page's `nextCursor` of `user_id` at `limit`.
async fn cursor_for(env: &TestEnv, user_id: &str, limit: usize) -> String {
    let data = page(env, &history(ADMIN, &format!("userId={user_id}&limit={limit}")), false).await;
    data["nextCursor"].as_str().expect("a next page").to_owned()
}

fn assert_validation_error(response: &TestResponse, case: &str) {
    assert_eq!(response.status, 400, "{case}: {response:?}");
    assert_eq!(response.body["error"]["code"], "VALIDATION_ERROR", "{case}: {response:?}");
    assert!(response.body.get("data").is_none(), "{case}");
}

/// Every byte outside RFC 3986's unreserved set, percent-encoded.
fn encoded(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (byte as char).to_string(),
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// A record no request of ours wrote, put straight into the audit table.
fn planted(user_id: &str, action: Action, permissions: &[&str]) -> AuditRecord {
    AuditRecord {
        user_id: user_id.to_owned(),
        event_id: uuid::Uuid::now_v7().to_string(),
        action,
        actor_id: ADMIN.to_owned(),
        endpoint: "user-add-permissions".to_owned(),
        permissions: permissions.iter().map(|permission| (*permission).to_owned()).collect(),
        at: "2025-01-02T03:04:05.678Z".to_owned(),
        request_id: format!("planted-{}", uuid::Uuid::now_v7()),
        org_uuid: None,
    }
}

#[tokio::test]
async fn events_are_newest_first_with_every_field() {
    let env = admin_world().await;
    let made = make_history(&env, TARGET, 3).await;
    let data = page(&env, &history(ADMIN, &format!("userId={TARGET}")), false).await;
    assert_eq!(data["userId"], TARGET);
    assert_eq!(data["nextCursor"], Value::Null);
    let events = data["events"].as_array().unwrap();
    assert_eq!(events, &expected_events(&env, TARGET).await);
    let shown: Vec<(String, &str)> = events
        .iter()
        .map(|event| (event["requestId"].as_str().unwrap().to_owned(), event["action"].as_str().unwrap()))
        .collect();
    let mut newest_first = made.clone();
    newest_first.reverse();
    assert_eq!(shown, newest_first);
    for (event, endpoint) in
        events.iter().zip(["user-remove-permissions", "user-add-permissions", "user-add-permissions"])
    {
        assert_eq!(event["actor"], ADMIN);
        assert_eq!(event["endpoint"], endpoint);
        assert!(humantime::parse_rfc3339(event["at"].as_str().unwrap()).is_ok(), "{event}");
    }
    assert_eq!(events[0]["permissions"], json!(["compass.module2.read"]));
    assert_eq!(events[2]["permissions"], json!(["compass.module0.read"]));
}

#[tokio::test]
async fn a_user_without_history_has_an_empty_page_and_no_cursor() {
    let env = admin_world().await;
    for query in [format!("userId={BARE}"), format!("userId={BARE}&limit=1"), format!("userId={BARE}&cursor=")] {
        let data = page(&env, &history(ADMIN, &query), false).await;
        assert_eq!(data, json!({ "userId": BARE, "events": [], "nextCursor": null }), "{query}");
    }
}

#[tokio::test]
async fn forty_five_events_page_twenty_at_a_time_in_both_formats() {
    let env = admin_world().await;
    make_history(&env, TARGET, 45).await;
    let expected = expected_events(&env, TARGET).await;
    assert_eq!(expected.len(), 45);
    for rest in [false, true] {
        let before = env.snapshot().await;
        let pages = all_pages(&env, TARGET, Some(20), rest).await;
        assert_eq!(env.snapshot().await, before, "paging wrote something");
        assert_eq!(sizes(&pages), [20, 20, 5], "rest: {rest}");
        let seen: Vec<Value> = pages.concat();
        let ids: HashSet<&str> = seen.iter().map(|event| event["eventId"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), 45, "an event shown twice");
        assert_eq!(seen, expected, "every event once, newest first, as stored");
        let revokes = seen.iter().filter(|event| event["action"] == "revoke").count();
        assert_eq!(revokes, 15);
        let times: Vec<_> =
            seen.iter().map(|event| humantime::parse_rfc3339(event["at"].as_str().unwrap()).unwrap()).collect();
        assert!(times.windows(2).all(|pair| pair[0] >= pair[1]), "not newest first: {times:?}");
    }
}

#[tokio::test]
async fn pages_of_every_size_end_exactly_on_the_last_event() {
    let env = admin_world().await;
    make_history(&env, TARGET, 40).await;
    let expected = expected_events(&env, TARGET).await;
    for (limit, expected_sizes) in [
        (Some(20), vec![20, 20]),
        (Some(40), vec![40]),
        (Some(39), vec![39, 1]),
        (Some(41), vec![40]),
        (Some(100), vec![40]),
        (Some(13), vec![13, 13, 13, 1]),
        (Some(1), vec![1; 40]),
        (None, vec![20, 20]),
    ] {
        let pages = all_pages(&env, TARGET, limit, false).await;
        assert_eq!(sizes(&pages), expected_sizes, "limit {limit:?}");
        assert_eq!(pages.concat(), expected, "limit {limit:?}");
    }
}

#[tokio::test]
async fn the_default_page_is_twenty_events() {
    let env = admin_world().await;
    make_history(&env, TARGET, 21).await;
    let data = page(&env, &history(ADMIN, &format!("userId={TARGET}")), false).await;
    assert_eq!(data["events"].as_array().unwrap().len(), 20);
    let cursor = data["nextCursor"].as_str().expect("a next page");
    let rest = page(&env, &history(ADMIN, &format!("userId={TARGET}&cursor={cursor}")), false).await;
    assert_eq!(rest["events"].as_array().unwrap().len(), 1);
    assert_eq!(rest["nextCursor"], Value::Null);
}

#[tokio::test]
async fn pages_of_large_records_still_end_only_on_the_last_event() {
    // 90 changes of 100 permissions of 137 characters each: the history is well over the 1 MB a
    // single DynamoDB Query returns, so a page of 100 cannot come from one Query.
    let env = admin_world().await;
    let permissions: Vec<String> = (0..100).map(|i| format!("compass.m{i:063}.{}", "a".repeat(64))).collect();
    let permissions: Vec<&str> = permissions.iter().map(String::as_str).collect();
    for i in 0..90 {
        let event = if i % 2 == 0 { Event::admin() } else { Event::admin_remove() };
        let request = change(event, TARGET, &permissions).http_api();
        let response =
            if i % 2 == 0 { env.call::<AdminAdd>(request).await } else { env.call::<AdminRemove>(request).await };
        assert_eq!(response.status, 200, "{response:?}");
    }
    let stored = stored_record_count(&env, TARGET).await;
    assert_eq!(stored, 90);
    let pages = all_pages(&env, TARGET, Some(100), false).await;
    let seen: Vec<&str> = pages.iter().flatten().map(|event| event["eventId"].as_str().unwrap()).collect();
    assert_eq!(seen.len(), 90, "pages of {:?} events: the history ended before its oldest event", sizes(&pages));
    let unique: HashSet<&str> = seen.iter().copied().collect();
    assert_eq!(unique.len(), 90, "an event shown twice");
}

/// How many audit records `user_id` has, following DynamoDB's own pages.
async fn stored_record_count(env: &TestEnv, user_id: &str) -> usize {
    let mut count = 0;
    let mut start: Option<HashMap<String, AttributeValue>> = None;
    loop {
        let output = env
            .client
            .query()
            .table_name(&env.tables.audit)
            .key_condition_expression("#user = :user")
            .expression_attribute_names("#user", AUDIT_USER_ID)
            .expression_attribute_values(":user", s(user_id))
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        count += output.items.unwrap_or_default().len();
        match output.last_evaluated_key {
            Some(key) if !key.is_empty() => start = Some(key),
            _ => return count,
        }
    }
}

#[tokio::test]
async fn a_limit_outside_1_to_100_or_not_an_integer_is_a_validation_error() {
    let env = admin_world().await;
    make_history(&env, TARGET, 2).await;
    let before = env.snapshot().await;
    for limit in [
        "0",
        "101",
        "-1",
        "+5",
        "%2B5",
        "5.0",
        "1e1",
        "abc",
        "",
        "0x10",
        "99999999999999999999999",
        "%205",
        "5%20",
        "%D9%A5",
        "1_0",
        "5,6",
        "%00",
        "-0",
    ] {
        for rest in [false, true] {
            let event = history(ADMIN, &format!("userId={TARGET}&limit={limit}"));
            let response = env.call::<AdminHistory>(if rest { event.rest_api() } else { event.http_api() }).await;
            assert_validation_error(&response, &format!("limit={limit}"));
            assert!(response.body["error"]["message"].as_str().unwrap().contains("limit"), "{limit}: {response:?}");
        }
    }
    for query in [
        format!("userId={TARGET}&limit=5&limit=5"),
        format!("userId={TARGET}&limit"),
        format!("userId={TARGET}&limit=&limit="),
    ] {
        for rest in [false, true] {
            let event = history(ADMIN, &query);
            let response = env.call::<AdminHistory>(if rest { event.rest_api() } else { event.http_api() }).await;
            assert_validation_error(&response, &query);
        }
    }
    assert_eq!(env.snapshot().await, before);
    for limit in ["1", "100", "20", "99"] {
        let data = page(&env, &history(ADMIN, &format!("userId={TARGET}&limit={limit}")), false).await;
        let wanted: usize = limit.parse().unwrap();
        assert_eq!(data["events"].as_array().unwrap().len(), wanted.min(2), "limit={limit}");
    }
}

#[tokio::test]
async fn a_cursor_used_for_another_user_is_a_validation_error_and_shows_nothing() {
    let env = admin_world().await;
    make_history(&env, TARGET, 5).await;
    make_history(&env, MEMBER, 5).await;
    let target_cursor = cursor_for(&env, TARGET, 2).await;
    let member_cursor = cursor_for(&env, MEMBER, 2).await;
    let before = env.snapshot().await;
    for (user, cursor) in [
        (MEMBER, &target_cursor),
        (BARE, &target_cursor),
        (ADMIN, &target_cursor),
        (NOBODY, &target_cursor),
        (TARGET, &member_cursor),
    ] {
        for rest in [false, true] {
            let event = history(ADMIN, &format!("userId={user}&cursor={cursor}&limit=2"));
            let response = env.call::<AdminHistory>(if rest { event.rest_api() } else { event.http_api() }).await;
            assert_validation_error(&response, &format!("{user} with another's cursor"));
            let text = response.body.to_string();
            assert!(!text.contains("compass."), "another user's records leaked: {text}");
        }
    }
    assert_eq!(env.snapshot().await, before);
    // Each still works for its own user, whatever the case of the userId.
    for user in [TARGET.to_owned(), TARGET.to_uppercase()] {
        let data = page(&env, &history(ADMIN, &format!("userId={user}&cursor={target_cursor}&limit=2")), false).await;
        let expected = expected_events(&env, TARGET).await;
        assert_eq!(data["events"].as_array().unwrap(), &expected[2..4], "{user}");
    }
}

#[tokio::test]
async fn every_single_character_change_to_a_genuine_cursor_is_a_validation_error() {
    let env = admin_world().await;
    make_history(&env, TARGET, 4).await;
    let cursor = cursor_for(&env, TARGET, 2).await;
    let alphabet: Vec<char> = ('A'..='Z').chain('a'..='z').chain('0'..='9').chain(['-', '_']).collect();
    let mut tampered = Vec::new();
    for (index, original) in cursor.char_indices() {
        let position = alphabet.iter().position(|c| *c == original).expect("a base64url character");
        for replacement in [
            alphabet[(position + 1) % alphabet.len()],
            alphabet[(position + 31) % alphabet.len()],
            '.',
            '=',
            '+',
            '/',
            '~',
        ] {
            let mut changed = cursor.clone();
            changed.replace_range(index..=index, &replacement.to_string());
            tampered.push(changed);
        }
    }
    // Every byte of what the cursor encodes, changed and encoded again.
    let bytes = URL_SAFE_NO_PAD.decode(&cursor).unwrap();
    for index in 0..bytes.len() {
        for flip in [0x01u8, 0x20, 0x80] {
            let mut changed = bytes.clone();
            changed[index] ^= flip;
            tampered.push(URL_SAFE_NO_PAD.encode(&changed));
        }
        let mut shorter = bytes.clone();
        shorter.remove(index);
        tampered.push(URL_SAFE_NO_PAD.encode(&shorter));
    }
    // Every prefix but the empty one (which means the first page), and a few extensions.
    for length in 1..cursor.len() {
        tampered.push(cursor[..length].to_owned());
    }
    for extra in ["A", "AA", "AAA", "AAAA", "=", "==", "%00"] {
        tampered.push(format!("{cursor}{extra}"));
    }
    tampered.retain(|changed| *changed != cursor);
    let before = env.snapshot().await;
    for changed in &tampered {
        let event = history(ADMIN, &format!("userId={TARGET}&limit=2&cursor={}", encoded(changed)));
        let response = env.call::<AdminHistory>(event.http_api()).await;
        assert_validation_error(&response, &format!("cursor {changed:?}"));
        assert!(response.body["error"]["message"].as_str().unwrap().contains("cursor"), "{changed}: {response:?}");
    }
    assert_eq!(env.snapshot().await, before);
    // The genuine one still leads where it did.
    page(&env, &history(ADMIN, &format!("userId={TARGET}&limit=2&cursor={cursor}")), false).await;
    assert!(tampered.len() > 5 * cursor.len(), "{} cases", tampered.len());
}

#[tokio::test]
async fn forged_and_junk_cursors_are_a_validation_error() {
    let env = admin_world().await;
    make_history(&env, TARGET, 4).await;
    let genuine = cursor_for(&env, TARGET, 2).await;
    let member = {
        make_history(&env, MEMBER, 3).await;
        cursor_for(&env, MEMBER, 1).await
    };
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(&genuine).unwrap()).unwrap();
    let member_text = String::from_utf8(URL_SAFE_NO_PAD.decode(&member).unwrap()).unwrap();
    let parts: Vec<&str> = text.split('.').collect();
    let member_parts: Vec<&str> = member_text.split('.').collect();
    assert_eq!(parts.len(), 4, "{text}");
    let event_id = uuid::Uuid::now_v7().to_string();
    let forged_texts = [
        format!("v1.{TARGET}.{event_id}.{}", "0".repeat(24)),
        format!("v1.{TARGET}.{event_id}.{}", parts[3]),
        format!("v1.{TARGET}.{}.{}", member_parts[2], parts[3]),
        format!("v1.{TARGET}.{}.{}", parts[2], member_parts[3]),
        format!("v2.{TARGET}.{}.{}", parts[2], parts[3]),
        format!("{text}.extra"),
        format!("v1.{TARGET}.{}", parts[2]),
        format!("v1.{}.{}.{}", TARGET.to_uppercase(), parts[2], parts[3]),
        format!("v1.{TARGET}.{}.{}", parts[2].to_uppercase(), parts[3]),
        format!("v1.{TARGET}.{}.{}", parts[2], parts[3].to_uppercase()),
        format!("v1.{TARGET}.{}.{} ", parts[2], parts[3]),
        "v1".to_owned(),
        "junk".to_owned(),
        String::new(),
        "\u{0}\u{1}\u{ff}".to_owned(),
    ];
    let mut forged: Vec<String> = forged_texts.iter().map(|text| URL_SAFE_NO_PAD.encode(text)).collect();
    forged.push(URL_SAFE_NO_PAD.encode([0xffu8, 0xfe, 0x00, 0x80]));
    // The genuine text in other base64 flavours, where they differ from the one issued.
    for other in [STANDARD.encode(&text), URL_SAFE.encode(&text)] {
        if other != genuine {
            forged.push(other);
        }
    }
    forged.extend(
        [text.as_str(), "x", "%", "====", "null", "undefined", "0", "-1", "😀", "\"\"", "[]", "{}", "..", "v1...."]
            .map(str::to_owned),
    );
    forged.push("A".repeat(600));
    forged.push(format!("{genuine}{}", "A".repeat(600)));
    forged.retain(|cursor| !cursor.is_empty());
    let before = env.snapshot().await;
    for cursor in &forged {
        for rest in [false, true] {
            let event = history(ADMIN, &format!("userId={TARGET}&cursor={}", encoded(cursor)));
            let response = env.call::<AdminHistory>(if rest { event.rest_api() } else { event.http_api() }).await;
            assert_validation_error(&response, &format!("cursor {cursor:?}"));
        }
    }
    assert_eq!(env.snapshot().await, before);
}

#[tokio::test]
async fn an_empty_cursor_means_the_first_page_and_a_repeated_one_is_refused() {
    let env = admin_world().await;
    make_history(&env, TARGET, 5).await;
    let first = page(&env, &history(ADMIN, &format!("userId={TARGET}&limit=2")), false).await;
    for query in [format!("userId={TARGET}&limit=2&cursor="), format!("cursor=&userId={TARGET}&limit=2")] {
        for rest in [false, true] {
            assert_eq!(page(&env, &history(ADMIN, &query), rest).await, first, "{query}");
        }
    }
    let cursor = first["nextCursor"].as_str().unwrap();
    for query in [
        format!("userId={TARGET}&cursor={cursor}&cursor={cursor}"),
        format!("userId={TARGET}&cursor=&cursor={cursor}"),
        format!("userId={TARGET}&cursor=&cursor="),
    ] {
        for rest in [false, true] {
            let event = history(ADMIN, &query);
            let response = env.call::<AdminHistory>(if rest { event.rest_api() } else { event.http_api() }).await;
            assert_validation_error(&response, &query);
        }
    }
}

#[tokio::test]
async fn the_query_is_read_as_api_gateway_delivers_it() {
    let env = admin_world().await;
    make_history(&env, TARGET, 3).await;
    let expected = page(&env, &history(ADMIN, &format!("userId={TARGET}&limit=2")), false).await;
    let cursor = expected["nextCursor"].as_str().unwrap().to_owned();
    let next = page(&env, &history(ADMIN, &format!("userId={TARGET}&limit=2&cursor={cursor}")), false).await;
    let percent: String = TARGET.bytes().map(|byte| format!("%{byte:02x}")).collect();
    let every_byte_encoded: String = cursor.bytes().map(|byte| format!("%{byte:02X}")).collect();
    for (query, expected) in [
        ("userId=%36%38bb46bb4db8c853599f1ebb&limit=2".to_owned(), &expected),
        (format!("userId={percent}&limit=%32"), &expected),
        (format!("userId={}&limit=2", TARGET.to_uppercase()), &expected),
        (format!("limit=2&unknown=1&userId={TARGET}&userid=x&Limit=500&CURSOR=junk"), &expected),
        (format!("userId={TARGET}&limit=2&cursor={every_byte_encoded}"), &next),
        (format!("userId={TARGET}&limit=2&%63ursor={cursor}"), &next),
    ] {
        for rest in [false, true] {
            assert_eq!(&page(&env, &history(ADMIN, &query), rest).await, expected, "{query}, rest: {rest}");
        }
    }
    for query in [
        format!("userid={TARGET}"),
        format!("UserId={TARGET}"),
        "userId=".to_owned(),
        String::new(),
        format!("userId={TARGET}&userId={TARGET}"),
        format!("userId={TARGET}&userId={MEMBER}"),
        format!("userId={}", &TARGET[1..]),
    ] {
        for rest in [false, true] {
            let event = history(ADMIN, &query);
            let response = env.call::<AdminHistory>(if rest { event.rest_api() } else { event.http_api() }).await;
            assert_validation_error(&response, &query);
            assert!(response.body["error"]["message"].as_str().unwrap().contains("userId"), "{query}: {response:?}");
        }
    }
}

#[tokio::test]
async fn a_record_written_before_action_existed_reads_as_a_grant() {
    let env = admin_world().await;
    let legacy = planted(TARGET, Action::Grant, &["compass.legacy.*"]);
    let mut item = legacy.to_item();
    let attributes = item.len();
    // The one attribute that says "grant": the action, whatever the store calls it.
    item.retain(|_, value| *value != s(Action::Grant.as_str()));
    assert_eq!(item.len(), attributes - 1);
    env.put(&env.tables.audit, item).await;
    make_history(&env, TARGET, 3).await;
    let data = page(&env, &history(ADMIN, &format!("userId={TARGET}")), false).await;
    let events = data["events"].as_array().unwrap();
    assert_eq!(events.len(), 4);
    assert_eq!(events[3], as_event(&legacy));
    assert_eq!(events[3]["action"], "grant");
    assert_eq!(events[3]["at"], "2025-01-02T03:04:05.678Z");
    // A planted revoke reads as one, with its own time.
    let revoke = planted(TARGET, Action::Revoke, &["compass.legacy.*"]);
    env.put(&env.tables.audit, revoke.to_item()).await;
    let data = page(&env, &history(ADMIN, &format!("userId={TARGET}&limit=1")), false).await;
    assert_eq!(data["events"], json!([as_event(&revoke)]));
}

#[tokio::test]
async fn a_change_shows_on_the_very_next_read_and_nothing_is_cached() {
    let env = admin_world().await;
    let query = format!("userId={TARGET}&limit=1");
    for i in 0..4 {
        let made = make_history(&env, TARGET, 1).await;
        let data = page(&env, &history(ADMIN, &query), false).await;
        assert_eq!(data["events"][0]["requestId"], made[0].0.as_str(), "change {i}");
    }
    let revoke = change(Event::admin_remove(), TARGET, &["compass.users.*"]);
    env.changes::<AdminRemove>(revoke.http_api()).await;
    let data = page(&env, &history(ADMIN, &query), false).await;
    assert_eq!(data["events"][0]["requestId"], revoke.request_id.as_str());
    assert_eq!(data["events"][0]["action"], "revoke");
    let record = planted(TARGET, Action::Grant, &["compass.planted"]);
    env.put(&env.tables.audit, record.to_item()).await;
    let data = page(&env, &history(ADMIN, &query), false).await;
    assert_eq!(data["events"], json!([as_event(&record)]));
}

#[tokio::test]
async fn a_users_history_never_holds_another_users_events() {
    let env = admin_world().await;
    make_history(&env, TARGET, 6).await;
    make_history(&env, MEMBER, 6).await;
    make_history(&env, ADMIN, 2).await;
    for user in [TARGET, MEMBER, ADMIN] {
        let ids: HashSet<String> = env.audit_of(user).await.into_iter().map(|record| record.event_id).collect();
        let pages = all_pages(&env, user, Some(4), false).await;
        let shown: HashSet<String> =
            pages.iter().flatten().map(|event| event["eventId"].as_str().unwrap().to_owned()).collect();
        assert_eq!(shown, ids, "{user}");
    }
}

#[tokio::test]
async fn unauthenticated_requests_get_401_whatever_the_query() {
    let env = admin_world().await;
    make_history(&env, TARGET, 3).await;
    let cursor = cursor_for(&env, TARGET, 1).await;
    let before = env.snapshot().await;
    for query in [
        format!("userId={TARGET}"),
        format!("userId={TARGET}&cursor={cursor}"),
        format!("userId={TARGET}&limit=0"),
        format!("userId={TARGET}&cursor=junk"),
        format!("userId={MEMBER}&cursor={cursor}"),
        "userId=nope".to_owned(),
        String::new(),
    ] {
        for event in [
            Event::admin_history(&query),
            Event::admin_history(&query).bearer("not-a-jwt"),
            Event::admin_history(&query).bearer(&jwt(&json!({ "sub": ADMIN, "exp": crate::support::now() - 120 }))),
            history(NOBODY, &query),
            history(ADMIN, &query).bearer(&jwt_for(ADMIN)),
        ] {
            for rest in [false, true] {
                let response = entry(&env, &event, rest).await;
                assert_eq!(response.status, 401, "{query}, rest: {rest}: {response:?}");
                assert_eq!(response.body["error"]["code"], "UNAUTHORIZED", "{query}");
                assert_eq!(response.headers["www-authenticate"], "Bearer");
            }
        }
    }
    assert_eq!(env.snapshot().await, before);
}

#[tokio::test]
async fn a_bad_query_from_a_non_admin_is_400_then_403_then_404_for_an_admin() {
    let env = admin_world().await;
    make_history(&env, TARGET, 3).await;
    let cursor = cursor_for(&env, TARGET, 1).await;
    for query in [
        format!("userId={TARGET}&limit=0"),
        format!("userId={TARGET}&cursor=junk"),
        format!("userId={MEMBER}&cursor={cursor}"),
        "userId=x".to_owned(),
    ] {
        let response = env.refuses::<AdminHistory>(history(MEMBER, &query).http_api(), 400).await;
        assert_eq!(response.body["error"]["code"], "VALIDATION_ERROR", "{query}");
    }
    for (caller, target) in [(MEMBER, TARGET), (MEMBER, NOBODY), (MEMBER, MEMBER), (BARE, TARGET), (TARGET, TARGET)] {
        let query = format!("userId={target}");
        let response = env.refuses::<AdminHistory>(history(caller, &query).http_api(), 403).await;
        assert_eq!(response.body, json!({ "error": { "code": "FORBIDDEN", "message": FORBIDDEN } }));
    }
    let response =
        env.refuses::<AdminHistory>(history(MEMBER, &format!("userId={TARGET}&cursor={cursor}")).http_api(), 403).await;
    assert!(!response.body.to_string().contains("compass."), "{response:?}");
}

#[tokio::test]
async fn a_missing_user_is_404_even_with_audit_records() {
    let env = admin_world().await;
    env.put(&env.tables.audit, planted(NOBODY, Action::Grant, &["compass.ghost"]).to_item()).await;
    // A user deleted after its history was written.
    make_history(&env, BARE, 3).await;
    env.delete_user(BARE).await;
    for target in [NOBODY, BARE] {
        for query in [format!("userId={target}"), format!("userId={}&limit=100", target.to_uppercase())] {
            let response = env.refuses::<AdminHistory>(history(ADMIN, &query).http_api(), 404).await;
            assert_eq!(
                response.body,
                json!({ "error": { "code": "USER_NOT_FOUND", "message": "User with this ID does not exist." } })
            );
        }
    }
}

#[tokio::test]
async fn every_read_is_strongly_consistent_writes_nothing_and_a_self_read_asks_for_one_key() {
    let world = admin_world().await;
    make_history(&world, TARGET, 5).await;
    make_history(&world, ADMIN, 3).await;
    let cursor = cursor_for(&world, TARGET, 2).await;
    let (env, recorder) = world.recorded();
    let upper = ADMIN.to_uppercase();
    for (caller, query, status) in [
        (ADMIN, format!("userId={TARGET}"), 200),
        (ADMIN, format!("userId={TARGET}&limit=2&cursor={cursor}"), 200),
        (ADMIN, format!("userId={ADMIN}"), 200),
        (ADMIN, format!("userId={upper}&limit=1"), 200),
        (ADMIN, format!("userId={NOBODY}"), 404),
        (MEMBER, format!("userId={TARGET}"), 403),
        (MEMBER, format!("userId={MEMBER}"), 403),
        (NOBODY, format!("userId={TARGET}"), 401),
        (NOBODY, "limit=0".to_owned(), 401),
    ] {
        let before = world.snapshot().await;
        recorder.take();
        let response = env.call::<AdminHistory>(history(caller, &query).http_api()).await;
        assert_eq!(response.status, status, "{caller}: {query}: {response:?}");
        assert_consistent_reads_only(&recorder.take(), &format!("{caller}: {query}"));
        assert_eq!(world.snapshot().await, before, "a read wrote something");
    }
}

#[tokio::test]
async fn a_body_on_the_get_is_ignored_however_large_or_malformed() {
    let env = admin_world().await;
    make_history(&env, TARGET, 3).await;
    let query = format!("userId={TARGET}&limit=2");
    let expected = page(&env, &history(ADMIN, &query), false).await;
    let huge = format!("{{\"cursor\": \"{}\"}}", "a".repeat(70 * 1024));
    for event in [
        history(ADMIN, &query).json(&json!({ "userId": MEMBER, "limit": 0 })),
        history(ADMIN, &query).header("content-type", "application/json").body(&huge),
        history(ADMIN, &query).header("content-type", "text/plain").body("{not json"),
        history(ADMIN, &query).binary_body(b"\xff\xfe\x00"),
    ] {
        for rest in [false, true] {
            let before = env.snapshot().await;
            assert_eq!(page(&env, &event, rest).await, expected);
            assert_eq!(env.snapshot().await, before);
        }
    }
}

#[tokio::test]
async fn the_route_works_with_a_trailing_slash_and_other_methods_answer_like_api_gateway() {
    let env = admin_world().await;
    let query = format!("userId={TARGET}");
    env.reads::<AdminHistory>(history(ADMIN, &query).path("/user/permission-history/").http_api()).await;
    let not_found = json!({ "message": "Not Found" });
    for event in [
        history(ADMIN, &query).method("PUT"),
        history(ADMIN, &query).method("DELETE"),
        history(ADMIN, &query).path("/user/permissions"),
        history(ADMIN, &query).path("/user/permission-history/x"),
    ] {
        assert_eq!(env.refuses::<AdminHistory>(event.http_api(), 404).await.body, not_found);
    }
}
