//! API Gateway's HTTP API in front of routes that a Lambda authorizer protects, as far as the
//! authorizer is concerned: which route a request is, the payload-2.0 authorizer event it sends,
//! and what it makes of the answer. local-api serves the example's protected routes through it,
//! and the tests put it in front of the real authorizer binary.
//!
//! As API Gateway does, for an authorizer with the `Authorization` header as its identity source,
//! simple responses and no caching (`AuthorizerResultTtlInSeconds: 0`):
//! - no route for the request: 404 `{"message":"Not Found"}`, and no authorizer call;
//! - no `Authorization` header (the identity source): 401 `{"message":"Unauthorized"}`, and no
//!   authorizer call;
//! - `{"isAuthorized": false}`: 403 `{"message":"Forbidden"}`;
//! - an invocation error, or an answer without a boolean `isAuthorized`: 500
//!   `{"message":"Internal Server Error"}`;
//! - `{"isAuthorized": true, "context": {...}}`: the integration runs, and finds the context in
//!   its event's `requestContext.authorizer.lambda`.

use serde_json::{Map, Value, json};

/// One route of the protected API: its route key, `"METHOD /path"` with `{name}` and `{name+}`
/// segments, or `$default`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtectedRoute {
    pub route_key: String,
    method: String,
    segments: Vec<String>,
}

/// The routes of a protected API.
#[derive(Debug, Clone, Default)]
pub struct ProtectedApi {
    routes: Vec<ProtectedRoute>,
    default_route: bool,
}

impl ProtectedApi {
    /// The API whose routes are the given route keys (an authorizer's `ROUTE_PERMISSIONS` keys).
    pub fn new<'a>(route_keys: impl IntoIterator<Item = &'a str>) -> Self {
        let mut api = Self::default();
        for route_key in route_keys {
            if route_key == "$default" {
                api.default_route = true;
            } else if let Some((method, path)) = route_key.split_once(' ') {
                let segments = path.trim_matches('/').split('/').map(str::to_owned).collect();
                api.routes.push(ProtectedRoute {
                    route_key: route_key.to_owned(),
                    method: method.to_owned(),
                    segments,
                });
            }
        }
        api
    }

    /// The route key API Gateway matches the request to, if any: a route of the request's method
    /// and path (one trailing slash ignored), else `$default` when the API has it.
    pub fn route_key(&self, method: &str, path: &str) -> Option<String> {
        let sent: Vec<&str> = path.trim_start_matches('/').trim_end_matches('/').split('/').collect();
        let matched = self.routes.iter().find(|route| route.method == method && matches(&route.segments, &sent));
        match matched {
            Some(route) => Some(route.route_key.clone()),
            None => self.default_route.then(|| "$default".to_owned()),
        }
    }
}

fn matches(pattern: &[String], sent: &[&str]) -> bool {
    for (index, expected) in pattern.iter().enumerate() {
        if expected.starts_with('{') && expected.ends_with("+}") {
            return sent.len() > index;
        }
        let Some(given) = sent.get(index) else { return false };
        let parameter = expected.starts_with('{') && expected.ends_with('}');
        if (parameter && given.is_empty()) || (!parameter && expected != given) {
            return false;
        }
    }
    pattern.len() == sent.len()
}

/// A request as API Gateway has it when it calls the authorizer.
#[derive(Debug, Clone)]
pub struct GatewayRequest<'a> {
    pub route_key: &'a str,
    pub method: &'a str,
    pub raw_path: &'a str,
    pub raw_query: &'a str,
    /// Header names as sent; API Gateway lowercases them and joins repeats with commas.
    pub headers: &'a [(String, String)],
    pub request_id: &'a str,
}

impl<'a> GatewayRequest<'a> {
    /// A request without a query string (`with_query` adds one).
    pub fn new(
        route_key: &'a str,
        method: &'a str,
        raw_path: &'a str,
        headers: &'a [(String, String)],
        request_id: &'a str,
    ) -> Self {
        Self { route_key, method, raw_path, raw_query: "", headers, request_id }
    }

    pub fn with_query(mut self, raw_query: &'a str) -> Self {
        self.raw_query = raw_query;
        self
    }

    /// The `Authorization` header, API Gateway's identity source here, when the request has one.
    pub fn identity(&self) -> Option<String> {
        let values: Vec<&str> = self
            .headers
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case("authorization"))
            .map(|(_, value)| value.as_str())
            .collect();
        (!values.is_empty()).then(|| values.join(","))
    }

    /// The payload-2.0 authorizer event API Gateway sends for it.
    pub fn authorizer_event(&self) -> Value {
        let mut headers = Map::new();
        for (name, value) in self.headers {
            let name = name.to_ascii_lowercase();
            let joined = match headers.get(&name).and_then(Value::as_str) {
                Some(earlier) => format!("{earlier},{value}"),
                None => value.clone(),
            };
            headers.insert(name, Value::String(joined));
        }
        let identity: Vec<String> = self.identity().into_iter().collect();
        json!({
            "version": "2.0",
            "type": "REQUEST",
            "routeArn": format!("arn:aws:execute-api:us-east-1:000000000000:local/$default/{}{}", self.method, self.raw_path),
            "identitySource": identity,
            "routeKey": self.route_key,
            "rawPath": self.raw_path,
            "rawQueryString": self.raw_query,
            "headers": headers,
            "requestContext": {
                "accountId": "000000000000",
                "apiId": "local",
                "domainName": "127.0.0.1",
                "http": { "method": self.method, "path": self.raw_path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "" },
                "requestId": self.request_id,
                "routeKey": self.route_key,
                "stage": "$default",
            },
        })
    }
}

/// What API Gateway does with a request once the authorizer has answered, or was not asked.
#[derive(Debug, Clone, PartialEq)]
pub enum Gate {
    /// No identity source: refused without asking the authorizer.
    Unauthorized,
    Forbidden,
    /// The authorizer failed, or answered something API Gateway cannot read.
    ServerError,
    /// The integration runs, with the authorizer's context.
    Integration {
        context: Map<String, Value>,
    },
}

impl Gate {
    /// The authorizer's answer (`Err` for an invocation error) as API Gateway reads it.
    pub fn of_answer<E>(answer: Result<&Value, E>) -> Self {
        let Ok(answer) = answer else { return Gate::ServerError };
        match answer.get("isAuthorized") {
            Some(Value::Bool(true)) => {
                let context = answer.get("context").and_then(Value::as_object).cloned().unwrap_or_default();
                Gate::Integration { context }
            }
            Some(Value::Bool(false)) => Gate::Forbidden,
            _ => Gate::ServerError,
        }
    }

    /// API Gateway's own answer, or the stub integration's: an echo of the route and the context.
    pub fn response(&self, route_key: &str) -> (u16, Value) {
        match self {
            Gate::Unauthorized => (401, json!({ "message": "Unauthorized" })),
            Gate::Forbidden => (403, json!({ "message": "Forbidden" })),
            Gate::ServerError => (500, json!({ "message": "Internal Server Error" })),
            Gate::Integration { context } => (
                200,
                json!({
                    "message": "The protected integration ran.",
                    "routeKey": route_key,
                    "authorizer": { "lambda": context },
                }),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_like_an_http_api() {
        let api = ProtectedApi::new(["GET /reports/{id}", "POST /users/invitations", "ANY /files/{proxy+}"]);
        assert_eq!(api.route_key("GET", "/reports/7").as_deref(), Some("GET /reports/{id}"));
        assert_eq!(api.route_key("GET", "/reports/7/").as_deref(), Some("GET /reports/{id}"));
        assert_eq!(api.route_key("GET", "/reports/"), None);
        assert_eq!(api.route_key("POST", "/reports/7"), None);
        assert_eq!(api.route_key("POST", "/users/invitations").as_deref(), Some("POST /users/invitations"));
        assert_eq!(api.route_key("ANY", "/files/a/b").as_deref(), Some("ANY /files/{proxy+}"));
        assert_eq!(api.route_key("GET", "/other"), None);
        let with_default = ProtectedApi::new(["GET /a", "$default"]);
        assert_eq!(with_default.route_key("PUT", "/anything").as_deref(), Some("$default"));
    }

    #[test]
    fn only_a_boolean_true_lets_a_request_through() {
        let allow = json!({ "isAuthorized": true, "context": { "userId": "u" } });
        assert!(matches!(Gate::of_answer::<()>(Ok(&allow)), Gate::Integration { .. }));
        assert_eq!(Gate::of_answer::<()>(Ok(&json!({ "isAuthorized": false }))), Gate::Forbidden);
        for malformed in [json!({ "isAuthorized": "true" }), json!({}), json!([true]), json!(null)] {
            assert_eq!(Gate::of_answer::<()>(Ok(&malformed)), Gate::ServerError, "{malformed}");
        }
        assert_eq!(Gate::of_answer(Err(())), Gate::ServerError);
    }

    #[test]
    fn the_event_carries_the_identity_and_lowercase_joined_headers() {
        let headers = [
            ("Authorization".to_owned(), "Bearer a".to_owned()),
            ("X-Y".to_owned(), "1".to_owned()),
            ("x-y".to_owned(), "2".to_owned()),
        ];
        let request = GatewayRequest::new("GET /a", "GET", "/a", &headers, "r");
        let event = request.authorizer_event();
        assert_eq!(event["identitySource"], json!(["Bearer a"]));
        assert_eq!(event["headers"], json!({ "authorization": "Bearer a", "x-y": "1,2" }));
        assert_eq!(event["routeKey"], "GET /a");
    }
}
