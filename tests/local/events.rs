//! `events/`: HTTP API sample events for every documented outcome of both endpoints, for
//! `cargo lambda invoke --data-file` and `sam local invoke -e`. Each file's name starts with the
//! status it gets against the demo data; this module both keeps the files in step with the demo
//! data (`scripts/generate` rewrites them) and replays every one of them.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use permissions_service::auth::jwt::JwtVerifier;
use permissions_service::functions;
use permissions_service::lambda_entry::authorizer;
use permissions_service::local::demo;
use permissions_service::local::gateway::{Gate, GatewayRequest, ProtectedApi};
use permissions_service::telemetry::metrics::Metrics;
use serde_json::{Value, json};

use crate::support::{Event, TestEnv};

const ORG_DIR: &str = "org-user-permissions";
const ORG_REMOVE_DIR: &str = "org-user-permissions-remove";
const ADMIN_DIR: &str = "user-add-permissions";
const ADMIN_REMOVE_DIR: &str = "user-remove-permissions";
const ORG_LIST_DIR: &str = "org-user-permissions-list";
const ADMIN_LIST_DIR: &str = "user-list-permissions";
const ADMIN_HISTORY_DIR: &str = "user-permission-history";
const ADMIN_CHECK_DIR: &str = "user-check-permissions";
const AUTHORIZER_DIR: &str = permissions_service::authorizer::BINARY;

fn events_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("events")
}

fn org(user_uuid: &str, body: &Value) -> Event {
    Event::org(user_uuid).token(demo::EDITOR_TOKEN).header("content-type", "application/json").body(&body.to_string())
}

fn org_remove(user_uuid: &str, body: &Value) -> Event {
    Event::org_remove(user_uuid)
        .token(demo::EDITOR_TOKEN)
        .header("content-type", "application/json")
        .body(&body.to_string())
}

fn admin_remove(caller: &str, body: &Value) -> Event {
    Event::admin_remove()
        .bearer(&demo::jwt_for(caller))
        .header("content-type", "application/json")
        .body(&body.to_string())
}

fn admin_read(event: Event, caller: &str) -> Event {
    event.bearer(&demo::jwt_for(caller))
}

fn admin(caller: &str, body: &Value) -> Event {
    Event::admin().bearer(&demo::jwt_for(caller)).header("content-type", "application/json").body(&body.to_string())
}

fn check(caller: &str, body: &Value) -> Event {
    Event::admin_check().bearer(&demo::jwt_for(caller)).json(body)
}

fn hs256(claims: &Value) -> String {
    use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
    encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(demo::JWT_SECRET.as_bytes())).unwrap()
}

/// The authorizer event API Gateway sends for `method path` with `authorization` (if any).
fn authorizer_event(name: &str, method: &str, path: &str, authorization: Option<String>) -> Value {
    let api = ProtectedApi::new(["GET /dashboard/overview", "POST /users/invitations"]);
    let route_key = api.route_key(method, path).unwrap_or_else(|| format!("{method} {path}"));
    let headers: Vec<(String, String)> =
        authorization.map(|value| ("authorization".to_owned(), value)).into_iter().collect();
    let request_id = format!("sample-{name}");
    let request = GatewayRequest::new(&route_key, method, path, &headers, &request_id);
    request.authorizer_event()
}

/// The authorizer's samples: its answer, read by API Gateway, gives the status each name declares.
fn authorizer_samples() -> Vec<(&'static str, &'static str, Value)> {
    let bearer = |sub: &str| Some(format!("Bearer {}", demo::jwt_for(sub)));
    let expired = Some(format!("Bearer {}", hs256(&json!({ "sub": demo::NON_ADMIN, "exp": 1_700_000_000 }))));
    let cases: [(&str, &str, &str, Option<String>); 7] = [
        ("200-granted-by-a-wildcard", "POST", "/users/invitations", bearer(demo::ADMIN_TARGET)),
        ("200-granted-exactly", "GET", "/dashboard/overview", bearer(demo::NON_ADMIN)),
        ("403-not-granted", "GET", "/dashboard/overview", bearer(demo::ADMIN_TARGET)),
        ("403-unknown-route", "GET", "/reports", bearer(demo::NON_ADMIN)),
        ("403-expired-token", "GET", "/dashboard/overview", expired),
        ("403-unknown-user", "GET", "/dashboard/overview", bearer("000000000000000000000000")),
        ("403-not-a-bearer-token", "GET", "/dashboard/overview", Some("Basic dXNlcjpwYXNz".to_owned())),
    ];
    cases
        .into_iter()
        .map(|(name, method, path, authorization)| {
            (AUTHORIZER_DIR, name, authorizer_event(name, method, path, authorization))
        })
        .collect()
}

/// (folder, file name, event) for every sample.
fn samples() -> Vec<(&'static str, &'static str, Value)> {
    let (p1, p2) = (demo::CATALOG[0].0, demo::CATALOG[1].0);
    let seed_body = json!({ "permission_uuids": [p1, p2] });
    let admin_body =
        |user: &str, permissions: &[&str]| json!({ "payload": { "userId": user, "permissions": permissions } });
    let seed_admin = admin_body(demo::ADMIN_TARGET, &["compass.dashboard.*", "compass.dashboard.overview"]);
    let huge = "x".repeat(64 * 1024 + 1);
    let none_jwt = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(json!({ "sub": demo::ADMIN, "exp": demo::JWT_EXPIRES_AT }).to_string())
    );
    let admin_target = format!("userId={}", demo::ADMIN_TARGET);
    let seed_check = admin_body(demo::ADMIN_TARGET, &["compass.users.list", "compass.dashboard.overview"]);
    let expired = hs256(&json!({ "sub": demo::ADMIN, "exp": 1_700_000_000 }));
    let samples: Vec<(&str, &str, Event, bool)> = vec![
        (
            ORG_DIR,
            "200-grant-seed-example",
            org(demo::TARGET, &seed_body).set_header("content-type", "application/json; charset=utf-8"),
            false,
        ),
        (
            ORG_DIR,
            "200-grant-without-trailing-slash",
            org(demo::TARGET, &seed_body).path(&format!("/organizations/users/permissions/{}", demo::TARGET)),
            false,
        ),
        (
            ORG_DIR,
            "200-duplicate-uuids",
            org(demo::TARGET, &json!({ "permission_uuids": [p1, p1.to_uppercase()] })),
            false,
        ),
        (ORG_DIR, "200-rest-api-v1", org(demo::TARGET, &seed_body), true),
        (ORG_DIR, "400-invalid-user-uuid", org("not-a-uuid", &seed_body), false),
        (ORG_DIR, "400-malformed-json", org(demo::TARGET, &json!(null)).body("{\"permission_uuids\": ["), false),
        (ORG_DIR, "400-empty-permission-list", org(demo::TARGET, &json!({ "permission_uuids": [] })), false),
        (
            ORG_DIR,
            "400-unknown-permission-uuid",
            org(demo::TARGET, &json!({ "permission_uuids": ["00000000-0000-4000-8000-000000000000"] })),
            false,
        ),
        (
            ORG_DIR,
            "401-missing-token",
            Event::org(demo::TARGET).header("content-type", "application/json").body(&seed_body.to_string()),
            false,
        ),
        (
            ORG_DIR,
            "401-unknown-token",
            Event::org(demo::TARGET)
                .token("no-such-token")
                .header("content-type", "application/json")
                .body(&seed_body.to_string()),
            false,
        ),
        (
            ORG_DIR,
            "403-member-without-edit-right",
            Event::org(demo::TARGET)
                .token(demo::MEMBER_TOKEN)
                .header("content-type", "application/json")
                .body(&seed_body.to_string()),
            false,
        ),
        (ORG_DIR, "404-user-of-another-org", org(demo::OUTSIDER, &seed_body), false),
        (ORG_DIR, "404-missing-user", org("00000000-0000-4000-8000-00000000dead", &seed_body), false),
        (ORG_DIR, "413-body-too-large", org(demo::TARGET, &json!(null)).body(&huge), false),
        (
            ORG_DIR,
            "415-text-plain-body",
            Event::org(demo::TARGET)
                .token(demo::EDITOR_TOKEN)
                .header("content-type", "text/plain")
                .body(&seed_body.to_string()),
            false,
        ),
        (ADMIN_DIR, "200-grant-seed-example", admin(demo::ADMIN, &seed_admin), false),
        (
            ADMIN_DIR,
            "200-duplicate-permissions",
            admin(demo::ADMIN, &admin_body(demo::ADMIN_TARGET, &["compass.users.*", "compass.users.*"])),
            false,
        ),
        (ADMIN_DIR, "200-rest-api-v1", admin(demo::ADMIN, &seed_admin), true),
        (
            ADMIN_DIR,
            "400-invalid-user-id",
            admin(demo::ADMIN, &admin_body("not-an-object-id", &["compass.users.*"])),
            false,
        ),
        (
            ADMIN_DIR,
            "400-invalid-permission",
            admin(demo::ADMIN, &admin_body(demo::ADMIN_TARGET, &["Compass.Users"])),
            false,
        ),
        (ADMIN_DIR, "400-not-json", admin(demo::ADMIN, &seed_admin).set_header("content-type", "text/plain"), false),
        (
            ADMIN_DIR,
            "401-missing-token",
            Event::admin().header("content-type", "application/json").body(&seed_admin.to_string()),
            false,
        ),
        (
            ADMIN_DIR,
            "401-expired-token",
            Event::admin().bearer(&expired).header("content-type", "application/json").body(&seed_admin.to_string()),
            false,
        ),
        (
            ADMIN_DIR,
            "401-alg-none-token",
            Event::admin().bearer(&none_jwt).header("content-type", "application/json").body(&seed_admin.to_string()),
            false,
        ),
        (ADMIN_DIR, "403-non-admin", admin(demo::NON_ADMIN, &seed_admin), false),
        (
            ADMIN_DIR,
            "404-missing-user",
            admin(demo::ADMIN, &admin_body("000000000000000000000000", &["compass.users.*"])),
            false,
        ),
        (ADMIN_DIR, "413-body-too-large", admin(demo::ADMIN, &json!(null)).body(&huge), false),
        // The demo editor holds edit_org_users; removing what the target does not hold is a
        // no-op, still 200.
        (ORG_REMOVE_DIR, "200-revoke-seed-example", org_remove(demo::TARGET, &seed_body), false),
        (
            ORG_REMOVE_DIR,
            "200-revoke-without-trailing-slash",
            org_remove(demo::TARGET, &seed_body).path(&format!("/organizations/users/permissions/{}", demo::TARGET)),
            false,
        ),
        (ORG_REMOVE_DIR, "200-rest-api-v1", org_remove(demo::TARGET, &seed_body), true),
        (
            ORG_REMOVE_DIR,
            "400-unknown-permission-uuid",
            org_remove(demo::TARGET, &json!({ "permission_uuids": ["00000000-0000-4000-8000-000000000000"] })),
            false,
        ),
        (
            ORG_REMOVE_DIR,
            "401-missing-token",
            Event::org_remove(demo::TARGET).header("content-type", "application/json").body(&seed_body.to_string()),
            false,
        ),
        (
            ORG_REMOVE_DIR,
            "403-member-without-edit-right",
            Event::org_remove(demo::TARGET)
                .token(demo::MEMBER_TOKEN)
                .header("content-type", "application/json")
                .body(&seed_body.to_string()),
            false,
        ),
        (ORG_REMOVE_DIR, "404-user-of-another-org", org_remove(demo::OUTSIDER, &seed_body), false),
        (ORG_REMOVE_DIR, "413-body-too-large", org_remove(demo::TARGET, &json!(null)).body(&huge), false),
        (
            ADMIN_REMOVE_DIR,
            "200-revoke-seed-example",
            admin_remove(demo::ADMIN, &admin_body(demo::ADMIN_TARGET, &["compass.users.*"])),
            false,
        ),
        (
            ADMIN_REMOVE_DIR,
            "200-rest-api-v1",
            admin_remove(demo::ADMIN, &admin_body(demo::ADMIN_TARGET, &["compass.users.*"])),
            true,
        ),
        (
            ADMIN_REMOVE_DIR,
            "400-invalid-permission",
            admin_remove(demo::ADMIN, &admin_body(demo::ADMIN_TARGET, &["Compass.Users"])),
            false,
        ),
        (
            ADMIN_REMOVE_DIR,
            "401-missing-token",
            Event::admin_remove().header("content-type", "application/json").body(&seed_admin.to_string()),
            false,
        ),
        (ADMIN_REMOVE_DIR, "403-non-admin", admin_remove(demo::NON_ADMIN, &seed_admin), false),
        (
            ADMIN_REMOVE_DIR,
            "404-missing-user",
            admin_remove(demo::ADMIN, &admin_body("000000000000000000000000", &["compass.users.*"])),
            false,
        ),
        (ADMIN_REMOVE_DIR, "413-body-too-large", admin_remove(demo::ADMIN, &json!(null)).body(&huge), false),
        // Reads: the demo member holds view_org_users, so it may list too.
        (ORG_LIST_DIR, "200-list-target", Event::org_list(demo::TARGET).token(demo::EDITOR_TOKEN), false),
        (ORG_LIST_DIR, "200-list-as-viewer", Event::org_list(demo::TARGET).token(demo::MEMBER_TOKEN), false),
        (
            ORG_LIST_DIR,
            "200-list-without-trailing-slash",
            Event::org_list(demo::TARGET)
                .token(demo::EDITOR_TOKEN)
                .path(&format!("/organizations/users/permissions/{}", demo::TARGET)),
            false,
        ),
        (ORG_LIST_DIR, "200-rest-api-v1", Event::org_list(demo::TARGET).token(demo::EDITOR_TOKEN), true),
        (ORG_LIST_DIR, "400-invalid-user-uuid", Event::org_list("not-a-uuid").token(demo::EDITOR_TOKEN), false),
        (ORG_LIST_DIR, "401-missing-token", Event::org_list(demo::TARGET), false),
        (ORG_LIST_DIR, "404-user-of-another-org", Event::org_list(demo::OUTSIDER).token(demo::EDITOR_TOKEN), false),
        (ADMIN_LIST_DIR, "200-list-seed-target", admin_read(Event::admin_list(&admin_target), demo::ADMIN), false),
        (ADMIN_LIST_DIR, "200-rest-api-v1", admin_read(Event::admin_list(&admin_target), demo::ADMIN), true),
        (ADMIN_LIST_DIR, "400-missing-user-id", admin_read(Event::admin_list(""), demo::ADMIN), false),
        (ADMIN_LIST_DIR, "400-invalid-user-id", admin_read(Event::admin_list("userId=nope"), demo::ADMIN), false),
        (ADMIN_LIST_DIR, "401-missing-token", Event::admin_list(&admin_target), false),
        (ADMIN_LIST_DIR, "403-non-admin", admin_read(Event::admin_list(&admin_target), demo::NON_ADMIN), false),
        (
            ADMIN_LIST_DIR,
            "404-missing-user",
            admin_read(Event::admin_list("userId=000000000000000000000000"), demo::ADMIN),
            false,
        ),
        (ADMIN_HISTORY_DIR, "200-history", admin_read(Event::admin_history(&admin_target), demo::ADMIN), false),
        (
            ADMIN_HISTORY_DIR,
            "200-history-one-per-page",
            admin_read(Event::admin_history(&format!("{admin_target}&limit=1")), demo::ADMIN),
            false,
        ),
        (
            ADMIN_HISTORY_DIR,
            "400-limit-out-of-range",
            admin_read(Event::admin_history(&format!("{admin_target}&limit=101")), demo::ADMIN),
            false,
        ),
        (
            ADMIN_HISTORY_DIR,
            "400-malformed-cursor",
            admin_read(Event::admin_history(&format!("{admin_target}&cursor=not-a-cursor")), demo::ADMIN),
            false,
        ),
        (ADMIN_HISTORY_DIR, "401-missing-token", Event::admin_history(&admin_target), false),
        (ADMIN_HISTORY_DIR, "403-non-admin", admin_read(Event::admin_history(&admin_target), demo::NON_ADMIN), false),
        (
            ADMIN_HISTORY_DIR,
            "404-missing-user",
            admin_read(Event::admin_history("userId=000000000000000000000000"), demo::ADMIN),
            false,
        ),
        (ADMIN_CHECK_DIR, "200-admin-checks-seed-target", check(demo::ADMIN, &seed_check), false),
        (ADMIN_CHECK_DIR, "200-rest-api-v1", check(demo::ADMIN, &seed_check), true),
        (
            ADMIN_CHECK_DIR,
            "200-user-checks-itself",
            check(demo::NON_ADMIN, &json!({ "payload": { "permissions": ["compass.dashboard.overview"] } })),
            false,
        ),
        (
            ADMIN_CHECK_DIR,
            "400-invalid-permission",
            check(demo::ADMIN, &json!({ "payload": { "permissions": ["compass.Dashboard"] } })),
            false,
        ),
        (ADMIN_CHECK_DIR, "401-missing-token", Event::admin_check().json(&seed_check), false),
        (ADMIN_CHECK_DIR, "403-non-admin-checks-another-user", check(demo::NON_ADMIN, &seed_check), false),
        (
            ADMIN_CHECK_DIR,
            "404-missing-user",
            check(demo::ADMIN, &admin_body("000000000000000000000000", &["compass.users.list"])),
            false,
        ),
        (
            ADMIN_CHECK_DIR,
            "413-body-too-large",
            Event::admin_check().bearer(&demo::jwt_for(demo::ADMIN)).body(&huge),
            false,
        ),
    ];
    samples
        .into_iter()
        .map(|(dir, name, event, rest)| {
            let event = event.request_id(&format!("sample-{name}"));
            (dir, name, if rest { event.rest_api_json() } else { event.http_api_json() })
        })
        .chain(authorizer_samples())
        .collect()
}

fn path_of(dir: &str, name: &str) -> PathBuf {
    events_dir().join(dir).join(format!("{name}.json"))
}

#[test]
fn the_sample_events_match_the_demo_data() {
    let update = std::env::var_os("UPDATE_GENERATED").is_some();
    for (dir, name, event) in samples() {
        let path = path_of(dir, name);
        let expected = serde_json::to_string_pretty(&event).unwrap() + "\n";
        if update {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &expected).unwrap();
        }
        let actual = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(actual == expected, "{} is stale: run scripts/generate", path.display());
    }
    for dir in functions::all().map(|function| function.binary()) {
        let on_disk = std::fs::read_dir(events_dir().join(dir)).unwrap().count();
        let declared = samples().iter().filter(|(d, _, _)| *d == dir).count();
        assert_eq!(on_disk, declared, "events/{dir} holds files no test declares");
    }
}

/// Through the Lambda binaries' own entry path, as `cargo lambda invoke` would send them.
#[tokio::test]
async fn every_sample_event_gets_the_status_its_name_declares() {
    for (dir, name, _) in samples() {
        let event: Value = serde_json::from_str(&std::fs::read_to_string(path_of(dir, name)).unwrap()).unwrap();
        let env = TestEnv::with_demo_data().await;
        let mut context = lambda_http::Context::default();
        context.request_id = format!("sample-{name}");
        let declared: u16 = name[..3].parse().unwrap();
        if dir == AUTHORIZER_DIR {
            let jwt = JwtVerifier::new(demo::JWT_SECRET.as_bytes(), None, None).unwrap();
            let authorizer = env.authorizer(demo::ROUTE_PERMISSIONS, jwt);
            let answer = authorizer::answer(&authorizer, &Metrics::Off, event, context).await;
            let (status, body) = Gate::of_answer(answer.as_ref()).response("-");
            assert_eq!(status, declared, "events/{dir}/{name}.json: API Gateway would answer {body}");
            continue;
        }
        let reply = env.answer_event(dir, event, context).await;
        let reply = reply.expect("an API Gateway event");
        assert_eq!(reply["statusCode"], declared, "events/{dir}/{name}.json answered {reply}");
    }
}
