//! The authorizer's hostile campaign: generated events, most of them malformed or forged, through
//! its Lambda entry in process (`HOSTILE_CASES`, default 12,000) and through the REAL binary
//! (a few hundred, one process). Each event is built from a description that says, on its own,
//! what the contract requires: allowed only for a genuine token (our key, current claims) of a
//! user whose held permissions imply everything the route needs (the hand-written table in
//! `authorizer`), denied otherwise. Such genuine requests are generated too, wrapped in noise the
//! authorizer must ignore, and must be allowed. Never an invocation error (the table exists),
//! never a panic, never a token in the logs; the process answers every event and polls on.
//!
//! What is generated: events that are not objects; route keys of the wrong type, absent, huge,
//! or near a known one; headers absent, of the wrong type, named twice in different cases, with
//! non-string values; `Authorization` values from every character class, huge, all spaces,
//! comma-joined, with Unicode look-alikes; and tokens: random base64 segments, `alg` none, HS384,
//! HS512, RS256 and ES256 headers, truncated, altered and extended signatures, another key's
//! signature, our key's signature over unusable claims, genuine tokens of unknown users.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Map, Value, json};
use tracing::Level;

use crate::authorizer::{
    BOTH, ROUTE_PERMISSIONS, ROUTES, TEAM, UNKNOWN, USERS, allowed, authorizer_of, authorizer_world, decide_logging_at,
    denied, forged, granted, signed,
};
use crate::authorizer_process::{AuthorizerProcess, response, settings};
use crate::hostile::{cases, mixed_case, wire_text};
use crate::support::logs::lines_of;
use crate::support::{JWT_SECRET, now};

/// One generated event, and what the contract says of it.
#[derive(Clone)]
struct Case {
    event: Value,
    /// The user and `grantedBy` when the event must be allowed.
    expected: Option<(&'static str, &'static str)>,
    /// Genuine tokens or signatures the event carries: never to be logged.
    secrets: Vec<String>,
}

impl std::fmt::Debug for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let event = self.event.to_string();
        let shown: String = event.chars().take(2000).collect();
        write!(f, "Case {{ expected: {:?}, event ({} chars): {shown} }}", self.expected, event.len())
    }
}

impl Case {
    fn answer(&self) -> Value {
        match self.expected {
            Some((user, granted_by)) => allowed(user, granted_by),
            None => denied(),
        }
    }
}

/// An `Authorization` value: a genuine bearer credential of `genuine_user`, or a value that is
/// none (whatever it carries).
#[derive(Debug, Clone)]
struct Credential {
    value: String,
    genuine_user: Option<&'static str>,
    secrets: Vec<String>,
}

fn hostile(value: String, secrets: Vec<String>) -> Credential {
    Credential { value, genuine_user: None, secrets }
}

/// Everyone with a stored item, and someone without (twice as often as any one user, so that
/// unknown users are a reliable share of the campaign).
fn anyone() -> BoxedStrategy<&'static str> {
    let mut users: Vec<&'static str> = USERS.iter().map(|(user, _)| *user).collect();
    users.extend([UNKNOWN, UNKNOWN]);
    prop::sample::select(users).boxed()
}

/// A user allowed on most routes: a flaw in what carries its token is the only reason to deny.
fn well_granted() -> BoxedStrategy<&'static str> {
    prop::sample::select(vec![BOTH, TEAM]).boxed()
}

/// Claims our key may sign that leave the token genuine: extra claims are not grounds for refusal
/// (no issuer or audience configured).
fn genuine_claims(sub: &'static str) -> BoxedStrategy<Value> {
    (any::<bool>(), prop::option::of("[a-z]{1,12}"), 60u64..86_400)
        .prop_map(move |(iat, audience, lifetime)| {
            let mut claims = json!({ "sub": sub, "exp": now() + lifetime });
            if iat {
                claims["iat"] = json!(now() - 5);
            }
            if let Some(audience) = audience {
                claims["aud"] = json!(audience);
            }
            claims
        })
        .boxed()
}

fn genuine_token(sub: &'static str) -> BoxedStrategy<String> {
    genuine_claims(sub).prop_map(|claims| signed(&claims, JWT_SECRET)).boxed()
}

/// `Bearer <token>` as a client may send it: the scheme in any case, one or more spaces, spaces
/// or tabs around the whole value.
fn genuine_credential(sub: BoxedStrategy<&'static str>) -> BoxedStrategy<Credential> {
    let around = || prop::collection::vec(prop::sample::select(vec![' ', '\t']), 0..3);
    (sub, mixed_case("bearer".to_owned()), 1usize..200, around(), around())
        .prop_flat_map(|(sub, scheme, gap, before, after)| {
            genuine_token(sub).prop_map(move |token| {
                let (before, after): (String, String) = (before.iter().collect(), after.iter().collect());
                let value = format!("{before}{scheme}{}{token}{after}", " ".repeat(gap));
                Credential { value, genuine_user: Some(sub), secrets: vec![token] }
            })
        })
        .boxed()
}

fn base64_segment() -> BoxedStrategy<String> {
    prop::collection::vec(any::<u8>(), 0..64).prop_map(|bytes| URL_SAFE_NO_PAD.encode(bytes)).boxed()
}

/// How many kinds of flaw [`bad_token`] makes.
const TOKEN_FLAWS: usize = 27;

/// Tokens that do not verify, or verify to no usable user, each built around what a well-granted
/// user's genuine token would be, with the genuine signature it must not leak.
fn bad_token() -> BoxedStrategy<(String, Vec<String>)> {
    (well_granted(), 0..TOKEN_FLAWS, any::<prop::sample::Index>(), 1usize..12, "[A-Za-z0-9_-]{1,8}")
        .prop_map(|(sub, flaw, at, cut, extra)| {
            let claims = json!({ "sub": sub, "exp": now() + 600 });
            let genuine = signed(&claims, JWT_SECRET);
            let (head, signature) = genuine.rsplit_once('.').unwrap();
            let with_our_key = |claims: Value| signed(&claims, JWT_SECRET);
            let hmac = |algorithm| {
                encode(&Header::new(algorithm), &claims, &EncodingKey::from_secret(JWT_SECRET.as_bytes())).unwrap()
            };
            let token = match flaw {
                0 => {
                    // Any character but the last, whose low bits base64 may not carry.
                    let index = at.index(signature.len() - 1);
                    let mut bytes = signature.as_bytes().to_vec();
                    bytes[index] = if bytes[index] == b'A' { b'B' } else { b'A' };
                    format!("{head}.{}", String::from_utf8(bytes).unwrap())
                }
                1 => format!("{head}.{}", &signature[..signature.len().saturating_sub(cut)]),
                2 => format!("{head}.{signature}{extra}"),
                3 => format!("{head}."),
                4 => head.to_owned(),
                5 => format!("{genuine}.{signature}"),
                6 => forged(&json!({ "alg": "none", "typ": "JWT" }), &claims, ""),
                7 => forged(&json!({ "alg": "none" }), &claims, signature),
                8 => forged(&json!({ "alg": "RS256", "typ": "JWT" }), &claims, signature),
                9 => forged(&json!({ "alg": "ES256" }), &claims, signature),
                10 => forged(
                    &json!({ "alg": "HS256", "typ": "JWT" }),
                    &json!({ "sub": sub, "exp": now() + 7200 }),
                    signature,
                ),
                11 => hmac(Algorithm::HS384),
                12 => hmac(Algorithm::HS512),
                13 => signed(&claims, "another-key-that-is-at-least-32-bytes-long"),
                14 => with_our_key(json!({ "sub": sub, "exp": now() - 3600 })),
                15 => with_our_key(json!({ "sub": sub, "exp": now() + 600, "nbf": now() + 3600 })),
                16 => with_our_key(json!({ "sub": sub })),
                17 => with_our_key(json!({ "exp": now() + 600 })),
                18 => with_our_key(json!({ "sub": null, "exp": now() + 600 })),
                19 => with_our_key(json!({ "sub": 64, "exp": now() + 600 })),
                20 => with_our_key(json!({ "sub": [sub], "exp": now() + 600 })),
                21 => with_our_key(json!({ "sub": "", "exp": now() + 600 })),
                22 => with_our_key(json!({ "sub": "6".repeat(1025), "exp": now() + 600 })),
                23 => with_our_key(json!({ "sub": sub.to_uppercase(), "exp": now() + 600 })),
                24 => with_our_key(json!({ "sub": format!(" {sub}"), "exp": now() + 600 })),
                25 => with_our_key(json!({ "sub": sub, "exp": "tomorrow" })),
                _ => genuine.to_uppercase(),
            };
            (token, vec![signature.to_owned()])
        })
        .boxed()
}

/// `Authorization` values that are not one genuine bearer credential, of every kind.
fn hostile_credential() -> BoxedStrategy<Credential> {
    let genuine = || well_granted().prop_flat_map(genuine_token);
    prop_oneof![
        3 => wire_text(80).prop_map(|text| hostile(text, vec![])),
        2 => wire_text(80).prop_map(|text| hostile(format!("Bearer {text}"), vec![])),
        3 => (mixed_case("bearer".to_owned()), bad_token())
            .prop_map(|(scheme, (token, secrets))| hostile(format!("{scheme} {token}"), secrets)),
        1 => (base64_segment(), base64_segment(), base64_segment())
            .prop_map(|(a, b, c)| hostile(format!("Bearer {a}.{b}.{c}"), vec![])),
        1 => (prop::sample::select(vec!["Bearer ", "", " "]), 8 * 1024usize..24 * 1024, any::<char>())
            .prop_map(|(scheme, length, fill)| hostile(format!("{scheme}{}", fill.to_string().repeat(length)), vec![])),
        1 => (prop::sample::select(vec!["Bearer", "", "bearer\t"]), 1usize..5_000)
            .prop_map(|(scheme, spaces)| hostile(format!("{scheme}{}", " ".repeat(spaces)), vec![])),
        2 => (genuine(), genuine(), prop::sample::select(vec![",", ", ", ",Bearer ", ", Bearer ", " ", ";"]))
            .prop_map(|(first, second, joint)| {
                let value = format!("Bearer {first}{joint}{second}");
                hostile(value, vec![first, second])
            }),
        2 => (genuine(), prop::sample::select(vec![
                "Token ", "Basic ", "Bearer: ", "Bearer", "Bearer\t", "Bearer\n", "Bearer\0", "B earer ",
                "Bearer\u{a0}", "Bearer\u{3000}", "\u{412}earer ", "Веаrеr ", "Ｂｅａｒｅｒ ", "Bearer-", "",
            ]))
            .prop_map(|(token, scheme)| hostile(format!("{scheme}{token}"), vec![token])),
        2 => (genuine(), any::<char>().prop_filter("outside visible ASCII", |c| !c.is_ascii_graphic() && *c != ' ' && *c != '\t'), any::<bool>())
            .prop_map(|(token, odd, inside)| {
                let value = if inside {
                    let middle = token.len() / 2;
                    format!("Bearer {}{odd}{}", &token[..middle], &token[middle..])
                } else {
                    format!("Bearer {token}{odd}")
                };
                hostile(value, vec![token])
            }),
    ].boxed()
}

/// A JSON value of any shape, small.
fn any_json() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |x| x.is_finite()).prop_map(Value::from),
        wire_text(12).prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::from),
            prop::collection::btree_map(wire_text(8), inner, 0..3)
                .prop_map(|fields| Value::Object(fields.into_iter().collect())),
        ]
    })
    .boxed()
}

#[derive(Debug, Clone)]
enum RouteField {
    Key(String),
    NotAString(Value),
    Absent,
}

fn known_route() -> BoxedStrategy<&'static str> {
    prop::sample::select(ROUTES.to_vec()).boxed()
}

/// Route keys near a known one, of no route at all, or huge; rarely, by chance, a known one.
fn odd_route_key() -> BoxedStrategy<String> {
    let suffixes = vec![" ", "/", "x", "\0", "\n", "/{id}", "\u{200b}", "*"];
    prop_oneof![
        (known_route(), prop::sample::select(suffixes)).prop_map(|(route, suffix)| format!("{route}{suffix}")),
        known_route().prop_map(|route| format!(" {route}")),
        known_route().prop_flat_map(|route| mixed_case(route.to_owned())),
        known_route().prop_map(|route| route.replace("{id}", "7").replace(' ', "  ")),
        wire_text(40),
        (1usize..70_000).prop_map(|length| format!("GET /{}", "a".repeat(length))),
        (wire_text(8), 1_000usize..20_000).prop_map(|(unit, length)| unit.repeat(length / unit.len().max(1))),
    ]
    .boxed()
}

fn route_field() -> BoxedStrategy<RouteField> {
    prop_oneof![
        4 => known_route().prop_map(|route| RouteField::Key(route.to_owned())),
        4 => odd_route_key().prop_map(RouteField::Key),
        2 => any_json().prop_filter("not a string", |value| !value.is_string()).prop_map(RouteField::NotAString),
        1 => known_route().prop_map(|route| RouteField::NotAString(json!([route]))),
        1 => Just(RouteField::Absent),
    ]
    .boxed()
}

#[derive(Debug, Clone)]
enum AuthorizationField {
    Absent,
    One {
        name: String,
        value: Value,
        credential: Option<Credential>,
    },
    /// The header under two names that differ only in case.
    Twice {
        names: (String, String),
        credentials: (Credential, Credential),
    },
}

fn header_name() -> BoxedStrategy<String> {
    mixed_case("authorization".to_owned()).boxed()
}

fn credential() -> BoxedStrategy<Credential> {
    prop_oneof![1 => genuine_credential(anyone()), 3 => hostile_credential()].boxed()
}

fn authorization_field() -> BoxedStrategy<AuthorizationField> {
    let one = (header_name(), credential()).prop_map(|(name, credential)| AuthorizationField::One {
        name,
        value: Value::String(credential.value.clone()),
        credential: Some(credential),
    });
    let not_a_string = (header_name(), any_json().prop_filter("not a string", |value| !value.is_string()))
        .prop_map(|(name, value)| AuthorizationField::One { name, value, credential: None });
    let twice = (header_name(), header_name(), genuine_credential(well_granted()), credential())
        .prop_filter("two names", |(first, second, _, _)| first != second)
        .prop_map(|(first, second, genuine, other)| AuthorizationField::Twice {
            names: (first, second),
            credentials: (genuine, other),
        });
    prop_oneof![6 => one, 1 => not_a_string, 1 => twice, 1 => Just(AuthorizationField::Absent)].boxed()
}

/// Headers beside `Authorization`: names near it included, none equal to it in any case.
fn other_headers() -> BoxedStrategy<Vec<(String, Value)>> {
    let near =
        vec!["authorization-x", "x-authorization", "authorisation", "proxy-authorization", "authorization ", "auth"];
    let name = prop_oneof![prop::sample::select(near).prop_map(str::to_owned), wire_text(16)]
        .prop_filter("not Authorization", |name| !name.eq_ignore_ascii_case("authorization"));
    let value = prop_oneof![4 => wire_text(40).prop_map(Value::from), 1 => any_json()];
    prop::collection::vec((name, value), 0..3).boxed()
}

#[derive(Debug, Clone)]
enum HeadersField {
    Absent,
    NotAnObject(Value),
    Object { authorization: AuthorizationField, others: Vec<(String, Value)> },
}

fn headers_field() -> BoxedStrategy<HeadersField> {
    let object = (authorization_field(), other_headers())
        .prop_map(|(authorization, others)| HeadersField::Object { authorization, others });
    let not_an_object = prop_oneof![
        genuine_credential(well_granted()).prop_map(|c| json!([["authorization", c.value]])),
        genuine_credential(well_granted()).prop_map(|c| json!([{ "authorization": c.value }])),
        genuine_credential(well_granted()).prop_map(|c| json!(format!("authorization: {}", c.value))),
        any_json().prop_filter("not an object", |value| !value.is_object()),
    ];
    prop_oneof![8 => object, 2 => not_an_object.prop_map(HeadersField::NotAnObject), 1 => Just(HeadersField::Absent)]
        .boxed()
}

/// The rest of a payload-2.0 event, any values: the authorizer reads none of it.
fn noise() -> BoxedStrategy<Vec<(&'static str, Value)>> {
    let fields = vec![
        "version",
        "type",
        "routeArn",
        "identitySource",
        "rawPath",
        "rawQueryString",
        "cookies",
        "requestContext",
        "pathParameters",
        "queryStringParameters",
        "stageVariables",
        "body",
        "methodArn",
    ];
    prop::collection::vec((prop::sample::select(fields), any_json()), 0..3).boxed()
}

/// What the contract says of an event built from these parts.
fn expected(route: &RouteField, headers: &HeadersField) -> Option<(&'static str, &'static str)> {
    let RouteField::Key(route_key) = route else { return None };
    let HeadersField::Object { authorization: AuthorizationField::One { credential: Some(credential), .. }, .. } =
        headers
    else {
        return None;
    };
    let user = credential.genuine_user?;
    granted(user, route_key).map(|granted_by| (user, granted_by))
}

fn build(route: RouteField, headers: HeadersField, noise: Vec<(&'static str, Value)>) -> Case {
    let expected = expected(&route, &headers);
    let mut event: Map<String, Value> = noise.into_iter().map(|(name, value)| (name.to_owned(), value)).collect();
    match route {
        RouteField::Key(key) => _ = event.insert("routeKey".into(), Value::String(key)),
        RouteField::NotAString(value) => _ = event.insert("routeKey".into(), value),
        RouteField::Absent => {}
    }
    let mut secrets = Vec::new();
    match headers {
        HeadersField::Absent => {}
        HeadersField::NotAnObject(value) => _ = event.insert("headers".into(), value),
        HeadersField::Object { authorization, others } => {
            let mut fields: Map<String, Value> = others.into_iter().collect();
            match authorization {
                AuthorizationField::Absent => {}
                AuthorizationField::One { name, value, credential } => {
                    secrets.extend(credential.into_iter().flat_map(|credential| credential.secrets));
                    fields.insert(name, value);
                }
                AuthorizationField::Twice { names, credentials } => {
                    fields.insert(names.0, Value::String(credentials.0.value));
                    fields.insert(names.1, Value::String(credentials.1.value));
                    secrets.extend(credentials.0.secrets.into_iter().chain(credentials.1.secrets));
                }
            }
            event.insert("headers".into(), Value::Object(fields));
        }
    }
    Case { event: Value::Object(event), expected, secrets }
}

/// Well-formed events with a genuine credential of anyone on a known route, amid noise: allowed
/// exactly when the table says so.
fn genuine_case() -> BoxedStrategy<Case> {
    let user = prop_oneof![2 => well_granted(), 1 => anyone()].boxed();
    (known_route(), header_name(), genuine_credential(user), other_headers(), noise())
        .prop_map(|(route, name, credential, others, noise)| {
            let authorization = AuthorizationField::One {
                name,
                value: Value::String(credential.value.clone()),
                credential: Some(credential),
            };
            build(RouteField::Key(route.to_owned()), HeadersField::Object { authorization, others }, noise)
        })
        .boxed()
}

fn hostile_case() -> BoxedStrategy<Case> {
    (route_field(), headers_field(), noise()).prop_map(|(route, headers, noise)| build(route, headers, noise)).boxed()
}

fn not_an_object() -> BoxedStrategy<Case> {
    let case = |event| Case { event, expected: None, secrets: vec![] };
    prop_oneof![
        any_json().prop_filter("not an object", |value| !value.is_object()).prop_map(case),
        genuine_case().prop_map(move |genuine| Case {
            event: json!([genuine.event]),
            expected: None,
            secrets: genuine.secrets
        }),
    ]
    .boxed()
}

fn any_case() -> BoxedStrategy<Case> {
    prop_oneof![3 => genuine_case(), 6 => hostile_case(), 1 => not_an_object()].boxed()
}

/// Proves no secret of `case` is in `logs`.
fn no_secret_in(logs: &str, case: &Case) -> Result<(), TestCaseError> {
    for secret in &case.secrets {
        if logs.contains(secret.as_str()) {
            return Err(TestCaseError::fail(format!("a token was logged: {case:?}")));
        }
    }
    Ok(())
}

#[test]
fn generated_events_are_allowed_exactly_when_the_contract_says_never_an_error() {
    let cases = cases(10_000);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let env = runtime.block_on(authorizer_world());
    let authorizer = authorizer_of(&env);
    let (allowed, denied_count) = (RefCell::new(0u32), RefCell::new(0u32));
    let outcomes = RefCell::new(BTreeMap::<String, u32>::new());
    let started = Instant::now();
    let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
    let result = runner.run(&any_case(), |case| {
        // Every level on one case in eight, for the debug lines; the decision's own line on all.
        let level = if (*allowed.borrow() + *denied_count.borrow()) % 8 == 0 { Level::DEBUG } else { Level::INFO };
        let decide = decide_logging_at(&authorizer, case.event.clone(), level);
        let decided = runtime
            .block_on(async { tokio::time::timeout(Duration::from_secs(10), decide).await })
            .map_err(|_| TestCaseError::fail(format!("no answer within 10 s: {case:?}")))?;
        let answer =
            decided.answer.as_ref().map_err(|_| TestCaseError::fail(format!("an invocation error: {case:?}")))?;
        prop_assert_eq!(answer, &case.answer(), "{:?}", case);
        let lines = lines_of(&decided.logs, &decided.request_id);
        prop_assert_eq!(lines.len(), 1, "{:?}", case);
        let outcome = lines[0].split("outcome=\"").nth(1).and_then(|rest| rest.split('"').next()).unwrap_or("?");
        *outcomes.borrow_mut().entry(outcome.to_owned()).or_default() += 1;
        no_secret_in(&decided.logs, &case)?;
        let side = if case.expected.is_some() { &allowed } else { &denied_count };
        *side.borrow_mut() += 1;
        Ok(())
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
    let (allowed, denied) = (allowed.into_inner(), denied_count.into_inner());
    // The generator reached both sides of the decision, each more than one case in twenty.
    assert!(allowed * 20 > cases && denied * 20 > cases, "allowed {allowed}, denied {denied}");
    // And every reason for a denial, each more than one case in a hundred.
    let outcomes = outcomes.into_inner();
    for outcome in ["malformed_event", "unknown_route", "missing_token", "invalid_token", "unknown_user", "not_granted"]
    {
        assert!(outcomes.get(outcome).is_some_and(|&count| count * 100 > cases), "too few {outcome}: {outcomes:?}");
    }
    eprintln!(
        "authorizer hostile campaign: {cases} events in {:?}: {allowed} allowed, {denied} denied; {outcomes:?}",
        started.elapsed()
    );
}

#[test]
fn the_real_binary_answers_generated_events_and_serves_the_next_one_after_each() {
    let count = cases(10_000) as usize / 40;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let env = runtime.block_on(authorizer_world());
    let mut runner = TestRunner::new(Config { failure_persistence: None, ..Config::default() });
    let strategy = any_case();
    let generated: Vec<Case> =
        (0..count).map(|_| strategy.new_tree(&mut runner).expect("a generated case").current()).collect();
    let mut process = AuthorizerProcess::start(&settings(&env, ROUTE_PERMISSIONS), "info");
    let started = Instant::now();
    for (index, case) in generated.iter().enumerate() {
        process.push(&format!("hostile-{index}"), &case.event);
    }
    let answers = process.answers();
    let mut allowed = 0;
    for (index, (case, posted)) in generated.iter().zip(&answers).enumerate() {
        let answer = response(posted, &format!("hostile-{index}"));
        assert_eq!(answer, case.answer(), "{case:?}");
        allowed += usize::from(case.expected.is_some());
    }
    process.assert_alive_and_polling();
    let took = started.elapsed();
    let logs = process.stop();
    for case in &generated {
        assert!(case.secrets.iter().all(|secret| !logs.contains(secret.as_str())), "a token was logged: {case:?}");
    }
    assert!(allowed * 20 > count, "only {allowed} of {count} generated events were allowed");
    eprintln!("authorizer hostile campaign, real binary: {count} events in {took:?}, {allowed} allowed");
}
