//! `PATCH /organizations/users/permissions/{user_uuid}/` end to end on DynamoDB Local.

use serde_json::{Value, json};

use crate::support::OrgAdd;
use crate::support::fixtures::org::*;
use crate::support::{CapturedLogs, Event, JWT_SECRET, TableNames, TestEnv, now};
use permissions_service::auth::jwt::JwtVerifier;

fn grant(target: &str, uuids: &[&str]) -> Event {
    Event::org(target).token(EDITOR_KEY).json(&json!({ "permission_uuids": uuids }))
}

#[tokio::test]
async fn grants_the_seed_example_and_answers_with_sorted_unique_lowercase_uuids() {
    let env = org_world().await;
    let body = json!({ "permission_uuids": [P1.to_uppercase(), P2, P1] });
    let request = Event::org(TARGET)
        .token(EDITOR_KEY)
        .header("content-type", "application/json; charset=utf-8")
        .body(&body.to_string());
    let response = env.changes::<OrgAdd>(request.http_api()).await;
    assert_eq!(response.body, json!({ "user_uuid": TARGET, "permission_uuids": [P2, P1] }));
    let mut expected = vec![P1, P2, P3];
    expected.sort();
    assert_eq!(env.permissions_of(TARGET).await.unwrap(), expected);
}

#[tokio::test]
async fn the_audit_record_names_target_actor_endpoint_permissions_and_request_id() {
    let env = org_world().await;
    let event = grant(TARGET, &[P1]);
    env.changes::<OrgAdd>(event.http_api()).await;
    let records = env.audit_of(TARGET).await;
    assert_eq!(records.len(), 1);
    let record = &records[0];
    assert_eq!(record.actor_id, EDITOR);
    assert_eq!(record.endpoint, "org-user-permissions");
    assert_eq!(record.org_uuid.as_deref(), Some(ORG_A));
    assert_eq!(record.request_id, event.request_id);
    assert!(record.at.ends_with('Z'), "{record:?}");
    assert_eq!(record.permissions, vec![P1.to_owned()]);
    assert!(uuid::Uuid::parse_str(&record.event_id).unwrap().get_version_num() == 7);
}

#[tokio::test]
async fn granting_what_the_user_holds_is_a_noop_on_the_set() {
    let env = org_world().await;
    env.changes::<OrgAdd>(grant(TARGET, &[P3]).http_api()).await;
    env.changes::<OrgAdd>(grant(TARGET, &[P3]).http_api()).await;
    assert_eq!(env.permissions_of(TARGET).await.unwrap(), vec![P3]);
    assert_eq!(env.audit_of(TARGET).await.len(), 2, "each successful request is audited");
}

#[tokio::test]
async fn grants_to_a_user_without_a_permissions_attribute() {
    let env = org_world().await;
    env.changes::<OrgAdd>(grant(BARE, &[P2]).http_api()).await;
    assert_eq!(env.permissions_of(BARE).await.unwrap(), vec![P2]);
}

#[tokio::test]
async fn the_path_works_with_and_without_the_trailing_slash_and_in_any_case() {
    let env = org_world().await;
    let slashless = grant(TARGET, &[P1]).path(&format!("/organizations/users/permissions/{TARGET}"));
    env.changes::<OrgAdd>(slashless.http_api()).await;
    let upper = TARGET.to_uppercase();
    let response = env.changes::<OrgAdd>(grant(&upper, &[P2]).http_api()).await;
    assert_eq!(response.body["user_uuid"], TARGET);
    assert_eq!(env.permissions_of(TARGET).await.unwrap().len(), 3);
}

#[tokio::test]
async fn a_caller_may_grant_to_itself() {
    let env = org_world().await;
    env.changes::<OrgAdd>(grant(EDITOR, &[P1]).http_api()).await;
    let mut expected = vec![EDIT_RIGHT, P1];
    expected.sort();
    assert_eq!(env.permissions_of(EDITOR).await.unwrap(), expected);
}

#[tokio::test]
async fn the_token_keyword_is_case_insensitive() {
    let env = org_world().await;
    for keyword in ["token", "TOKEN"] {
        let request = Event::org(TARGET)
            .header("authorization", &format!("{keyword} {EDITOR_KEY}"))
            .json(&json!({ "permission_uuids": [P1] }));
        env.changes::<OrgAdd>(request.http_api()).await;
    }
}

#[tokio::test]
async fn rest_api_events_are_served_too() {
    let env = org_world().await;
    env.changes::<OrgAdd>(grant(TARGET, &[P1]).rest_api()).await;
    assert!(env.permissions_of(TARGET).await.unwrap().contains(&P1.to_owned()));
}

#[tokio::test]
async fn function_url_events_without_path_parameters_take_the_uuid_from_the_path() {
    let env = org_world().await;
    let request = grant(TARGET, &[P1])
        .without_path_parameters()
        .path(&format!("/lambda-url/org-user-permissions/organizations/users/permissions/{TARGET}/"));
    env.changes::<OrgAdd>(request.http_api()).await;
}

#[tokio::test]
async fn base64_encoded_bodies_are_decoded() {
    let env = org_world().await;
    let body = json!({ "permission_uuids": [P1] }).to_string();
    let request =
        Event::org(TARGET).token(EDITOR_KEY).header("content-type", "application/json").binary_body(body.as_bytes());
    env.changes::<OrgAdd>(request.http_api()).await;
}

#[tokio::test]
async fn invalid_fields_are_400_in_drf_shape_and_write_nothing() {
    let env = org_world().await;
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
        let response = env.refuses::<OrgAdd>(Event::org(target).token(EDITOR_KEY).json(&body).http_api(), 400).await;
        assert_eq!(response.body, expected, "for body {body}");
    }
}

#[tokio::test]
async fn malformed_and_non_object_json_are_400_and_write_nothing() {
    let env = org_world().await;
    let malformed = Event::org(TARGET).token(EDITOR_KEY).header("content-type", "application/json");
    let response = env.refuses::<OrgAdd>(malformed.clone().body("{\"permission_uuids\": [").http_api(), 400).await;
    let detail = response.body["detail"].as_str().unwrap();
    assert!(detail.starts_with("JSON parse error - "), "{detail}");
    let response = env.refuses::<OrgAdd>(malformed.clone().binary_body(b"{\"a\": \"\xff\"}").http_api(), 400).await;
    assert!(response.body["detail"].as_str().unwrap().starts_with("JSON parse error - "));
    for (body, type_name) in [("[1]", "list"), ("\"x\"", "str"), ("3", "int"), ("1.5", "float"), ("true", "bool")] {
        let response = env.refuses::<OrgAdd>(malformed.clone().body(body).http_api(), 400).await;
        let message = format!("Invalid data. Expected a dictionary, but got {type_name}.");
        assert_eq!(response.body, json!({ "non_field_errors": [message] }));
    }
}

#[tokio::test]
async fn unknown_catalog_uuids_are_named_and_nothing_is_written() {
    let env = org_world().await;
    let response = env.refuses::<OrgAdd>(grant(TARGET, &[P1, UNKNOWN]).http_api(), 400).await;
    let message = format!("Invalid pk \"{UNKNOWN}\" - object does not exist.");
    assert_eq!(response.body, json!({ "permission_uuids": [message] }));
}

#[tokio::test]
async fn bodies_that_are_not_json_get_415() {
    let env = org_world().await;
    let base = Event::org(TARGET).token(EDITOR_KEY);
    let body = json!({ "permission_uuids": [P1] }).to_string();
    let plain =
        env.refuses::<OrgAdd>(base.clone().header("content-type", "text/plain").body(&body).http_api(), 415).await;
    assert_eq!(plain.body, json!({ "detail": "Unsupported media type \"text/plain\" in request." }));
    let form = base.clone().header("content-type", "application/x-www-form-urlencoded").body("a=b");
    env.refuses::<OrgAdd>(form.http_api(), 415).await;
    let missing = env.refuses::<OrgAdd>(base.body(&body).http_api(), 415).await;
    assert_eq!(missing.body, json!({ "detail": "Unsupported media type \"\" in request." }));
}

#[tokio::test]
async fn unauthenticated_requests_get_401_with_a_token_challenge() {
    let env = org_world().await;
    env.put_token("expired-key", EDITOR, Some(now() - 1)).await;
    env.put_token("orphaned-key", "e0000000-0000-4000-8000-0000000000ff", None).await;
    let body = json!({ "permission_uuids": [P1] });
    let not_provided = json!({ "detail": "Authentication credentials were not provided." });
    let invalid = json!({ "detail": "Invalid token." });
    let cases: Vec<(Event, &Value)> = vec![
        (Event::org(TARGET), &not_provided),
        (Event::org(TARGET).header("authorization", &format!("Bearer {EDITOR_KEY}")), &not_provided),
        (Event::org(TARGET).header("authorization", "Token"), &invalid),
        (Event::org(TARGET).header("authorization", &format!("Token {EDITOR_KEY} extra")), &invalid),
        (Event::org(TARGET).token("no-such-key"), &invalid),
        (Event::org(TARGET).token("expired-key"), &invalid),
        (Event::org(TARGET).token("orphaned-key"), &invalid),
        (Event::org(TARGET).token(EDITOR_KEY).token(EDITOR_KEY), &invalid),
    ];
    for (event, expected) in cases {
        let response = env.refuses::<OrgAdd>(event.json(&body).http_api(), 401).await;
        assert_eq!(&response.body, expected);
        assert_eq!(response.headers["www-authenticate"], "Token");
    }
}

#[tokio::test]
async fn callers_without_the_right_or_without_an_org_get_403() {
    let env = org_world().await;
    let forbidden = json!({ "detail": "You do not have permission to perform this action." });
    for key in [PLAIN_KEY, ORGLESS_KEY] {
        let request = Event::org(TARGET).token(key).json(&json!({ "permission_uuids": [P1] }));
        assert_eq!(env.refuses::<OrgAdd>(request.http_api(), 403).await.body, forbidden);
    }
}

#[tokio::test]
async fn a_revoked_caller_is_refused_on_its_very_next_request() {
    let env = org_world().await;
    env.changes::<OrgAdd>(grant(TARGET, &[P1]).http_api()).await;
    env.put_user(EDITOR, Some(ORG_A), None, &[P1]).await;
    env.refuses::<OrgAdd>(grant(TARGET, &[P2]).http_api(), 403).await;
}

#[tokio::test]
async fn the_warm_catalog_cache_never_authorizes_on_its_own() {
    let env = org_world().await;
    env.changes::<OrgAdd>(grant(TARGET, &[P1]).http_api()).await;
    // The right's catalog entry changes after this process cached it.
    env.put_permission(EDIT_RIGHT, "view_users").await;
    let response = env.refuses::<OrgAdd>(grant(TARGET, &[P2]).http_api(), 403).await;
    assert_eq!(response.body, json!({ "detail": "You do not have permission to perform this action." }));
}

#[tokio::test]
async fn a_missing_target_is_404_and_is_not_created() {
    let env = org_world().await;
    let missing = "f0000000-0000-4000-8000-00000000000f";
    let response = env.refuses::<OrgAdd>(grant(missing, &[P1]).http_api(), 404).await;
    assert_eq!(response.body, json!({ "detail": "Not found." }));
    assert!(env.user(missing).await.is_none());
}

#[tokio::test]
async fn a_user_of_another_org_is_indistinguishable_from_a_missing_one() {
    let env = org_world().await;
    let other_org = env.refuses::<OrgAdd>(grant(OUTSIDER, &[P1]).http_api(), 404).await;
    let missing = env.refuses::<OrgAdd>(grant("f0000000-0000-4000-8000-00000000000f", &[P1]).http_api(), 404).await;
    assert_eq!(other_org.body, missing.body);
    assert_eq!(other_org.headers, missing.headers);
    assert_eq!(env.permissions_of(OUTSIDER).await.unwrap(), vec![P3]);
}

#[tokio::test]
async fn bodies_over_64_kib_get_413_before_authentication() {
    let env = org_world().await;
    let huge = format!("{{\"permission_uuids\": [\"{}\"]}}", "a".repeat(64 * 1024));
    let request = Event::org(TARGET).header("content-type", "application/json").body(&huge);
    let response = env.refuses::<OrgAdd>(request.http_api(), 413).await;
    assert!(response.body["detail"].as_str().unwrap().contains("65536"));
}

#[tokio::test]
async fn checks_run_in_the_contract_order() {
    let env = org_world().await;
    let bad_body = json!({ "permission_uuids": "nope" });
    // A bad body without credentials: authentication comes first.
    env.refuses::<OrgAdd>(Event::org(TARGET).json(&bad_body).http_api(), 401).await;
    // A bad body from a caller without the right: the form is checked before the right.
    env.refuses::<OrgAdd>(Event::org(TARGET).token(PLAIN_KEY).json(&bad_body).http_api(), 400).await;
    // An unknown catalog uuid from a caller without the right: the catalog is not revealed.
    let unknown = Event::org(TARGET).token(PLAIN_KEY).json(&json!({ "permission_uuids": [UNKNOWN] }));
    env.refuses::<OrgAdd>(unknown.http_api(), 403).await;
    // A missing target with an unknown uuid: the catalog is checked before the write.
    let both = grant("f0000000-0000-4000-8000-00000000000f", &[UNKNOWN]);
    env.refuses::<OrgAdd>(both.http_api(), 400).await;
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_like_api_gateway() {
    let env = org_world().await;
    let not_found = json!({ "message": "Not Found" });
    for event in [
        grant(TARGET, &[P1]).method("POST"),
        grant(TARGET, &[P1]).method("GET"),
        grant(TARGET, &[P1]).path("/organizations/users/permission/x/"),
        grant(TARGET, &[P1]).path("/"),
    ] {
        assert_eq!(env.refuses::<OrgAdd>(event.http_api(), 404).await.body, not_found);
    }
}

#[tokio::test]
async fn a_backend_failure_is_a_500_logged_with_the_request_id() {
    let healthy = org_world().await;
    let tables = TableNames { audit: format!("{}-missing", healthy.tables.audit), ..healthy.tables.clone() };
    let broken =
        TestEnv::over(healthy.client.clone(), tables, JwtVerifier::new(JWT_SECRET.as_bytes(), None, None).unwrap());
    let logs = CapturedLogs::start();
    let event = grant(TARGET, &[P1]);
    let before = healthy.snapshot().await;
    let response = broken.call::<OrgAdd>(event.http_api()).await;
    assert_eq!(response.status, 500);
    assert_eq!(response.body, json!({ "detail": "A server error occurred." }));
    assert_eq!(healthy.snapshot().await, before, "the grant must not land without its audit record");
    let text = logs.text();
    assert!(text.contains(&event.request_id) && text.contains("backend failure"), "{text}");
    assert!(text.contains("ResourceNotFoundException"), "{text}");
    assert!(!text.contains(EDITOR_KEY), "the token leaked into the log: {text}");
}

#[tokio::test]
async fn each_request_logs_one_line_with_its_id_outcome_and_latency_and_never_the_token() {
    let env = org_world().await;
    let logs = CapturedLogs::start();
    let event = grant(TARGET, &[P1]);
    env.changes::<OrgAdd>(event.http_api()).await;
    let refused = Event::org(TARGET).token("a-wrong-key-that-must-not-be-logged").json(&json!({}));
    env.refuses::<OrgAdd>(refused.http_api(), 401).await;
    let text = logs.text();
    let lines: Vec<&str> = text.lines().filter(|line| line.contains("request completed")).collect();
    assert_eq!(lines.len(), 2, "{text}");
    for expected in
        [event.request_id.as_str(), "endpoint=\"org-user-permissions\"", "status=200", "outcome=\"granted\""]
    {
        assert!(lines[0].contains(expected), "{expected} missing from {}", lines[0]);
    }
    assert!(lines[0].contains("latency_us="), "{}", lines[0]);
    assert!(lines[1].contains("outcome=\"invalid_token\""), "{}", lines[1]);
    assert!(!text.contains(EDITOR_KEY) && !text.contains("a-wrong-key"), "a token leaked: {text}");
}
