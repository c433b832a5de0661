//! Hostile input at scale for the three reads: generated requests (3,000 per endpoint by
//! default) as raw API Gateway events (formats 2.0 and 1.0) through the Lambda binaries' entry
//! path (`lambda_entry`) and the real handlers over DynamoDB Local. Most carry a valid caller's
//! credentials, so they reach the query and path parsers; the raw query strings are made of the
//! parameters the reads know (`userId`, `limit`, `cursor`), near misses of their names, seeded
//! and unknown ids in any case, percent-encoded or not, genuine cursors and cursors with one
//! character changed, repeated names, and any text at all; org path segments are seeded users,
//! strangers, look-alikes and any text; bodies, methods and path prefixes vary too.
//!
//! Every answer must be a 200 or a 4xx in the endpoint's own shape, never a 5xx, within a
//! deadline; a 200 must be what the same read answers when asked plainly (a history page holds
//! only its user's events); and the tables must be exactly as they were.
//!
//! `HOSTILE_CASES=100000 scripts/test hostile_queries` runs a longer campaign.

use std::collections::HashMap;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{Value, json};

use permissions_service::frame::Route;
use permissions_service::frame::routes::{ADMIN_HISTORY, ADMIN_LIST, ORG_LIST};

use crate::hostile::{self, Line, cases, is_admin_error, is_org_error, line, mixed_case, percent_encoded, wire_text};
use crate::raw_events::invoke;
use crate::support::fixtures::admin::{self, ADMIN, MEMBER, NOBODY, admin_world, jwt_for};
use crate::support::fixtures::org::{
    self, BARE, EDITOR, EDITOR_KEY, ORGLESS, OUTSIDER, P1, PLAIN, PLAIN_KEY, TARGET, VIEWER, VIEWER_KEY, viewer_world,
};
use crate::support::{AdminAdd, AdminHistory, AdminList, AdminRemove, Event, OrgAdd, OrgList, TestEnv, TestResponse};

/// What one generated request is made of: its line, and maybe a body.
#[derive(Debug, Clone)]
struct Hostile {
    line: Line,
    body: Option<String>,
}

/// A value as it goes on the wire: as is (whatever it holds), encoded where it must be, or
/// every byte encoded.
fn on_the_wire(value: &str, how: u8) -> String {
    match how {
        0 | 1 => percent_encoded(value, false),
        2 => percent_encoded(value, true),
        _ => value.to_owned(),
    }
}

fn object_id_value() -> BoxedStrategy<String> {
    let seeded = prop::sample::select(vec![admin::TARGET, ADMIN, MEMBER, admin::BARE, NOBODY]).prop_map(str::to_owned);
    prop_oneof![
        6 => seeded.prop_flat_map(mixed_case),
        1 => "[0-9a-fA-F]{24}",
        1 => "[0-9a-fA-F]{22,26}",
        1 => prop::sample::select(vec!["", " ", "null", "+", "0x68bb46bb4db8c853599f1ebb", "68bb46bb4db8c853599f1ebb "])
            .prop_map(str::to_owned),
        1 => wire_text(30),
    ]
    .boxed()
}

fn limit_value() -> BoxedStrategy<String> {
    prop_oneof![
        4 => (-5i64..210).prop_map(|limit| limit.to_string()),
        1 => prop::sample::select(vec!["", "+5", "05", "1e1", "5.0", "0x10", " 5", "99999999999999999999999", "-0"])
            .prop_map(str::to_owned),
        1 => wire_text(8),
    ]
    .boxed()
}

/// Genuine cursors, cursors with one character replaced, cut or extended, and junk.
fn cursor_value(genuine: Vec<String>) -> BoxedStrategy<String> {
    let pick = prop::sample::select(genuine);
    prop_oneof![
        3 => pick.clone(),
        3 => (pick.clone(), any::<prop::sample::Index>(), any::<char>()).prop_map(|(cursor, index, replacement)| {
            let index = index.index(cursor.len());
            let mut changed = cursor.clone();
            changed.replace_range(index..=index, &replacement.to_string());
            changed
        }),
        1 => (pick.clone(), any::<prop::sample::Index>()).prop_map(|(cursor, cut)| cursor[..cut.index(cursor.len())].to_owned()),
        1 => (pick, wire_text(4)).prop_map(|(cursor, extra)| format!("{cursor}{extra}")),
        1 => Just(String::new()),
        1 => prop::collection::vec(any::<u8>(), 0..120).prop_map(|bytes| {
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        }),
        1 => wire_text(40),
    ]
    .boxed()
}

fn parameter_name() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => Just("userId".to_owned()),
        4 => Just("limit".to_owned()),
        4 => Just("cursor".to_owned()),
        2 => prop::sample::select(vec![
            "userid", "UserId", "USERID", "user_id", "user_uuid", "us%65rId", "userId%00", "userId[]", "Limit", "CURSOR",
            "%63ursor", "", "userId ",
        ])
        .prop_map(str::to_owned),
        1 => wire_text(10),
    ]
}

/// A raw query string: parameters the reads know and near misses, or any text at all.
/// `cursors` are genuine ones, each with the user it was issued for.
fn query(cursors: Vec<(String, String)>) -> impl Strategy<Value = String> {
    let genuine: Vec<String> = cursors.iter().map(|(_, cursor)| cursor.clone()).collect();
    let values = (object_id_value(), limit_value(), cursor_value(genuine), wire_text(20));
    let parameter = (parameter_name(), values, 0u8..10, 0u8..4)
        .prop_map(|(name, values, form, how)| {
            let (user_id, limit, cursor, other) = values;
            let value = match name.as_str() {
                "userId" => user_id,
                "limit" => limit,
                "cursor" => cursor,
                _ => other,
            };
            // Now and then a name without `=`.
            if form == 0 { name } else { format!("{name}={}", on_the_wire(&value, how)) }
        })
        .boxed();
    let separator = prop_oneof![8 => Just("&"), 1 => Just("&&"), 1 => Just(";")];
    prop_oneof![
        6 => (prop::collection::vec(parameter.clone(), 0..5), separator)
            .prop_map(|(parameters, separator)| parameters.join(separator)),
        4 => plausible(cursors, parameter),
        1 => wire_text(60),
        1 => "[a-zA-Z0-9=&%_.+-]{0,60}",
    ]
}

/// A query that could succeed: a seeded user's id in any case and encoding, maybe a good limit,
/// maybe that user's genuine cursor or an empty one, among other parameters, in any order.
fn plausible(cursors: Vec<(String, String)>, other: BoxedStrategy<String>) -> impl Strategy<Value = String> {
    let seeded = prop::sample::select(vec![admin::TARGET, ADMIN, MEMBER, admin::BARE])
        .prop_map(|user| (user.to_owned(), None::<String>));
    let with_cursor = prop::sample::select(cursors).prop_map(|(user, cursor)| (user, Some(cursor)));
    let empty =
        prop::sample::select(vec![admin::TARGET, MEMBER]).prop_map(|user| (user.to_owned(), Some(String::new())));
    let start = prop_oneof![3 => seeded, 3 => with_cursor, 1 => empty];
    let limit = prop::option::of((1usize..=100).prop_map(|limit| format!("limit={limit}")));
    (start, any::<u64>(), 0u8..6, limit, prop::collection::vec(other, 0..2), any::<prop::sample::Index>()).prop_map(
        |((user, cursor), case_bits, how, limit, others, at)| {
            let id: String = user
                .chars()
                .enumerate()
                .map(|(i, c)| if case_bits >> (i % 64) & 1 == 1 { c.to_ascii_uppercase() } else { c })
                .collect();
            let mut parameters = others;
            parameters.insert(at.index(parameters.len() + 1), format!("userId={}", on_the_wire(&id, how)));
            parameters.extend(limit);
            parameters.extend(cursor.map(|cursor| format!("cursor={cursor}")));
            parameters.join("&")
        },
    )
}

fn authorization(valid: Vec<String>, scheme: &'static str) -> impl Strategy<Value = Vec<String>> {
    let first = valid[0].clone();
    prop_oneof![
        12 => prop::sample::select(valid).prop_map(|valid| vec![valid]),
        1 => Just(Vec::new()),
        1 => wire_text(60).prop_map(|value| vec![value]),
        1 => wire_text(60).prop_map(move |credential| vec![format!("{scheme} {credential}")]),
        1 => Just(vec![first.clone(), first]),
    ]
}

fn body() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        12 => Just(None),
        2 => wire_text(200).prop_map(Some),
        1 => Just(Some(json!({ "userId": MEMBER, "limit": 0, "permission_uuids": [P1] }).to_string())),
        1 => (65_537usize..70_000).prop_map(|size| Some(format!("[{}1]", " ".repeat(size)))),
    ]
}

fn method() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        16 => Just("GET"),
        1 => prop::sample::select(vec!["HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "get"]),
    ]
}

fn hostile(
    segment: BoxedStrategy<String>,
    authorization: BoxedStrategy<Vec<String>>,
    query: BoxedStrategy<String>,
) -> impl Strategy<Value = Hostile> {
    (line(method(), segment, authorization, query, 0.2, 0.4), body()).prop_map(|(line, body)| Hostile { line, body })
}

/// The org path's segment: users of every kind in any case, fresh uuids, look-alikes, any text.
fn org_segment() -> BoxedStrategy<String> {
    let users = vec![TARGET, EDITOR, PLAIN, BARE, VIEWER, OUTSIDER, ORGLESS];
    prop_oneof![
        6 => prop::sample::select(users).prop_map(str::to_owned).prop_flat_map(mixed_case),
        2 => any::<u128>().prop_map(|bits| uuid::Uuid::from_u128(bits).hyphenated().to_string()),
        1 => prop::sample::select(vec!["..", ".", "%2e%2e", "a/b", "\u{0}", " ", "null", "%", "{user_uuid}"])
            .prop_map(str::to_owned),
        1 => Just(TARGET).prop_map(|uuid| format!("{{{uuid}}}")),
        1 => Just(TARGET).prop_map(|uuid| uuid.replace('-', "")),
        2 => wire_text(40).prop_filter("a segment is never empty", |segment| !segment.is_empty()),
    ]
    .boxed()
}

impl Hostile {
    /// The request for `route` as API Gateway sends it, in the case's payload format.
    fn raw(&self, route: &Route) -> Value {
        let mut event = self.line.event(route);
        if let Some(body) = &self.body {
            event = event.header("content-type", "application/json").body(body);
        }
        self.line.raw(&event)
    }
}

/// The three reads, each with the answers its plain requests give.
#[derive(Debug, Clone, Copy)]
enum Read {
    Org,
    List,
    History,
}

/// What a successful answer may say: each user's answer to a plain request, and whose each
/// history event is.
struct Known {
    answers: HashMap<String, Value>,
    owners: HashMap<String, String>,
}

impl Read {
    async fn call(self, env: &TestEnv, case: &Hostile) -> TestResponse {
        match self {
            Read::Org => invoke(&env.frame::<OrgList>(), case.raw(&ORG_LIST), "hostile").await,
            Read::List => invoke(&env.frame::<AdminList>(), case.raw(&ADMIN_LIST), "hostile").await,
            Read::History => invoke(&env.frame::<AdminHistory>(), case.raw(&ADMIN_HISTORY), "hostile").await,
        }
    }

    fn check(self, response: &TestResponse, known: &Known) -> Result<(), TestCaseError> {
        let status = response.status;
        prop_assert!(status == 200 || (400..500).contains(&status), "neither a 200 nor a 4xx: {response:?}");
        if status == 401 {
            prop_assert!(response.headers.contains_key("www-authenticate"), "401 without a challenge: {response:?}");
        }
        let body = &response.body;
        if status != 200 {
            let own_shape = match self {
                Read::Org => is_org_error(body),
                Read::List | Read::History => is_admin_error(body),
            };
            prop_assert!(
                *body == json!({ "message": "Not Found" }) || own_shape,
                "not the endpoint's shape: {response:?}"
            );
            return Ok(());
        }
        match self {
            Read::Org => {
                let user = body["user_uuid"].as_str().unwrap_or_default();
                prop_assert_eq!(Some(body), known.answers.get(user), "not the plain answer: {:?}", response);
            }
            Read::List => {
                let user = body["data"]["userId"].as_str().unwrap_or_default();
                prop_assert_eq!(Some(body), known.answers.get(user), "not the plain answer: {:?}", response);
            }
            Read::History => {
                let data = &body["data"];
                let user = data["userId"].as_str().unwrap_or_default();
                prop_assert!(known.answers.contains_key(user), "not a seeded user: {response:?}");
                prop_assert_eq!(&body["message"], "Successfully retrieved permission history for this user.");
                let events = data["events"].as_array();
                prop_assert!(events.is_some_and(|events| events.len() <= 100), "{response:?}");
                for event in events.into_iter().flatten() {
                    let id = event["eventId"].as_str().unwrap_or_default();
                    prop_assert_eq!(
                        known.owners.get(id).map(String::as_str),
                        Some(user),
                        "another's event: {:?}",
                        event
                    );
                }
                let next = &data["nextCursor"];
                prop_assert!(next.is_null() || next.as_str().is_some_and(|next| !next.is_empty()), "{response:?}");
                prop_assert_eq!(body.as_object().map(|fields| fields.len()), Some(2));
                prop_assert_eq!(data.as_object().map(|fields| fields.len()), Some(3));
            }
        }
        Ok(())
    }
}

/// Drives the generated requests through `read`: each a 200 or a refusal in its own shape, nothing
/// written, and each of `needed` statuses reached often.
fn campaign(env: TestEnv, read: Read, known: Known, strategy: impl Strategy<Value = Hostile>, needed: &[u16]) {
    let check = |response: &TestResponse| read.check(response, &known);
    let label = format!("{read:?}");
    hostile::campaign(&env, &label, cases(3_000), strategy, async |case| read.call(&env, case).await, check, needed);
}

fn block_on<T>(work: impl Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(work)
}

#[test]
fn the_org_list_answers_generated_hostile_requests_in_its_shape_without_writing() {
    let (env, known) = block_on(async {
        let env = viewer_world().await;
        let grant = Event::org(TARGET).token(EDITOR_KEY).json(&json!({ "permission_uuids": [P1] }));
        env.changes::<OrgAdd>(grant.http_api()).await;
        let mut answers = HashMap::new();
        for user in [TARGET, EDITOR, PLAIN, BARE, VIEWER] {
            let response = env.reads::<OrgList>(Event::org_list(user).token(EDITOR_KEY).http_api()).await;
            answers.insert(user.to_owned(), response.body);
        }
        (env, Known { answers, owners: HashMap::new() })
    });
    let keys = vec![format!("Token {EDITOR_KEY}"), format!("Token {VIEWER_KEY}"), format!("token {EDITOR_KEY}")];
    let tokens = prop_oneof![
        12 => authorization(keys, "Token"),
        1 => Just(vec![format!("Token {PLAIN_KEY}")]),
        1 => Just(vec![format!("Token {}", org::ORGLESS_KEY)]),
    ];
    let strategy =
        hostile(org_segment(), tokens.boxed(), query(vec![(admin::TARGET.to_owned(), "djE".to_owned())]).boxed());
    campaign(env, Read::Org, known, strategy, &[200, 400, 403, 404]);
}

/// The admin world with a history: changes to three users, and genuine cursors into each.
async fn admin_world_with_history() -> (TestEnv, Vec<(String, String)>, HashMap<String, String>) {
    let env = admin_world().await;
    for (target, count) in [(admin::TARGET, 30), (MEMBER, 8), (ADMIN, 3)] {
        for i in 0..count {
            let body = json!({ "payload": { "userId": target, "permissions": [format!("compass.m{}.read", i % 5)] } });
            if i % 3 == 2 {
                env.changes::<AdminRemove>(Event::admin_remove().bearer(&jwt_for(ADMIN)).json(&body).http_api()).await;
            } else {
                env.changes::<AdminAdd>(Event::admin().bearer(&jwt_for(ADMIN)).json(&body).http_api()).await;
            }
        }
    }
    let mut owners = HashMap::new();
    let mut cursors = Vec::new();
    for user in [admin::TARGET, MEMBER, ADMIN] {
        for record in env.audit_of(user).await {
            owners.insert(record.event_id, user.to_owned());
        }
        for limit in [1, 2, 7, 20] {
            let query = format!("userId={user}&limit={limit}");
            let response =
                env.reads::<AdminHistory>(Event::admin_history(&query).bearer(&jwt_for(ADMIN)).http_api()).await;
            if let Some(cursor) = response.body["data"]["nextCursor"].as_str() {
                cursors.push((user.to_owned(), cursor.to_owned()));
            }
        }
    }
    (env, cursors, owners)
}

/// Tokens that outlive the longest campaign.
fn lasting_jwt(sub: &str) -> String {
    admin::jwt(&json!({ "sub": sub, "exp": crate::support::now() + 86_400 }))
}

fn admin_tokens() -> BoxedStrategy<Vec<String>> {
    let admin = vec![format!("Bearer {}", lasting_jwt(ADMIN)), format!("bearer {}", lasting_jwt(ADMIN))];
    prop_oneof![
        12 => authorization(admin, "Bearer"),
        1 => Just(vec![format!("Bearer {}", lasting_jwt(MEMBER))]),
        1 => Just(vec![format!("Bearer {}", lasting_jwt(NOBODY))]),
    ]
    .boxed()
}

#[test]
fn the_admin_list_answers_generated_hostile_requests_in_its_shape_without_writing() {
    let (env, cursors, known) = block_on(async {
        let (env, cursors, _) = admin_world_with_history().await;
        let mut answers = HashMap::new();
        for user in [admin::TARGET, ADMIN, MEMBER, admin::BARE] {
            let request = Event::admin_list(&format!("userId={user}")).bearer(&jwt_for(ADMIN));
            answers.insert(user.to_owned(), env.reads::<AdminList>(request.http_api()).await.body);
        }
        (env, cursors, Known { answers, owners: HashMap::new() })
    });
    let strategy = hostile(Just(String::new()).boxed(), admin_tokens(), query(cursors).boxed());
    campaign(env, Read::List, known, strategy, &[200, 400, 404]);
}

#[test]
fn the_admin_history_answers_generated_hostile_requests_in_its_shape_without_writing() {
    let (env, cursors, owners) = block_on(admin_world_with_history());
    let answers = [admin::TARGET, ADMIN, MEMBER, admin::BARE].map(|user| (user.to_owned(), Value::Null)).into();
    let known = Known { answers, owners };
    let strategy = hostile(Just(String::new()).boxed(), admin_tokens(), query(cursors).boxed());
    campaign(env, Read::History, known, strategy, &[200, 400, 404]);
}
