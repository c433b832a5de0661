//! API Gateway events, built the way API Gateway sends them for a route of the route table.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_http::aws_lambda_events::query_map::QueryMap;
use lambda_http::{Context, Request, RequestExt};
use permissions_service::frame::Route;
use permissions_service::frame::routes::{
    ADMIN_ADD, ADMIN_CHECK, ADMIN_HISTORY, ADMIN_LIST, ADMIN_REMOVE, ORG_ADD, ORG_LIST, ORG_REMOVE,
};
use permissions_service::lambda_entry::to_request;
use serde_json::{Value, json};

/// An API Gateway event, built the way API Gateway sends it and parsed by lambda_http.
#[derive(Debug, Clone)]
pub struct Event {
    method: String,
    path: String,
    route_key: String,
    path_parameters: Option<Value>,
    headers: Vec<(String, String)>,
    query: String,
    body: Option<String>,
    base64: bool,
    pub request_id: String,
}

impl Event {
    pub fn new(method: &str, path: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        Self {
            method: method.to_owned(),
            path: path.to_owned(),
            route_key: format!("{method} {path}"),
            path_parameters: None,
            headers: Vec::new(),
            query: String::new(),
            body: None,
            base64: false,
            request_id: format!("test-request-{}", NEXT.fetch_add(1, Ordering::Relaxed)),
        }
    }

    /// The org endpoint's route as the template declares it, with API Gateway's path parameter.
    /// A request for `route` as API Gateway delivers it: its route key, and for a route with a
    /// path parameter, the parameter API Gateway extracted and the path in the form the org API's
    /// docs write it (with its trailing slash).
    pub fn route(route: &Route, parameter: Option<&str>) -> Self {
        let mut event = Self::new(route.method.as_str(), route.path);
        event.route_key = format!("{} {}", route.method, route.path);
        if let (Some(name), Some(value)) = (route.parameter_name(), parameter) {
            event.path = format!("{}/", route.path.replace(&format!("{{{name}}}"), value));
            event.path_parameters = Some(json!({ name: value }));
        }
        event
    }

    /// The org API's add route for `user_uuid`.
    pub fn org(user_uuid: &str) -> Self {
        Self::route(&ORG_ADD, Some(user_uuid))
    }

    /// The admin API's add route.
    pub fn admin() -> Self {
        Self::route(&ADMIN_ADD, None)
    }

    /// The org API's remove route for `user_uuid`.
    pub fn org_remove(user_uuid: &str) -> Self {
        Self::route(&ORG_REMOVE, Some(user_uuid))
    }

    /// The admin API's remove route.
    pub fn admin_remove() -> Self {
        Self::route(&ADMIN_REMOVE, None)
    }

    /// The org API's list route for `user_uuid`.
    pub fn org_list(user_uuid: &str) -> Self {
        Self::route(&ORG_LIST, Some(user_uuid))
    }

    /// The admin API's list route, with its raw query string (`userId=...`).
    pub fn admin_list(query: &str) -> Self {
        Self::route(&ADMIN_LIST, None).query(query)
    }

    /// The admin API's history route, with its raw query string.
    pub fn admin_history(query: &str) -> Self {
        Self::route(&ADMIN_HISTORY, None).query(query)
    }

    /// The admin API's check route.
    pub fn admin_check() -> Self {
        Self::route(&ADMIN_CHECK, None)
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Replaces every earlier value of the header.
    pub fn set_header(mut self, name: &str, value: &str) -> Self {
        self.headers.retain(|(existing, _)| !existing.eq_ignore_ascii_case(name));
        self.header(name, value)
    }

    pub fn token(self, key: &str) -> Self {
        self.header("authorization", &format!("Token {key}"))
    }

    pub fn bearer(self, jwt: &str) -> Self {
        self.header("authorization", &format!("Bearer {jwt}"))
    }

    pub fn json(self, body: &Value) -> Self {
        self.header("content-type", "application/json").body(&body.to_string())
    }

    pub fn body(mut self, body: &str) -> Self {
        self.body = Some(body.to_owned());
        self
    }

    pub fn binary_body(mut self, bytes: &[u8]) -> Self {
        use base64::Engine;
        self.body = Some(base64::engine::general_purpose::STANDARD.encode(bytes));
        self.base64 = true;
        self
    }

    /// The raw query string, as in `a=1&b=2`.
    pub fn query(mut self, query: &str) -> Self {
        self.query = query.to_owned();
        self
    }

    pub fn without_path_parameters(mut self) -> Self {
        self.path_parameters = None;
        self
    }

    pub fn path(mut self, path: &str) -> Self {
        self.path = path.to_owned();
        self
    }

    pub fn method(mut self, method: &str) -> Self {
        self.method = method.to_owned();
        self
    }

    /// An HTTP API (payload format 2.0) event; repeated headers are joined with commas, as
    /// API Gateway does.
    pub fn http_api(&self) -> Request {
        self.parse(self.http_api_json())
    }

    pub fn rest_api(&self) -> Request {
        self.parse(self.rest_api_json())
    }

    pub fn request_id(mut self, request_id: &str) -> Self {
        self.request_id = request_id.to_owned();
        self
    }

    pub fn http_api_json(&self) -> Value {
        let mut headers = serde_json::Map::new();
        for (name, value) in &self.headers {
            let joined = match headers.get(name) {
                Some(Value::String(previous)) => format!("{previous},{value}"),
                _ => value.clone(),
            };
            headers.insert(name.clone(), Value::String(joined));
        }
        json!({
            "version": "2.0",
            "routeKey": self.route_key,
            "rawPath": self.path,
            "rawQueryString": self.query,
            "headers": headers,
            "pathParameters": self.path_parameters,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "local",
                "domainName": "localhost",
                "domainPrefix": "localhost",
                "http": { "method": self.method, "path": self.path, "protocol": "HTTP/1.1",
                          "sourceIp": "127.0.0.1", "userAgent": "tests" },
                "requestId": format!("apigw-{}", self.request_id),
                "routeKey": self.route_key,
                "stage": "$default",
                "time": "23/Nov/2026:12:00:00 +0000",
                "timeEpoch": 1795435200000u64
            },
            "body": self.body,
            "isBase64Encoded": self.base64
        })
    }

    /// A REST API (payload format 1.0) event, with repeated headers kept apart.
    pub fn rest_api_json(&self) -> Value {
        let mut headers = serde_json::Map::new();
        let mut multi = serde_json::Map::new();
        for (name, value) in &self.headers {
            headers.insert(name.clone(), Value::String(value.clone()));
            let values = multi.entry(name.clone()).or_insert_with(|| json!([]));
            values.as_array_mut().unwrap().push(Value::String(value.clone()));
        }
        let resource = self.route_key.split_once(' ').map(|(_, path)| path).unwrap_or(&self.path);
        // As API Gateway delivers a REST API's query: decoded, the last value of each name in one
        // map and every value in the other.
        let (mut single, mut every) = (serde_json::Map::new(), serde_json::Map::new());
        let parsed: QueryMap = self.query.parse().unwrap_or_default();
        for (name, value) in parsed.iter() {
            single.insert(name.to_owned(), Value::String(value.to_owned()));
            let values = every.entry(name.to_owned()).or_insert_with(|| json!([]));
            values.as_array_mut().unwrap().push(Value::String(value.to_owned()));
        }
        let (single, every) =
            if single.is_empty() { (Value::Null, Value::Null) } else { (Value::Object(single), Value::Object(every)) };
        json!({
            "resource": resource,
            "path": self.path,
            "httpMethod": self.method,
            "headers": headers,
            "multiValueHeaders": multi,
            "queryStringParameters": single,
            "multiValueQueryStringParameters": every,
            "pathParameters": self.path_parameters,
            "stageVariables": null,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "local",
                "resourceId": "abc123",
                "resourcePath": resource,
                "httpMethod": self.method,
                "requestId": format!("apigw-{}", self.request_id),
                "path": format!("/prod{}", self.path),
                "stage": "prod",
                "protocol": "HTTP/1.1",
                "identity": { "sourceIp": "127.0.0.1", "userAgent": "tests" }
            },
            "body": self.body,
            "isBase64Encoded": self.base64
        })
    }

    /// An HTTP API event whose Lambda invocation must end `remaining` from now.
    pub fn http_api_with_deadline_in(&self, remaining: Duration) -> Request {
        let request = self.http_api();
        let mut context = request.lambda_context();
        context.deadline =
            u64::try_from((SystemTime::now() + remaining).duration_since(UNIX_EPOCH).unwrap().as_millis()).unwrap();
        request.with_lambda_context(context)
    }

    /// Through the binaries' own conversion (`lambda_entry::to_request`), so an in-process test
    /// sees exactly the request a deployed function builds from the same event.
    fn parse(&self, event: Value) -> Request {
        let mut context = Context::default();
        context.request_id = self.request_id.clone();
        let (_, request) = to_request(event, context).expect("a valid API Gateway event");
        request
    }
}
