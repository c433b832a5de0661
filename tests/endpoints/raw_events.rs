//! Raw API Gateway events (payload formats 2.0 and 1.0) through `lambda_entry::answer_event`,
//! exactly what the Lambda binaries run per invocation: JSON in, JSON out. lambda_http's own
//! conversion panicked on every hostile byte below before a handler ran (docs/security.md).

use std::str::FromStr;

use base64::Engine;
use lambda_http::aws_lambda_events::query_map::QueryMap;
use lambda_http::http::{HeaderName, HeaderValue, StatusCode};
use lambda_http::{Body, Context, Response};
use permissions_service::frame::routes::{ADMIN_ADD, ADMIN_CHECK, ADMIN_REMOVE, ORG_ADD, ORG_REMOVE};
use permissions_service::frame::{Endpoint, Frame, Route};
use permissions_service::lambda_entry::{self, NotApiGateway};
use serde_json::{Map, Value, json};

use crate::support::AdminAdd;
use crate::support::OrgAdd;
use crate::support::fixtures::admin::{ADMIN, TARGET as ADMIN_TARGET, admin_world, jwt_for};
use crate::support::fixtures::org::{EDITOR_KEY, P1, P2, P3, TARGET as ORG_TARGET, org_world};
use crate::support::{Event, TestEnv, TestResponse};

/// Bytes the `http` crate refuses somewhere in a URI, or that a sloppy decoder trips on.
pub const HOSTILE: [&str; 17] =
    ["\"x\"", "<", ">", "{", "}", "|", "\\", "^", "`", " ", "é", "日本", "%", "%zz", "#", "[", "]"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    V2,
    V1,
}

pub const FORMATS: [Format; 2] = [Format::V2, Format::V1];

/// The event as API Gateway sends it in `format`. Format 1.0 carries the query decoded, as a REST
/// API does, in both parameter maps; format 2.0 carries it raw.
pub fn raw_event(event: &Event, raw_query: &str, format: Format) -> Value {
    match format {
        Format::V2 => event.clone().query(raw_query).http_api_json(),
        Format::V1 => {
            let mut json = event.rest_api_json();
            if !raw_query.is_empty() {
                let parameters = QueryMap::from_str(raw_query).unwrap();
                let mut single = Map::new();
                let mut multi = Map::new();
                for (name, value) in parameters.iter() {
                    single.insert(name.to_owned(), json!(value));
                    let values = multi.entry(name.to_owned()).or_insert_with(|| json!([]));
                    values.as_array_mut().unwrap().push(json!(value));
                }
                json["queryStringParameters"] = Value::Object(single);
                json["multiValueQueryStringParameters"] = Value::Object(multi);
            }
            json
        }
    }
}

/// One invocation through the binaries' entry path, its reply checked for its format's shape.
pub async fn invoke<E: Endpoint>(frame: &Frame<E>, event: Value, request_id: &str) -> TestResponse {
    let format = if event["version"] == "2.0" { Format::V2 } else { Format::V1 };
    let mut context = Context::default();
    context.request_id = request_id.to_owned();
    let reply = lambda_entry::answer_event(frame, event, context).await.expect("an API Gateway reply");
    from_reply(format, &reply)
}

/// The reply as API Gateway reads it.
pub fn from_reply(format: Format, reply: &Value) -> TestResponse {
    let mut response = Response::new(Body::Empty);
    let status = reply["statusCode"].as_u64().and_then(|status| u16::try_from(status).ok());
    *response.status_mut() = StatusCode::from_u16(status.expect("a statusCode")).unwrap();
    let headers = match format {
        Format::V2 => {
            assert!(reply["cookies"].is_array() && reply["multiValueHeaders"] == json!({}), "not 2.0: {reply}");
            reply["headers"].as_object().unwrap().iter().map(|(name, value)| (name, vec![value])).collect::<Vec<_>>()
        }
        Format::V1 => {
            assert!(reply["headers"] == json!({}) && reply.get("cookies").is_none(), "not 1.0: {reply}");
            let multi = reply["multiValueHeaders"].as_object().unwrap();
            multi.iter().map(|(name, values)| (name, values.as_array().unwrap().iter().collect())).collect()
        }
    };
    for (name, values) in headers {
        for value in values {
            let value = HeaderValue::from_str(value.as_str().unwrap()).unwrap();
            response.headers_mut().append(HeaderName::from_str(name).unwrap(), value);
        }
    }
    let body = reply["body"].as_str().unwrap_or_default();
    *response.body_mut() = if reply["isBase64Encoded"] == true {
        Body::Binary(base64::engine::general_purpose::STANDARD.decode(body).unwrap())
    } else {
        Body::Text(body.to_owned())
    };
    TestResponse::from(response)
}

/// Unauthenticated or with a credential that is not one, answered as each endpoint answers it.
fn assert_org_401(response: &TestResponse, case: &str) {
    assert_eq!(response.status, 401, "{case}: {response:?}");
    let detail = response.body["detail"].as_str().unwrap_or_default();
    assert!(
        ["Authentication credentials were not provided.", "Invalid token."].contains(&detail),
        "{case}: {response:?}"
    );
    assert_eq!(response.headers["www-authenticate"], "Token", "{case}");
}

fn assert_admin_401(response: &TestResponse, case: &str) {
    assert_eq!(response.status, 401, "{case}: {response:?}");
    assert_eq!(response.body["error"]["code"], "UNAUTHORIZED", "{case}: {response:?}");
    assert_eq!(response.headers["www-authenticate"], "Bearer", "{case}");
}

/// Where a hostile text goes in an otherwise ordinary request.
#[derive(Debug, Clone, Copy)]
enum Place {
    Query,
    Path,
    HeaderValue,
    Credential,
    Host,
    ForwardedProto,
}

const PLACES: [Place; 6] =
    [Place::Query, Place::Path, Place::HeaderValue, Place::Credential, Place::Host, Place::ForwardedProto];

/// `base` (a request for `route`) with `text` put in `place`, and the raw query string to send
/// it with.
fn with_hostile(base: Event, route: &Route, text: &str, place: Place) -> (Event, String) {
    let org = route.parameter_name().is_some();
    let mut query = String::new();
    let event = match place {
        Place::Query => {
            query = format!("q={text}&userId={text}");
            base
        }
        // A `/` in a segment arrives as `%2F` from a client; a literal one makes another segment.
        Place::Path if org => {
            let segment = format!("a{text}b");
            Event::route(route, Some(&segment))
                .path(&format!("/organizations/users/permissions/{}/", segment.replace('/', "%2F")))
        }
        Place::Path => base.path(&format!("/{}{}", text.replace('/', "%2F"), route.path)),
        Place::HeaderValue => base.header("x-hostile", &format!("a{text}b")),
        Place::Credential if org => base.token(&format!("a{text}b")),
        Place::Credential => base.bearer(&format!("a{text}b")),
        Place::Host => base.header("host", text),
        Place::ForwardedProto => base.header("host", "api.example.com").header("x-forwarded-proto", text),
    };
    (event, query)
}

/// The endpoints, as the raw-event checks drive them, each in its API's world; a new endpoint is
/// a variant here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    OrgAdd,
    OrgRemove,
    AdminAdd,
    AdminRemove,
    AdminCheck,
}

pub const ADDS: [Api; 2] = [Api::OrgAdd, Api::AdminAdd];
pub const REMOVES: [Api; 2] = [Api::OrgRemove, Api::AdminRemove];
pub const CHECKS: [Api; 1] = [Api::AdminCheck];

/// What the admin world's check of its target answers: the docs' example.
fn checked() -> Value {
    json!({
        "message": "Successfully checked permissions for this user.",
        "data": { "userId": ADMIN_TARGET, "allowed": false,
                  "results": [{ "permission": "compass.users.invite", "allowed": true, "grantedBy": "compass.users.*" },
                              { "permission": "compass.dashboard.export", "allowed": false, "grantedBy": null }] }
    })
}

impl Api {
    pub fn route(self) -> &'static Route {
        match self {
            Api::OrgAdd => &ORG_ADD,
            Api::OrgRemove => &ORG_REMOVE,
            Api::AdminAdd => &ADMIN_ADD,
            Api::AdminRemove => &ADMIN_REMOVE,
            Api::AdminCheck => &ADMIN_CHECK,
        }
    }

    pub fn is_org(self) -> bool {
        matches!(self, Api::OrgAdd | Api::OrgRemove)
    }

    /// The route's request for the world's target, without credentials or body.
    pub fn bare(self) -> Event {
        Event::route(self.route(), self.is_org().then_some(ORG_TARGET))
    }

    /// A well-formed body for the world's target.
    pub fn body(self) -> Value {
        match self {
            Api::OrgAdd => json!({ "permission_uuids": [P1, P2] }),
            // P3 is the target's: the first removal removes it, the next ones are no-ops.
            Api::OrgRemove => json!({ "permission_uuids": [P3, P1] }),
            Api::AdminAdd => json!({ "payload": { "userId": ADMIN_TARGET, "permissions": ["compass.dashboard.*"] } }),
            Api::AdminRemove => json!({ "payload": { "userId": ADMIN_TARGET, "permissions": ["compass.users.*"] } }),
            Api::AdminCheck => json!({
                "payload": { "userId": ADMIN_TARGET, "permissions": ["compass.users.invite", "compass.dashboard.export"] }
            }),
        }
    }

    /// Whether a success writes (a change and its audit record) or only answers (a check).
    pub fn writes(self) -> bool {
        self != Api::AdminCheck
    }

    /// A method the route does not serve, but a neighbouring route does.
    pub fn other_method(self) -> &'static str {
        match self {
            Api::OrgAdd => "DELETE",
            Api::OrgRemove => "PATCH",
            Api::AdminAdd | Api::AdminRemove => "POST",
            Api::AdminCheck => "PUT",
        }
    }

    /// A request that succeeds in the API's world.
    pub fn valid(self) -> Event {
        let event = if self.is_org() { self.bare().token(EDITOR_KEY) } else { self.bare().bearer(&jwt_for(ADMIN)) };
        event.json(&self.body())
    }

    pub async fn world(self) -> TestEnv {
        if self.is_org() { org_world().await } else { admin_world().await }
    }

    /// One invocation of the endpoint's binary through the entry path, its reply checked for
    /// its format's shape.
    pub async fn invoke(self, env: &TestEnv, event: Value, request_id: &str) -> TestResponse {
        let format = if event["version"] == "2.0" { Format::V2 } else { Format::V1 };
        let mut context = Context::default();
        context.request_id = request_id.to_owned();
        let reply = env.answer_event(self.route().binary, event, context).await.expect("an API Gateway reply");
        from_reply(format, &reply)
    }

    fn assert_401(self, response: &TestResponse, case: &str) {
        if self.is_org() { assert_org_401(response, case) } else { assert_admin_401(response, case) }
    }
}

/// No credentials, or a credential that is not one: the endpoint's 401, whatever else is odd.
async fn unauthenticated_requests_get_the_endpoints_401(apis: &[Api], texts: &[String]) {
    for api in apis {
        let env = api.world().await;
        for text in texts {
            for place in PLACES {
                for format in FORMATS {
                    let case = format!("{api:?}: {text:?} in {place:?}, {format:?}");
                    let (event, query) = with_hostile(api.bare(), api.route(), text, place);
                    let event = event.json(&api.body());
                    let response = api.invoke(&env, raw_event(&event, &query, format), &event.request_id).await;
                    api.assert_401(&response, &case);
                }
            }
        }
        assert_eq!(env.audit_count().await, 0, "{api:?}: an unauthenticated request wrote something");
    }
}

#[tokio::test]
async fn hostile_bytes_anywhere_in_an_unauthenticated_request_get_the_endpoints_401() {
    let texts: Vec<String> = HOSTILE.iter().map(|text| (*text).to_owned()).collect();
    unauthenticated_requests_get_the_endpoints_401(&ADDS, &texts).await;
}

#[tokio::test]
async fn hostile_bytes_anywhere_in_an_unauthenticated_removal_get_the_endpoints_401() {
    let texts: Vec<String> = HOSTILE.iter().map(|text| (*text).to_owned()).collect();
    unauthenticated_requests_get_the_endpoints_401(&REMOVES, &texts).await;
}

#[tokio::test]
async fn hostile_bytes_anywhere_in_an_unauthenticated_check_get_the_401() {
    let texts: Vec<String> = HOSTILE.iter().map(|text| (*text).to_owned()).collect();
    unauthenticated_requests_get_the_endpoints_401(&CHECKS, &texts).await;
}

/// Every ASCII byte on its own, and characters that stand for the rest of Unicode.
fn every_byte() -> Vec<String> {
    let mut texts: Vec<String> = (0u8..0x80).map(|byte| char::from(byte).to_string()).collect();
    texts.extend(
        ["\u{80}", "\u{a0}", "\u{85}", "\u{2028}", "\u{fffd}", "\u{feff}", "\u{10ffff}", "😀"].map(str::to_owned),
    );
    texts
}

#[tokio::test]
async fn every_byte_in_the_query_path_and_headers_of_an_unauthenticated_request_gets_the_401() {
    unauthenticated_requests_get_the_endpoints_401(&ADDS, &every_byte()).await;
}

#[tokio::test]
async fn every_byte_in_the_query_path_and_headers_of_an_unauthenticated_removal_gets_the_401() {
    unauthenticated_requests_get_the_endpoints_401(&REMOVES, &every_byte()).await;
}

#[tokio::test]
async fn every_byte_in_the_query_path_and_headers_of_an_unauthenticated_check_gets_the_401() {
    unauthenticated_requests_get_the_endpoints_401(&CHECKS, &every_byte()).await;
}

async fn org_grant_succeeds(env: &TestEnv, event: Event, query: &str, format: Format, case: &str) {
    let audits = env.audit_count().await;
    let response = invoke(&env.frame::<OrgAdd>(), raw_event(&event, query, format), &event.request_id).await;
    assert_eq!(response.status, 200, "{case}: {response:?}");
    assert_eq!(env.audit_count().await, audits + 1, "{case}");
}

async fn admin_grant_succeeds(env: &TestEnv, event: Event, query: &str, format: Format, case: &str) {
    let audits = env.audit_count().await;
    let response = invoke(&env.frame::<AdminAdd>(), raw_event(&event, query, format), &event.request_id).await;
    assert_eq!(response.status, 200, "{case}: {response:?}");
    assert_eq!(env.audit_count().await, audits + 1, "{case}");
}

fn org_grant() -> Event {
    Event::org(ORG_TARGET).token(EDITOR_KEY).json(&json!({ "permission_uuids": [P1, P2] }))
}

fn admin_grant() -> Event {
    Event::admin()
        .bearer(&jwt_for(ADMIN))
        .json(&json!({ "payload": { "userId": ADMIN_TARGET, "permissions": ["compass.dashboard.*"] } }))
}

#[tokio::test]
async fn a_valid_grant_with_hostile_bytes_in_its_query_and_headers_still_succeeds() {
    let org = org_world().await;
    let admin = admin_world().await;
    for text in HOSTILE {
        for format in FORMATS {
            for place in [Place::Query, Place::HeaderValue, Place::Host, Place::ForwardedProto] {
                let case = format!("{text:?} in {place:?}, {format:?}");
                let (event, query) = with_hostile(org_grant(), &ORG_ADD, text, place);
                org_grant_succeeds(&org, event, &query, format, &case).await;
                let (event, query) = with_hostile(admin_grant(), &ADMIN_ADD, text, place);
                admin_grant_succeeds(&admin, event, &query, format, &case).await;
            }
        }
    }
}

#[tokio::test]
async fn a_valid_grant_succeeds_whatever_byte_its_query_holds() {
    let admin = admin_world().await;
    for text in every_byte() {
        for format in FORMATS {
            let query = format!("q={text}&x={text}{text}");
            admin_grant_succeeds(&admin, admin_grant(), &query, format, &format!("{text:?}, {format:?}")).await;
        }
    }
}

#[tokio::test]
async fn malformed_host_and_forwarded_proto_headers_do_not_stop_a_grant() {
    let admin = admin_world().await;
    let hosts = ["", "a b", "a/b", "[", "user@evil.example", "h:99999999", "h:-1", "\u{0}", "é.example"];
    let protos = ["", "1", "a b", "://", "javascript", "HTTP", "\u{7f}"];
    for format in FORMATS {
        for host in hosts {
            let event = admin_grant().header("host", host);
            admin_grant_succeeds(&admin, event, "", format, &format!("Host {host:?}, {format:?}")).await;
        }
        for proto in protos {
            let event = admin_grant().header("x-forwarded-proto", proto);
            admin_grant_succeeds(&admin, event, "", format, &format!("x-forwarded-proto {proto:?}, {format:?}")).await;
        }
    }
}

#[tokio::test]
async fn two_authorization_headers_are_a_401_in_both_formats() {
    let admin = admin_world().await;
    let event = admin_grant().bearer(&jwt_for(ADMIN));
    for format in FORMATS {
        let response = invoke(&admin.frame::<AdminAdd>(), raw_event(&event, "", format), &event.request_id).await;
        assert_admin_401(&response, &format!("{format:?}"));
    }
    assert_eq!(admin.audit_count().await, 0);
}

#[tokio::test]
async fn an_unknown_route_is_the_gateways_404_in_each_format() {
    let admin = admin_world().await;
    for format in FORMATS {
        let event = admin_grant().path("/user/<remove>-permissions");
        let response =
            invoke(&admin.frame::<AdminAdd>(), raw_event(&event, "q=\"x\"", format), &event.request_id).await;
        assert_eq!((response.status, response.body), (404, json!({ "message": "Not Found" })), "{format:?}");
    }
}

#[tokio::test]
async fn an_event_no_client_could_send_is_a_400_and_one_not_from_api_gateway_an_invocation_error() {
    let admin = admin_world().await;
    let event = admin_grant();
    for format in FORMATS {
        let mut bad_method = raw_event(&event, "", format);
        match format {
            Format::V2 => bad_method["requestContext"]["http"]["method"] = json!("P U T"),
            Format::V1 => bad_method["httpMethod"] = json!("P U T"),
        }
        let mut bad_body = raw_event(&event, "", format);
        bad_body["isBase64Encoded"] = json!(true);
        for unreadable in [bad_method, bad_body] {
            let response = invoke(&admin.frame::<AdminAdd>(), unreadable, &event.request_id).await;
            assert_eq!((response.status, response.body), (400, json!({ "message": "Bad Request" })), "{format:?}");
        }
    }
    for other in [json!({ "Records": [{ "body": "{}" }] }), json!({}), json!([]), json!("PUT /user/add-permissions")] {
        let answer = lambda_entry::answer_event(&admin.frame::<AdminAdd>(), other, Context::default()).await;
        assert_eq!(answer, Err(NotApiGateway));
    }
    assert_eq!(admin.audit_count().await, 0);
}

#[tokio::test]
async fn the_handlers_see_what_lambda_http_gave_them() {
    let env = org_world().await;
    // Format 1.0 with a stage, a request id only in the request context, and a repeated header.
    let event = org_grant().request_id("in-both");
    let mut json = raw_event(&event, "a=1", Format::V1);
    json["multiValueHeaders"]["x-repeat"] = json!(["1", "2"]);
    let response = invoke(&env.frame::<OrgAdd>(), json, "").await;
    assert_eq!(response.status, 200, "{response:?}");
    let records = env.audit_of(ORG_TARGET).await;
    let request_id = &records[0].request_id;
    assert_eq!(request_id, "apigw-in-both", "without Lambda's id, API Gateway's is the request id");
    assert_eq!(response.body, json!({ "user_uuid": ORG_TARGET, "permission_uuids": [P2, P1] }));
}

/// `event` through `api`'s binary in `format`: a 200 and, for a change, exactly one more audit
/// record; for a check, its answer and no audit record.
async fn succeeds(api: Api, env: &TestEnv, event: Event, query: &str, format: Format, case: &str) {
    let audits = env.audit_count().await;
    let response = api.invoke(env, raw_event(&event, query, format), &event.request_id).await;
    assert_eq!(response.status, 200, "{case}: {response:?}");
    if api.writes() {
        assert_eq!(env.audit_count().await, audits + 1, "{case}");
    } else {
        assert_eq!(response.body, checked(), "{case}");
        assert_eq!(env.audit_count().await, audits, "{case}");
    }
}

/// Proves that a world in which only checks ran is as it was.
async fn unchanged_by_checks(api: Api, env: &TestEnv, before: &[String]) {
    if !api.writes() {
        assert_eq!(env.snapshot().await, before, "{api:?} wrote something");
    }
}

#[tokio::test]
async fn a_valid_removal_with_hostile_bytes_in_its_query_and_headers_still_succeeds() {
    valid_requests_with_hostile_bytes_in_their_query_and_headers_succeed(&REMOVES).await;
}

#[tokio::test]
async fn a_valid_check_with_hostile_bytes_in_its_query_and_headers_still_succeeds() {
    valid_requests_with_hostile_bytes_in_their_query_and_headers_succeed(&CHECKS).await;
}

async fn valid_requests_with_hostile_bytes_in_their_query_and_headers_succeed(apis: &[Api]) {
    for &api in apis {
        let env = api.world().await;
        let before = env.snapshot().await;
        for text in HOSTILE {
            for format in FORMATS {
                for place in [Place::Query, Place::HeaderValue, Place::Host, Place::ForwardedProto] {
                    let case = format!("{api:?}: {text:?} in {place:?}, {format:?}");
                    let (event, query) = with_hostile(api.valid(), api.route(), text, place);
                    succeeds(api, &env, event, &query, format, &case).await;
                }
            }
        }
        unchanged_by_checks(api, &env, &before).await;
    }
}

#[tokio::test]
async fn a_valid_removal_succeeds_whatever_byte_its_query_holds() {
    valid_requests_succeed_whatever_byte_their_query_holds(&REMOVES).await;
}

#[tokio::test]
async fn a_valid_check_succeeds_whatever_byte_its_query_holds() {
    valid_requests_succeed_whatever_byte_their_query_holds(&CHECKS).await;
}

async fn valid_requests_succeed_whatever_byte_their_query_holds(apis: &[Api]) {
    for &api in apis {
        let env = api.world().await;
        let before = env.snapshot().await;
        for text in every_byte() {
            for format in FORMATS {
                let query = format!("q={text}&x={text}{text}");
                succeeds(api, &env, api.valid(), &query, format, &format!("{api:?}: {text:?}, {format:?}")).await;
            }
        }
        unchanged_by_checks(api, &env, &before).await;
    }
}

#[tokio::test]
async fn malformed_host_and_forwarded_proto_headers_do_not_stop_a_removal() {
    malformed_host_and_forwarded_proto_headers_do_not_stop_valid_requests(&REMOVES).await;
}

#[tokio::test]
async fn malformed_host_and_forwarded_proto_headers_do_not_stop_a_check() {
    malformed_host_and_forwarded_proto_headers_do_not_stop_valid_requests(&CHECKS).await;
}

async fn malformed_host_and_forwarded_proto_headers_do_not_stop_valid_requests(apis: &[Api]) {
    let hosts = ["", "a b", "a/b", "[", "user@evil.example", "h:99999999", "h:-1", "\u{0}", "é.example"];
    let protos = ["", "1", "a b", "://", "javascript", "HTTP", "\u{7f}"];
    for &api in apis {
        let env = api.world().await;
        let before = env.snapshot().await;
        for format in FORMATS {
            for host in hosts {
                let event = api.valid().header("host", host);
                succeeds(api, &env, event, "", format, &format!("{api:?}: Host {host:?}, {format:?}")).await;
            }
            for proto in protos {
                let event = api.valid().header("x-forwarded-proto", proto);
                let case = format!("{api:?}: x-forwarded-proto {proto:?}, {format:?}");
                succeeds(api, &env, event, "", format, &case).await;
            }
        }
        unchanged_by_checks(api, &env, &before).await;
    }
}

#[tokio::test]
async fn a_removal_with_two_authorization_headers_is_a_401_in_both_formats() {
    two_authorization_headers_are_a_401_in_both_formats_for(&REMOVES).await;
}

#[tokio::test]
async fn a_check_with_two_authorization_headers_is_a_401_in_both_formats() {
    two_authorization_headers_are_a_401_in_both_formats_for(&CHECKS).await;
}

async fn two_authorization_headers_are_a_401_in_both_formats_for(apis: &[Api]) {
    for &api in apis {
        let env = api.world().await;
        let event = if api.is_org() { api.valid().token(EDITOR_KEY) } else { api.valid().bearer(&jwt_for(ADMIN)) };
        for format in FORMATS {
            let response = api.invoke(&env, raw_event(&event, "", format), &event.request_id).await;
            api.assert_401(&response, &format!("{api:?}, {format:?}"));
        }
        assert_eq!(env.audit_count().await, 0, "{api:?}");
    }
}

#[tokio::test]
async fn an_unknown_route_or_method_is_the_gateways_404_for_a_removal_in_each_format() {
    an_unknown_route_or_method_is_the_gateways_404_in_each_format(&REMOVES).await;
}

#[tokio::test]
async fn an_unknown_route_or_method_is_the_gateways_404_for_a_check_in_each_format() {
    an_unknown_route_or_method_is_the_gateways_404_in_each_format(&CHECKS).await;
}

async fn an_unknown_route_or_method_is_the_gateways_404_in_each_format(apis: &[Api]) {
    for &api in apis {
        let env = api.world().await;
        let before = env.snapshot().await;
        for event in [api.valid().path("/user/<remove>-permissions"), api.valid().method(api.other_method())] {
            for format in FORMATS {
                let response = api.invoke(&env, raw_event(&event, "q=\"x\"", format), &event.request_id).await;
                assert_eq!(
                    (response.status, response.body),
                    (404, json!({ "message": "Not Found" })),
                    "{api:?} {format:?}"
                );
            }
        }
        assert_eq!(env.snapshot().await, before, "{api:?}");
    }
}

#[tokio::test]
async fn a_removal_no_client_could_send_is_a_400_and_one_not_from_api_gateway_an_invocation_error() {
    an_event_no_client_could_send_is_a_400_and_one_not_from_api_gateway_an_invocation_error_for(&REMOVES).await;
}

#[tokio::test]
async fn a_check_no_client_could_send_is_a_400_and_one_not_from_api_gateway_an_invocation_error() {
    an_event_no_client_could_send_is_a_400_and_one_not_from_api_gateway_an_invocation_error_for(&CHECKS).await;
}

async fn an_event_no_client_could_send_is_a_400_and_one_not_from_api_gateway_an_invocation_error_for(apis: &[Api]) {
    for &api in apis {
        let env = api.world().await;
        let before = env.snapshot().await;
        let event = api.valid();
        let method = api.route().method.as_str();
        for format in FORMATS {
            let mut bad_method = raw_event(&event, "", format);
            match format {
                Format::V2 => bad_method["requestContext"]["http"]["method"] = json!(format!("{method} X")),
                Format::V1 => bad_method["httpMethod"] = json!(format!("{method} X")),
            }
            let mut bad_body = raw_event(&event, "", format);
            bad_body["isBase64Encoded"] = json!(true);
            for unreadable in [bad_method, bad_body] {
                let response = api.invoke(&env, unreadable, &event.request_id).await;
                let answer = (response.status, response.body);
                assert_eq!(answer, (400, json!({ "message": "Bad Request" })), "{api:?} {format:?}");
            }
        }
        for other in [json!({ "Records": [{ "body": "{}" }] }), json!({}), json!([]), json!("DELETE /x")] {
            let answer = env.answer_event(api.route().binary, other, Context::default()).await;
            assert_eq!(answer, Err(NotApiGateway), "{api:?}");
        }
        assert_eq!(env.snapshot().await, before, "{api:?}");
    }
}

#[tokio::test]
async fn a_removal_sees_what_lambda_http_gave_it_in_format_1_0() {
    // A stage, a request id only in the request context, a repeated header.
    let env = Api::OrgRemove.world().await;
    let event = Api::OrgRemove.valid().request_id("in-both");
    let mut json = raw_event(&event, "a=1", Format::V1);
    json["multiValueHeaders"]["x-repeat"] = json!(["1", "2"]);
    let response = Api::OrgRemove.invoke(&env, json, "").await;
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(response.body, json!({ "user_uuid": ORG_TARGET, "permission_uuids": [P3, P1] }));
    let records = env.audit_of(ORG_TARGET).await;
    assert_eq!(records[0].request_id, "apigw-in-both", "without Lambda's id, API Gateway's is the request id");
    assert_eq!(env.permissions_of(ORG_TARGET).await, Some(vec![]));

    let env = Api::AdminRemove.world().await;
    let event = Api::AdminRemove.valid().request_id("in-both");
    let response = Api::AdminRemove.invoke(&env, raw_event(&event, "", Format::V1), "").await;
    assert_eq!(response.body, json!({ "message": "Successfully removed permissions for this user.", "data": {} }));
    assert_eq!(env.audit_of(ADMIN_TARGET).await[0].request_id, "apigw-in-both");
    assert_eq!(env.permissions_of(ADMIN_TARGET).await, Some(vec![]));
}

#[tokio::test]
async fn a_check_sees_what_lambda_http_gave_it_in_format_1_0() {
    // A stage, a request id only in the request context, a repeated header.
    let env = Api::AdminCheck.world().await;
    let before = env.snapshot().await;
    let event = Api::AdminCheck.valid().request_id("in-both").path("/prod/user/check-permissions");
    let mut json = raw_event(&event, "a=1", Format::V1);
    json["multiValueHeaders"]["x-repeat"] = json!(["1", "2"]);
    let response = Api::AdminCheck.invoke(&env, json, "").await;
    assert_eq!((response.status, response.body), (200, checked()));
    assert_eq!(env.snapshot().await, before);
}
