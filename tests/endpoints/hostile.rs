//! What the generated hostile campaigns share (`hostile_input` for the changes, `hostile_queries`
//! for the reads): the text they draw from, each API's error shape, and the run itself.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};

use permissions_service::frame::Route;

use crate::raw_events::{Format, raw_event};
use crate::support::{Event, TestEnv, TestResponse};

/// How many requests a campaign sends: `HOSTILE_CASES`, or `default`.
pub fn cases(default: u32) -> u32 {
    std::env::var("HOSTILE_CASES").ok().and_then(|cases| cases.parse().ok()).unwrap_or(default)
}

/// Text drawn from every character, mostly ASCII: a superset of what API Gateway forwards in a
/// raw query string, a path or a header value (control characters included, which a custom
/// front end could pass on even if API Gateway does not).
pub fn wire_text(max: usize) -> impl Strategy<Value = String> {
    let character = prop_oneof![4 => (0u8..0x80).prop_map(char::from), 1 => any::<char>()];
    prop::collection::vec(character, 0..max).prop_map(|characters| characters.into_iter().collect())
}

pub fn mixed_case(text: String) -> impl Strategy<Value = String> {
    prop::collection::vec(any::<bool>(), text.len()).prop_map(move |upper| {
        text.chars().zip(upper).map(|(c, up)| if up { c.to_ascii_uppercase() } else { c }).collect()
    })
}

/// Every byte outside RFC 3986's unreserved set is percent-encoded, as a client must send it;
/// `all` encodes every byte.
pub fn percent_encoded(text: &str, all: bool) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' if !all => (byte as char).to_string(),
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// What every generated request has, whatever else it carries: its method, where it goes, its
/// credentials, its query string and its payload format.
#[derive(Debug, Clone)]
pub struct Line {
    pub method: &'static str,
    /// The org route's `{user_uuid}` segment as decoded (API Gateway's path parameter).
    pub segment: String,
    /// Whether the org path carries the segment decoded (as a REST API passes the path) rather
    /// than percent-encoded.
    pub decoded_path: bool,
    /// Segments before the route's own (a stage or base path, as routing allows), any text.
    pub path_prefix: Option<String>,
    pub authorization: Vec<String>,
    /// The raw query string as the client sent it.
    pub query: String,
    pub rest_api: bool,
}

/// Lines of `methods` and `segment`s with `authorization`s and `query` strings; a path prefix on
/// a share `prefixed` of them and the REST API's format on a share `rest_api`.
pub fn line(
    methods: impl Strategy<Value = &'static str>,
    segment: BoxedStrategy<String>,
    authorization: BoxedStrategy<Vec<String>>,
    query: impl Strategy<Value = String>,
    prefixed: f64,
    rest_api: f64,
) -> impl Strategy<Value = Line> {
    let prefix = prop::option::weighted(prefixed, wire_text(12));
    (methods, segment, prop::bool::weighted(0.3), prefix, authorization, query, prop::bool::weighted(rest_api))
        .prop_map(|(method, segment, decoded_path, path_prefix, authorization, query, rest_api)| Line {
            method,
            segment,
            decoded_path,
            path_prefix,
            authorization,
            query,
            rest_api,
        })
}

impl Line {
    /// A request for `route` along this line: its method, its path (with the segment, for a
    /// route with a parameter) behind the prefix, and its credentials.
    pub fn event(&self, route: &Route) -> Event {
        let path = match route.parameter_name() {
            Some(name) => {
                let segment =
                    if self.decoded_path { self.segment.clone() } else { percent_encoded(&self.segment, false) };
                format!("{}/", route.path.replace(&format!("{{{name}}}"), &segment))
            }
            None => route.path.to_owned(),
        };
        let path = match &self.path_prefix {
            Some(prefix) => format!("/{prefix}{path}"),
            None => path,
        };
        let mut event = Event::route(route, Some(&self.segment)).path(&path).method(self.method);
        for value in &self.authorization {
            event = event.header("authorization", value);
        }
        event
    }

    pub fn format(&self) -> Format {
        if self.rest_api { Format::V1 } else { Format::V2 }
    }

    /// `event` as API Gateway sends it, with this line's query string, in its payload format.
    pub fn raw(&self, event: &Event) -> Value {
        raw_event(event, &self.query, self.format())
    }
}

pub fn is_gateway_not_found(body: &Value) -> bool {
    *body == json!({ "message": "Not Found" })
}

/// Django REST Framework's shapes: `{"detail": "..."}` or `{"<field>": ["...", ...], ...}`.
pub fn is_org_error(body: &Value) -> bool {
    let Some(fields) = body.as_object() else { return false };
    if let Some(detail) = fields.get("detail") {
        return fields.len() == 1 && detail.as_str().is_some_and(|text| !text.is_empty());
    }
    !fields.is_empty()
        && fields.values().all(|messages| {
            messages.as_array().is_some_and(|messages| {
                !messages.is_empty() && messages.iter().all(|message| message.as_str().is_some_and(|m| !m.is_empty()))
            })
        })
}

/// `{"error": {"code": "...", "message": "..."}}`, nothing more.
pub fn is_admin_error(body: &Value) -> bool {
    let Some(error) = body.as_object().filter(|fields| fields.len() == 1).and_then(|fields| fields.get("error")) else {
        return false;
    };
    error.as_object().is_some_and(|error| error.len() == 2)
        && error["code"].as_str().is_some_and(|code| !code.is_empty())
        && error["message"].as_str().is_some_and(|message| !message.is_empty())
}

/// Drives `cases` requests generated by `strategy` through `call`, each answered within 10 s and
/// passing `check`; then proves the tables of `env` are as they were, and that each of `needed`
/// statuses answered more than one request in 50 (the generator reached that far).
pub fn campaign<Case: Debug>(
    env: &TestEnv,
    label: &str,
    cases: u32,
    strategy: impl Strategy<Value = Case>,
    call: impl AsyncFn(&Case) -> TestResponse,
    check: impl Fn(&TestResponse) -> Result<(), TestCaseError>,
    needed: &[u16],
) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let before = runtime.block_on(env.snapshot());
    let config = Config { cases, failure_persistence: None, ..Config::default() };
    let statuses = std::cell::RefCell::new(BTreeMap::<u16, u32>::new());
    let mut runner = TestRunner::new(config);
    let result = runner.run(&strategy, |case| {
        let response = runtime
            .block_on(async { tokio::time::timeout(Duration::from_secs(10), call(&case)).await })
            .map_err(|_| TestCaseError::fail(format!("no answer within 10 s: {case:?}")))?;
        check(&response)?;
        *statuses.borrow_mut().entry(response.status).or_default() += 1;
        Ok(())
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
    assert_eq!(runtime.block_on(env.snapshot()), before, "{label}: a hostile request wrote something");
    let statuses = statuses.into_inner();
    for status in needed {
        assert!(statuses.get(status).is_some_and(|&count| count * 50 > cases), "too few {status}s: {statuses:?}");
    }
    eprintln!("{label}: {cases} generated requests, answers by status: {statuses:?}");
}
