//! Hostile input at scale: generated requests (10,000 per endpoint by default) as raw API Gateway
//! events (formats 2.0 and 1.0) through the Lambda binaries' entry path (`lambda_entry`) and the
//! real handlers over DynamoDB Local, most of them carrying a valid caller's credentials so that
//! they reach the parsers. Bodies are random JSON of every type and depth, truncated or non-UTF-8
//! bytes, huge numbers, deep nesting and near-miss requests; headers, content types, methods,
//! cookies, `Host`, `x-forwarded-proto`, the raw query string and path segments vary too, drawn
//! from every character API Gateway can forward there and more (docs/security.md states the
//! assumption). No target a generated request names exists, so no change can succeed: every answer
//! must be a 4xx in the endpoint's own shape, within a deadline, and the tables must be exactly as
//! they were. The check endpoint writes nothing whatever it answers, so its campaign also names
//! seeded users and sends non-admins' tokens: a 200 must then be exactly the answer the request
//! asked for (the user it named, or its caller; the permissions it sent, once each, in order;
//! each decided by the docs' rule, recomputed here).
//!
//! `HOSTILE_CASES=100000 scripts/test hostile_input` runs a longer campaign.

use std::cell::RefCell;
use std::collections::BTreeMap;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{Map, Value, json};

use permissions_service::domain::is_compass_permission;
use permissions_service::frame::Route;
use permissions_service::frame::routes::{ADMIN_ADD, ADMIN_CHECK, ADMIN_REMOVE, ORG_ADD, ORG_REMOVE};

use crate::hostile::{
    self, Line, cases, is_admin_error, is_gateway_not_found, is_org_error, line, mixed_case, wire_text,
};
use crate::raw_events::{Format, invoke};
use crate::support::fixtures::admin::{self, ADMIN, MEMBER, NOBODY, admin_world, jwt_for};
use crate::support::fixtures::org::{EDIT_RIGHT, EDITOR_KEY, P1, P2, org_world};
use crate::support::{AdminAdd, AdminCheck, AdminRemove, OrgAdd, OrgRemove};
use crate::support::{TestEnv, TestResponse};

/// What one generated request is made of: its line, and what it carries.
#[derive(Debug, Clone)]
struct Hostile {
    line: Line,
    content_type: Option<String>,
    extra_headers: Vec<(String, String)>,
    cookies: Vec<String>,
    body: Body,
}

#[derive(Debug, Clone)]
enum Body {
    None,
    Text(String),
    Bytes(Vec<u8>),
}

fn hex_uuid() -> impl Strategy<Value = String> {
    any::<u128>().prop_map(|bits| uuid::Uuid::from_u128(bits).hyphenated().to_string())
}

/// Strings that sit near the interesting edges: UUID and ObjectId look-alikes, permission
/// look-alikes, control characters, escapes, long runs, and plain random Unicode.
fn tricky_string() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => any::<String>(),
        2 => hex_uuid().prop_flat_map(mixed_case),
        1 => hex_uuid().prop_map(|uuid| format!("{{{uuid}}}")),
        1 => hex_uuid().prop_map(|uuid| uuid.replace('-', "")),
        1 => hex_uuid().prop_map(|uuid| format!("{uuid}\n")),
        1 => hex_uuid().prop_map(|uuid| format!("urn:uuid:{uuid}")),
        1 => "[0-9a-fA-F]{23,25}",
        1 => "compass\\.[a-z][a-z0-9_-]{0,70}(\\.([a-z*][a-z0-9_*-]{0,70}))?(\\.x)?",
        1 => "compass\\.[\\PC\\s\\.]{0,12}",
        1 => "[\\x00-\\x1f\\u{7f}\\u{d7ff}\\u{e000}\\u{fffd}\\u{10ffff}]{0,8}",
        1 => (1usize..3000).prop_map(|n| "a".repeat(n)),
    ]
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter("JSON has no NaN or infinity", |f| f.is_finite()).prop_map(Value::from),
        tricky_string().prop_map(Value::String),
    ]
}

fn json_key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("permission_uuids".to_owned()),
        Just("payload".to_owned()),
        Just("userId".to_owned()),
        Just("permissions".to_owned()),
        Just("role".to_owned()),
        Just("__proto__".to_owned()),
        any::<String>(),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(8, 96, 10, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..10).prop_map(Value::Array),
            prop::collection::vec((json_key(), inner), 0..6)
                .prop_map(|fields| Value::Object(fields.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Text that is not quite JSON, or JSON that strains a parser.
fn raw_text() -> impl Strategy<Value = String> {
    prop_oneof![
        (1usize..4000).prop_map(|depth| format!("{}{}", "[".repeat(depth), "]".repeat(depth))),
        (1usize..4000).prop_map(|depth| "{\"a\":".repeat(depth)),
        "-?[0-9]{30,400}(\\.[0-9]{1,50})?([eE][+-]?[0-9]{1,6})?",
        Just(r#"{"permission_uuids": ["\ud800"]}"#.to_owned()),
        Just("\u{feff}{\"permission_uuids\": []}".to_owned()),
        Just(r#"{"payload": {"userId": "a", "userId": "b"}, "payload": 1}"#.to_owned()),
        Just("NaN".to_owned()),
        Just("[1, 2,]".to_owned()),
        any::<String>(),
    ]
}

/// Bodies close to a real grant, so validation is exercised past its first checks.
fn near_miss_org_body() -> impl Strategy<Value = Value> {
    let item = prop_oneof![
        3 => prop_oneof![Just(P1.to_owned()), Just(P2.to_owned()), Just(EDIT_RIGHT.to_owned()), hex_uuid()]
            .prop_flat_map(mixed_case)
            .prop_map(Value::String),
        1 => json_value(),
    ];
    (prop::collection::vec(item, 0..120), prop::collection::vec((json_key(), json_value()), 0..3)).prop_map(
        |(items, extra)| {
            let mut body: Map<String, Value> = extra.into_iter().collect();
            body.insert("permission_uuids".to_owned(), Value::Array(items));
            Value::Object(body)
        },
    )
}

fn near_miss_admin_body() -> impl Strategy<Value = Value> {
    let permission = prop_oneof![
        3 => "compass\\.[a-z][a-z0-9_-]{0,8}(\\.([a-z][a-z0-9_-]{0,8}|\\*))?".prop_map(Value::String),
        1 => json_value(),
    ];
    let user_id = prop_oneof![
        // Nobody has these ids, so a well-formed request is a 404 and writes nothing.
        Just(Value::String(NOBODY.to_owned())),
        "[0-9a-fA-F]{24}"
            .prop_filter("not a seeded user", |id| !is_seeded_admin_world_user(id))
            .prop_map(Value::String),
        json_value(),
    ];
    (user_id, prop::collection::vec(permission, 0..120), prop::collection::vec((json_key(), json_value()), 0..3))
        .prop_map(|(user_id, permissions, extra)| {
            let mut payload: Map<String, Value> = extra.into_iter().collect();
            payload.insert("userId".to_owned(), user_id);
            payload.insert("permissions".to_owned(), Value::Array(permissions));
            json!({ "payload": payload })
        })
}

fn is_seeded_admin_world_user(id: &str) -> bool {
    use crate::support::fixtures::admin::{BARE, TARGET};
    [ADMIN, MEMBER, TARGET, BARE].iter().any(|seeded| seeded.eq_ignore_ascii_case(id))
}

fn body(near_miss: BoxedStrategy<Value>) -> impl Strategy<Value = Body> {
    prop_oneof![
        4 => near_miss.prop_map(|value| Body::Text(value.to_string())),
        3 => json_value().prop_map(|value| Body::Text(value.to_string())),
        2 => raw_text().prop_map(Body::Text),
        1 => (json_value(), any::<prop::sample::Index>()).prop_map(|(value, cut)| {
            let text = value.to_string();
            let cut = cut.index(text.len() + 1);
            Body::Bytes(text.as_bytes()[..cut].to_vec())
        }),
        1 => prop::collection::vec(any::<u8>(), 0..512).prop_map(Body::Bytes),
        1 => Just(Body::None),
        1 => Just(Body::Text(String::new())),
        // Just over the 64 KiB limit.
        1 => (65_537usize..70_000).prop_map(|size| Body::Text(format!("[{}1]", " ".repeat(size)))),
    ]
}

fn content_type() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        8 => Just(Some("application/json".to_owned())),
        1 => Just(None),
        1 => prop::sample::select(vec![
            "application/json; charset=utf-8",
            "APPLICATION/JSON",
            "application/json;charset=latin-1",
            "application/jsonx",
            "application/problem+json",
            "text/plain",
            "text/json",
            "multipart/form-data; boundary=x",
            "application/x-www-form-urlencoded",
            "",
            ";",
        ])
        .prop_map(|media| Some(media.to_owned())),
        1 => "[ -~]{0,40}".prop_map(Some),
    ]
}

fn header_value() -> impl Strategy<Value = String> {
    wire_text(60)
}

fn authorization(valid: &'static str, scheme: &'static str) -> impl Strategy<Value = Vec<String>> {
    prop_oneof![
        12 => Just(vec![valid.to_owned()]),
        1 => Just(Vec::new()),
        1 => header_value().prop_map(|value| vec![value]),
        1 => header_value().prop_map(move |credential| vec![format!("{scheme} {credential}")]),
        1 => prop::sample::select(vec!["Token", "Bearer", "token", "bearer", "Basic", ""])
            .prop_map(move |other| vec![format!("{other} {}", valid.split_once(' ').map_or(valid, |(_, c)| c))]),
        1 => Just(vec![valid.to_owned(), valid.to_owned()]),
    ]
}

fn hostile(
    methods: Vec<&'static str>,
    segment: BoxedStrategy<String>,
    authorization: BoxedStrategy<Vec<String>>,
    near_miss: BoxedStrategy<Value>,
) -> impl Strategy<Value = Hostile> {
    let names = "x-[a-z-]{1,12}|content-length|cookie|forwarded|host|x-forwarded-proto|x-amzn-trace-id";
    let query = prop_oneof![2 => Just(String::new()), 1 => "[a-zA-Z0-9=&%_.-]{0,40}", 2 => wire_text(40)];
    (
        line(prop::sample::select(methods), segment, authorization, query, 0.3, 0.3),
        content_type(),
        prop::collection::vec((names, header_value()), 0..3),
        prop::collection::vec(header_value(), 0..2),
        body(near_miss),
    )
        .prop_map(|(line, content_type, extra_headers, cookies, body)| Hostile {
            line,
            content_type,
            extra_headers,
            cookies,
            body,
        })
}

/// A `{user_uuid}` segment nobody has: fresh UUIDs, look-alikes, traversal and encoded bytes.
fn org_segment() -> BoxedStrategy<String> {
    prop_oneof![
        4 => hex_uuid().prop_flat_map(mixed_case),
        1 => prop::sample::select(vec!["..", ".", "%2e%2e", "a/b", "\u{0}", " ", "null", "undefined", "%"])
            .prop_map(str::to_owned),
        2 => tricky_string().prop_filter("a segment is never empty", |segment| !segment.is_empty()),
    ]
    .prop_filter("never an existing user", |segment| !is_seeded_org_world_user(segment))
    .boxed()
}

fn is_seeded_org_world_user(segment: &str) -> bool {
    use crate::support::fixtures::org::{BARE, EDITOR, ORGLESS, OUTSIDER, PLAIN, TARGET};
    [TARGET, EDITOR, PLAIN, ORGLESS, OUTSIDER, BARE].iter().any(|seeded| seeded.eq_ignore_ascii_case(segment))
}

impl Hostile {
    /// The request for `route` as API Gateway sends it, in the case's payload format.
    fn raw(&self, route: &Route) -> Value {
        let mut event = self.line.event(route);
        if let Some(content_type) = &self.content_type {
            event = event.header("content-type", content_type);
        }
        for (name, value) in &self.extra_headers {
            event = event.header(name, value);
        }
        let mut event = match &self.body {
            Body::None => event,
            Body::Text(text) => event.body(text),
            Body::Bytes(bytes) => event.binary_body(bytes),
        };
        let format = self.line.format();
        if format == Format::V1 {
            for cookie in &self.cookies {
                event = event.header("cookie", cookie);
            }
        }
        let mut json = self.line.raw(&event);
        if format == Format::V2 && !self.cookies.is_empty() {
            json["cookies"] = json!(self.cookies);
        }
        json
    }
}

/// An answer to a request that cannot succeed: a 4xx, with a challenge on a 401.
fn check_refusal(response: &TestResponse) -> Result<(), TestCaseError> {
    prop_assert!((400..500).contains(&response.status), "not a 4xx: {response:?}");
    if response.status == 401 {
        prop_assert!(response.headers.contains_key("www-authenticate"), "401 without a challenge: {response:?}");
    }
    Ok(())
}

/// Every endpoint the campaign drives; a new one is a variant here.
#[derive(Debug, Clone, Copy)]
enum Endpoint {
    OrgAdd,
    OrgRemove,
    AdminAdd,
    AdminRemove,
    AdminCheck,
}

impl Endpoint {
    fn route(self) -> &'static Route {
        match self {
            Endpoint::OrgAdd => &ORG_ADD,
            Endpoint::OrgRemove => &ORG_REMOVE,
            Endpoint::AdminAdd => &ADMIN_ADD,
            Endpoint::AdminRemove => &ADMIN_REMOVE,
            Endpoint::AdminCheck => &ADMIN_CHECK,
        }
    }

    fn is_org(self) -> bool {
        matches!(self, Endpoint::OrgAdd | Endpoint::OrgRemove)
    }

    /// Mostly the route's own method, sometimes every other.
    fn methods(self) -> Vec<&'static str> {
        let own: &'static str = self.route().method.as_str();
        let mut methods = vec![own; 6];
        methods.extend(["PATCH", "PUT", "POST", "GET", "DELETE"].into_iter().filter(|method| *method != own));
        methods
    }

    async fn call(self, env: &TestEnv, case: &Hostile) -> TestResponse {
        let event = case.raw(self.route());
        match self {
            Endpoint::OrgAdd => invoke(&env.frame::<OrgAdd>(), event, "hostile").await,
            Endpoint::OrgRemove => invoke(&env.frame::<OrgRemove>(), event, "hostile").await,
            Endpoint::AdminAdd => invoke(&env.frame::<AdminAdd>(), event, "hostile").await,
            Endpoint::AdminRemove => invoke(&env.frame::<AdminRemove>(), event, "hostile").await,
            Endpoint::AdminCheck => invoke(&env.frame::<AdminCheck>(), event, "hostile").await,
        }
    }

    /// The campaign for this endpoint, in its API's world with its API's credentials.
    fn campaign(self) {
        match self {
            Endpoint::OrgAdd | Endpoint::OrgRemove => org_campaign(self),
            Endpoint::AdminAdd | Endpoint::AdminRemove => admin_campaign(self),
            Endpoint::AdminCheck => check_campaign(),
        }
    }

    fn has_own_shape(self, body: &Value) -> bool {
        if self.is_org() { is_org_error(body) } else { is_admin_error(body) }
    }
}

/// Drives the generated requests through `endpoint`: each refused in its own shape, nothing
/// written, and many reaching validation (400) and the store (404).
fn campaign(env: TestEnv, endpoint: Endpoint, strategy: impl Strategy<Value = Hostile>) {
    let check = |response: &TestResponse| {
        check_refusal(response)?;
        prop_assert!(
            is_gateway_not_found(&response.body) || endpoint.has_own_shape(&response.body),
            "not the endpoint's shape: {response:?}"
        );
        Ok(())
    };
    let label = format!("{endpoint:?}");
    hostile::campaign(
        &env,
        &label,
        cases(10_000),
        strategy,
        async |case| endpoint.call(&env, case).await,
        check,
        &[400, 404],
    );
}

fn org_campaign(endpoint: Endpoint) {
    let env = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(org_world());
    let valid = Box::leak(format!("Token {EDITOR_KEY}").into_boxed_str());
    let strategy =
        hostile(endpoint.methods(), org_segment(), authorization(valid, "Token").boxed(), near_miss_org_body().boxed());
    campaign(env, endpoint, strategy);
}

fn admin_campaign(endpoint: Endpoint) {
    let env = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(admin_world());
    // Mostly the admin; sometimes a valid token for a user who does not exist.
    let admin = Box::leak(format!("Bearer {}", jwt_for(ADMIN)).into_boxed_str());
    let ghost = Box::leak(format!("Bearer {}", jwt_for("64b0000000000000000000fe")).into_boxed_str());
    let tokens = prop_oneof![9 => authorization(admin, "Bearer"), 1 => Just(vec![ghost.to_owned()])].boxed();
    let strategy = hostile(endpoint.methods(), Just(String::new()).boxed(), tokens, near_miss_admin_body().boxed());
    campaign(env, endpoint, strategy);
}

/// What each user of the check's world holds: near misses of one another, so that the exact
/// string, the module's wildcard and neither all decide some answers.
const CHECK_WORLD: [(&str, &[&str]); 4] = [
    (ADMIN, &["compass.a.*", "compass.b.x"]),
    (MEMBER, &["compass.dashboard.overview", "compass.a"]),
    (admin::TARGET, &["compass.users.*", "compass.users.invite", "compass.b"]),
    (admin::BARE, &[]),
];

/// Permissions a check's world decides every way.
const CHECK_POOL: [&str; 14] = [
    "compass.a",
    "compass.a.*",
    "compass.a.x",
    "compass.aa.x",
    "compass.b",
    "compass.b.x",
    "compass.b.*",
    "compass.users",
    "compass.users.*",
    "compass.users.invite",
    "compass.users.list",
    "compass.dashboard",
    "compass.dashboard.overview",
    "compass.dashboard.export",
];

/// A check's body: a `userId` absent (the caller), a seeded user's in any case, a stranger's, or
/// anything; permissions all in the grammar (so the request can be answered) or not.
fn near_miss_check_body() -> impl Strategy<Value = Value> {
    let permission = prop_oneof![
        1 => prop::sample::select(CHECK_POOL.to_vec()).prop_map(str::to_owned),
        1 => "compass\\.[a-z][a-z0-9_-]{0,8}(\\.([a-z][a-z0-9_-]{0,8}|\\*))?",
    ];
    let valid = prop::collection::vec(permission.clone().prop_map(Value::String), 1..=100);
    let mixed = prop::collection::vec(prop_oneof![3 => permission.prop_map(Value::String), 1 => json_value()], 0..120);
    let seeded = prop::sample::select(CHECK_WORLD.iter().map(|(user, _)| *user).collect::<Vec<_>>())
        .prop_flat_map(|user| mixed_case(user.to_owned()));
    let user_id = prop_oneof![
        3 => Just(None),
        2 => seeded.prop_map(|id| Some(Value::String(id))),
        1 => Just(Some(Value::String(NOBODY.to_owned()))),
        1 => "[0-9a-fA-F]{24}".prop_map(|id| Some(Value::String(id))),
        1 => json_value().prop_map(Some),
    ];
    let permissions = prop_oneof![3 => valid, 1 => mixed];
    (user_id, permissions, prop::collection::vec((json_key(), json_value()), 0..3)).prop_map(
        |(user_id, permissions, extra)| {
            let mut payload: Map<String, Value> = extra.into_iter().collect();
            payload.remove("userId");
            if let Some(user_id) = user_id {
                payload.insert("userId".to_owned(), user_id);
            }
            payload.insert("permissions".to_owned(), Value::Array(permissions));
            json!({ "payload": payload })
        },
    )
}

/// The held permission that grants `permission`, by docs/api.md's words rather than the
/// service's code: the same string when held, otherwise its module's wildcard.
fn expected_grant(held: &[&str], permission: &str) -> Option<String> {
    if held.contains(&permission) {
        return Some(permission.to_owned());
    }
    let module: Vec<&str> = permission.split('.').take(2).collect();
    let wildcard = format!("{}.*", module.join("."));
    held.contains(&wildcard.as_str()).then_some(wildcard)
}

/// A 200 to `case` from `caller` is the answer it asked for, exactly.
fn check_answer(case: &Hostile, caller: Option<&str>, body: &Value) -> Result<(), TestCaseError> {
    let Some(caller) = caller else { return Err(TestCaseError::fail("a 200 without a caller's token")) };
    let sent = match &case.body {
        Body::Text(text) => text.as_bytes(),
        Body::Bytes(bytes) => bytes.as_slice(),
        Body::None => &[],
    };
    let request: Value =
        serde_json::from_slice(sent).map_err(|_| TestCaseError::fail("a 200 for a body that is not JSON"))?;
    let payload = &request["payload"];
    let user_id = match payload.get("userId") {
        None => caller.to_owned(),
        Some(id) => id.as_str().ok_or_else(|| TestCaseError::fail("a 200 for a userId not a string"))?.to_lowercase(),
    };
    prop_assert!(caller == ADMIN || user_id == caller, "{caller} was answered about {user_id}");
    let held = CHECK_WORLD
        .iter()
        .find(|(user, _)| *user == user_id)
        .map(|(_, held)| *held)
        .ok_or_else(|| TestCaseError::fail(format!("a 200 about {user_id}, who does not exist")))?;
    let asked = payload["permissions"].as_array().ok_or_else(|| TestCaseError::fail("a 200 without permissions"))?;
    prop_assert!((1..=100).contains(&asked.len()), "a 200 for {} items", asked.len());
    let mut distinct: Vec<&str> = Vec::new();
    for item in asked {
        let item = item.as_str().filter(|text| is_compass_permission(text));
        let item = item.ok_or_else(|| TestCaseError::fail("a 200 for a permission outside the grammar"))?;
        if !distinct.contains(&item) {
            distinct.push(item);
        }
    }
    let results: Vec<Value> = distinct
        .iter()
        .map(|permission| {
            let by = expected_grant(held, permission);
            json!({ "permission": permission, "allowed": by.is_some(), "grantedBy": by })
        })
        .collect();
    let allowed = results.iter().all(|result| result["allowed"] == true);
    let expected = json!({
        "message": "Successfully checked permissions for this user.",
        "data": { "userId": user_id, "allowed": allowed, "results": results }
    });
    prop_assert_eq!(body, &expected);
    Ok(())
}

/// The check's campaign: admins', members' and strangers' tokens, bodies that name seeded users
/// or not; every answer a 4xx in the admin shape or the one right 200, nothing written, and each
/// of the check's answers reached.
fn check_campaign() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let env = runtime.block_on(async {
        let env = admin_world().await;
        for (user, held) in CHECK_WORLD {
            let role = if user == ADMIN { "admin" } else { "user" };
            env.put_user(user, None, Some(role), held).await;
        }
        env
    });
    drop(runtime);
    let admin_token = jwt_for(ADMIN);
    let member_token = jwt_for(MEMBER);
    let admin = Box::leak(format!("Bearer {admin_token}").into_boxed_str());
    let member = Box::leak(format!("Bearer {member_token}").into_boxed_str());
    let ghost = Box::leak(format!("Bearer {}", jwt_for("64b0000000000000000000fe")).into_boxed_str());
    let tokens = prop_oneof![
        6 => authorization(admin, "Bearer"),
        3 => authorization(member, "Bearer"),
        1 => Just(vec![ghost.to_owned()]),
    ]
    .boxed();
    let endpoint = Endpoint::AdminCheck;
    let strategy = hostile(endpoint.methods(), Just(String::new()).boxed(), tokens, near_miss_check_body().boxed());
    let last = RefCell::new(None::<Hostile>);
    let answers = RefCell::new(BTreeMap::<String, u32>::new());
    let check = |response: &TestResponse| {
        let last = last.borrow();
        let case = last.as_ref().expect("the case just sent");
        let code = if response.status == 200 {
            let credentials = case.line.authorization.join(" ");
            let caller = match (credentials.contains(&admin_token), credentials.contains(&member_token)) {
                (true, false) => Some(ADMIN),
                (false, true) => Some(MEMBER),
                _ => None,
            };
            check_answer(case, caller, &response.body)?;
            "200".to_owned()
        } else {
            check_refusal(response)?;
            if is_gateway_not_found(&response.body) {
                "route not found".to_owned()
            } else {
                prop_assert!(is_admin_error(&response.body), "not the admin shape: {response:?}");
                response.body["error"]["code"].as_str().unwrap_or_default().to_owned()
            }
        };
        *answers.borrow_mut().entry(code).or_default() += 1;
        Ok(())
    };
    let cases = cases(10_000);
    hostile::campaign(
        &env,
        "AdminCheck",
        cases,
        strategy,
        async |case| {
            *last.borrow_mut() = Some(case.clone());
            endpoint.call(&env, case).await
        },
        check,
        &[200, 400, 401, 404],
    );
    let answers = answers.into_inner();
    eprintln!("AdminCheck: answers by code: {answers:?}");
    for code in ["200", "VALIDATION_ERROR", "UNAUTHORIZED", "FORBIDDEN", "USER_NOT_FOUND", "PAYLOAD_TOO_LARGE"] {
        let count = answers.get(code).copied().unwrap_or_default();
        assert!(count * 500 > cases, "too few {code}: {answers:?}");
    }
}

/// One test per endpoint, each a campaign of its own.
macro_rules! campaigns {
    ($($test:ident: $endpoint:ident,)*) => {
        $(
            #[test]
            fn $test() {
                Endpoint::$endpoint.campaign();
            }
        )*
    };
}

campaigns! {
    the_org_endpoint_refuses_generated_hostile_requests_without_writing: OrgAdd,
    the_admin_endpoint_refuses_generated_hostile_requests_without_writing: AdminAdd,
    the_org_remove_endpoint_refuses_generated_hostile_requests_without_writing: OrgRemove,
    the_admin_remove_endpoint_refuses_generated_hostile_requests_without_writing: AdminRemove,
    the_check_endpoint_answers_generated_hostile_requests_rightly_without_writing: AdminCheck,
}
