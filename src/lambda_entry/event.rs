//! An API Gateway event (payload format 2.0 or 1.0) made into the `Request` the handlers read,
//! with everything lambda_http's conversion gives them (raw path, path and query parameters, stage
//! variables, request context, headers, body, the Lambda context and its X-Ray header) but no step
//! that can panic. lambda_http `expect`s and `unwrap`s its way through the URI, the Host and
//! `x-forwarded-proto` headers and base64 bodies; here each is repaired or refused instead.
//!
//! Repaired, so the handler still gives its own answer:
//! - path and raw query bytes the `http` crate refuses: percent-encoded in the URI only
//!   (see [`super::uri`]); the raw path and the query parameters keep the text as sent;
//! - a `Host` that is no URI authority: the API's own domain name stands in, else none;
//! - an `x-forwarded-proto` other than `http` or `https`: `https`;
//! - a header value byte `HeaderValue` refuses (a control character but tab): replaced by U+FFFD,
//!   which every header check of ours refuses as it would the original byte;
//! - a header name that is no HTTP token: dropped, since no handler can ask for it by name;
//! - a request context that does not parse: left out (the request id then comes from Lambda).
//!
//! Refused as [`EventError::Unreadable`]: a method that is no HTTP token, a body marked base64
//! that is not, a URI over the `http` crate's 64 KiB, or a field of the wrong JSON type. API
//! Gateway never sends any of these; they come only from a hand-made event.

use std::collections::HashMap;
use std::str::FromStr;

use base64::Engine;
use lambda_http::aws_lambda_events::apigw::{ApiGatewayProxyRequestContext, ApiGatewayV2httpRequestContext};
use lambda_http::aws_lambda_events::query_map::QueryMap;
use lambda_http::http::header::{COOKIE, HOST};
use lambda_http::http::uri::{Authority, PathAndQuery, Scheme};
use lambda_http::http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Context, Request, RequestExt};
use serde_json::{Map, Value};

use super::uri;

/// Which of API Gateway's Lambda payload formats an event uses; its answer must use the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadFormat {
    /// HTTP API payload 2.0 (also Lambda function URLs).
    V2,
    /// REST API, or HTTP API payload 1.0.
    V1,
}

/// Why an event did not become a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventError {
    /// Neither payload format: no HTTP client is waiting for this answer.
    NotApiGateway,
    /// The format's shape, but `part` holds what no HTTP request could have produced.
    Unreadable { format: PayloadFormat, part: &'static str },
}

/// The format, told by the field each one alone has.
pub fn payload_format(event: &Value) -> Option<PayloadFormat> {
    if event.get("version").and_then(Value::as_str) == Some("2.0") {
        Some(PayloadFormat::V2)
    } else if event.get("httpMethod").is_some() {
        Some(PayloadFormat::V1)
    } else {
        None
    }
}

/// The request a function builds from an API Gateway event, with `context` attached: the one
/// conversion every binary runs, public so the tests build their requests the same way.
pub fn to_request(event: Value, context: Context) -> Result<(PayloadFormat, Request), EventError> {
    let format = payload_format(&event).ok_or(EventError::NotApiGateway)?;
    let Value::Object(fields) = event else { return Err(EventError::NotApiGateway) };
    let mut fields = Fields { fields, format };
    let parts = match format {
        PayloadFormat::V2 => fields.v2()?,
        PayloadFormat::V1 => fields.v1()?,
    };
    Ok((format, parts.into_request(context, format)?))
}

/// What both formats are read into before the request is built.
struct Parts {
    method: Method,
    raw_path: String,
    stage: Option<String>,
    /// The URI's query, as a string the client could have sent.
    query: String,
    query_parameters: QueryMap,
    path_parameters: HashMap<String, String>,
    stage_variables: HashMap<String, String>,
    headers: HeaderMap,
    domain_name: Option<String>,
    body: Body,
    context: Option<RequestContext>,
}

impl Parts {
    fn into_request(self, lambda: Context, format: PayloadFormat) -> Result<Request, EventError> {
        let uri = request_uri(
            &with_stage(self.stage.as_deref(), &self.raw_path),
            &self.query,
            &self.headers,
            self.domain_name.as_deref(),
        )
        .ok_or(EventError::Unreadable { format, part: "uri" })?;
        let mut headers = self.headers;
        // As lambda_http's adapter does: Lambda's trace header wins over the one the client sent.
        if let Some(trace) = lambda.xray_trace_id.as_deref().and_then(|id| HeaderValue::from_str(id).ok()) {
            headers.insert(HeaderName::from_static("x-amzn-trace-id"), trace);
        }
        let mut request = Request::new(self.body);
        *request.method_mut() = self.method;
        *request.uri_mut() = uri;
        *request.headers_mut() = headers;
        let mut request = request
            .with_raw_http_path(self.raw_path)
            .with_query_string_parameters(self.query_parameters)
            .with_path_parameters(self.path_parameters)
            .with_stage_variables(self.stage_variables)
            .with_lambda_context(lambda);
        if let Some(context) = self.context {
            request = request.with_request_context(context);
        }
        Ok(request)
    }
}

/// An event's fields, taken out one by one; a field of the wrong JSON type is unreadable, an
/// absent or null one is empty (format 1.0 sends `null` for what a request lacks).
struct Fields {
    fields: Map<String, Value>,
    format: PayloadFormat,
}

impl Fields {
    fn unreadable(&self, part: &'static str) -> EventError {
        EventError::Unreadable { format: self.format, part }
    }

    fn take(&mut self, name: &str) -> Option<Value> {
        self.fields.remove(name).filter(|value| !value.is_null())
    }

    fn string(&mut self, name: &'static str) -> Result<Option<String>, EventError> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(_) => Err(self.unreadable(name)),
        }
    }

    fn flag(&mut self, name: &'static str) -> Result<bool, EventError> {
        match self.take(name) {
            None => Ok(false),
            Some(Value::Bool(flag)) => Ok(flag),
            Some(_) => Err(self.unreadable(name)),
        }
    }

    fn strings(&mut self, name: &'static str) -> Result<HashMap<String, String>, EventError> {
        let Some(value) = self.take(name) else { return Ok(HashMap::new()) };
        let Value::Object(map) = value else { return Err(self.unreadable(name)) };
        map.into_iter()
            .map(|(key, value)| match value {
                Value::String(text) => Ok((key, text)),
                _ => Err(self.unreadable(name)),
            })
            .collect()
    }

    fn string_lists(&mut self, name: &'static str) -> Result<HashMap<String, Vec<String>>, EventError> {
        let Some(value) = self.take(name) else { return Ok(HashMap::new()) };
        let Value::Object(map) = value else { return Err(self.unreadable(name)) };
        let mut lists = HashMap::with_capacity(map.len());
        for (key, value) in map {
            let Value::Array(items) = value else { return Err(self.unreadable(name)) };
            let texts = items
                .into_iter()
                .map(|item| match item {
                    Value::String(text) => Ok(text),
                    _ => Err(self.unreadable(name)),
                })
                .collect::<Result<Vec<_>, _>>()?;
            lists.insert(key, texts);
        }
        Ok(lists)
    }

    fn list(&mut self, name: &'static str) -> Result<Vec<String>, EventError> {
        let Some(value) = self.take(name) else { return Ok(Vec::new()) };
        let Value::Array(items) = value else { return Err(self.unreadable(name)) };
        items
            .into_iter()
            .map(|item| match item {
                Value::String(text) => Ok(text),
                _ => Err(self.unreadable(name)),
            })
            .collect()
    }

    fn body(&mut self) -> Result<Body, EventError> {
        let base64 = self.flag("isBase64Encoded")?;
        match self.string("body")? {
            None => Ok(Body::Empty),
            Some(text) if !base64 => Ok(Body::Text(text)),
            Some(encoded) => base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .map(Body::Binary)
                .map_err(|_| self.unreadable("body")),
        }
    }

    fn request_context(&mut self) -> Result<Map<String, Value>, EventError> {
        match self.take("requestContext") {
            None => Ok(Map::new()),
            Some(Value::Object(context)) => Ok(context),
            Some(_) => Err(self.unreadable("requestContext")),
        }
    }

    fn v2(&mut self) -> Result<Parts, EventError> {
        let context = self.request_context()?;
        let method = context.get("http").and_then(|http| http.get("method"));
        let method = method.and_then(Value::as_str).and_then(|method| Method::from_bytes(method.as_bytes()).ok());
        let method = method.ok_or_else(|| self.unreadable("method"))?;
        let (stage, domain_name) = stage_and_domain(&context);
        let raw_path = self.string("rawPath")?.unwrap_or_default();
        // The raw string, not API Gateway's comma-joined `queryStringParameters`, as lambda_http
        // does (aws-lambda-rust-runtime #470): repeated and comma-holding values stay apart.
        let raw_query = self.string("rawQueryString")?;
        let query_parameters = match &raw_query {
            Some(raw) => QueryMap::from_str(raw).unwrap_or_default(),
            None => QueryMap::from(self.strings("queryStringParameters")?),
        };
        let mut headers = header_map(self.strings("headers")?.into_iter().map(|(name, value)| (name, vec![value])));
        let cookies = self.list("cookies")?;
        if !cookies.is_empty()
            && let Some(cookie) = header_value(&cookies.join("; "))
        {
            headers.insert(COOKIE, cookie);
        }
        Ok(Parts {
            method,
            raw_path,
            stage,
            query: raw_query.map(|raw| uri::query(&raw).into_owned()).unwrap_or_default(),
            query_parameters,
            path_parameters: self.strings("pathParameters")?,
            stage_variables: self.strings("stageVariables")?,
            headers,
            domain_name,
            body: self.body()?,
            context: serde_json::from_value::<ApiGatewayV2httpRequestContext>(Value::Object(context))
                .ok()
                .map(RequestContext::ApiGatewayV2),
        })
    }

    fn v1(&mut self) -> Result<Parts, EventError> {
        let method = self.string("httpMethod")?.and_then(|method| Method::from_bytes(method.as_bytes()).ok());
        let method = method.ok_or_else(|| self.unreadable("method"))?;
        let context = self.request_context()?;
        let (stage, domain_name) = stage_and_domain(&context);
        let raw_path = self.string("path")?.unwrap_or_default();
        // Format 1.0 has the parameters decoded, and every value of a repeated one in the
        // multi-value map; re-encoded form-urlencoded, they always make a valid URI query.
        let single = self.strings("queryStringParameters")?;
        let multi = self.string_lists("multiValueQueryStringParameters")?;
        let query_parameters = if multi.is_empty() { QueryMap::from(single) } else { QueryMap::from(multi) };
        // Every value of a repeated header is in `multiValueHeaders`, only the last in `headers`:
        // lambda_http let `headers` replace them, which hid a second `Authorization` header.
        let single = self.strings("headers")?;
        let mut all = self.string_lists("multiValueHeaders")?;
        for (name, value) in single {
            if !all.keys().any(|known| known.eq_ignore_ascii_case(&name)) {
                all.insert(name, vec![value]);
            }
        }
        Ok(Parts {
            method,
            raw_path,
            stage,
            query: query_parameters.to_query_string(),
            query_parameters,
            path_parameters: self.strings("pathParameters")?,
            stage_variables: self.strings("stageVariables")?,
            headers: header_map(all.into_iter()),
            domain_name,
            body: self.body()?,
            context: serde_json::from_value::<ApiGatewayProxyRequestContext>(Value::Object(context))
                .ok()
                .map(RequestContext::ApiGatewayV1),
        })
    }
}

fn stage_and_domain(context: &Map<String, Value>) -> (Option<String>, Option<String>) {
    let text = |name: &str| context.get(name).and_then(Value::as_str).map(str::to_owned);
    (text("stage"), text("domainName"))
}

/// The header map; names are lowercased, and one sent in two spellings keeps both values.
fn header_map(headers: impl Iterator<Item = (String, Vec<String>)>) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, values) in headers {
        let Ok(name) = HeaderName::from_bytes(name.as_bytes()) else { continue };
        for value in values.iter().filter_map(|value| header_value(value)) {
            map.append(&name, value);
        }
    }
    map
}

/// `HeaderValue` refuses control characters but tab. Each becomes U+FFFD: the header is kept,
/// so a request that sent it is still judged with it, and no check of ours accepts either.
fn header_value(text: &str) -> Option<HeaderValue> {
    if let Ok(value) = HeaderValue::from_str(text) {
        return Some(value);
    }
    let refused = |c: char| (c < ' ' && c != '\t') || c == '\u{7f}';
    let repaired: String = text.chars().map(|c| if refused(c) { char::REPLACEMENT_CHARACTER } else { c }).collect();
    HeaderValue::from_str(&repaired).ok()
}

/// lambda_http's stage prefix on the URI path (`AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH` turns it
/// off), kept so that `uri().path()` reads as it did.
fn with_stage(stage: Option<&str>, path: &str) -> String {
    match stage {
        _ if std::env::var("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH").is_ok() => path.to_owned(),
        None | Some("$default") => path.to_owned(),
        Some(stage) if path.starts_with(&format!("/{stage}/")) => path.to_owned(),
        Some(stage) => format!("/{stage}{path}"),
    }
}

/// `None` only when the URI, once encoded, is too long for the `http` crate.
fn request_uri(path: &str, query: &str, headers: &HeaderMap, domain_name: Option<&str>) -> Option<Uri> {
    let mut target = uri::path(path);
    if !query.is_empty() {
        target.push('?');
        target.push_str(query);
    }
    let path_and_query = PathAndQuery::try_from(target).ok()?;
    let host = headers.get(HOST).and_then(|host| host.to_str().ok()).and_then(as_authority);
    let Some(authority) = host.or_else(|| domain_name.and_then(as_authority)) else {
        return Uri::builder().path_and_query(path_and_query).build().ok();
    };
    let forwarded = headers.get("x-forwarded-proto").map(|proto| proto.as_bytes());
    let scheme =
        if forwarded.is_some_and(|proto| proto.eq_ignore_ascii_case(b"http")) { Scheme::HTTP } else { Scheme::HTTPS };
    Uri::builder().scheme(scheme).authority(authority).path_and_query(path_and_query).build().ok()
}

/// A host as a `Host` header may carry it: a URI authority without user information.
fn as_authority(host: &str) -> Option<Authority> {
    Authority::from_str(host).ok().filter(|authority| !authority.as_str().contains('@'))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn v2(raw_path: &str, raw_query: &str, headers: Value) -> Value {
        json!({
            "version": "2.0",
            "rawPath": raw_path,
            "rawQueryString": raw_query,
            "headers": headers,
            "requestContext": {
                "domainName": "api.example.com",
                "stage": "$default",
                "requestId": "apigw-1",
                "http": { "method": "PUT", "path": raw_path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1" }
            },
            "isBase64Encoded": false
        })
    }

    fn request(event: Value) -> Request {
        to_request(event, Context::default()).expect("a request").1
    }

    #[test]
    fn bytes_the_uri_refuses_are_encoded_in_the_uri_and_kept_in_the_parameters() {
        let request = request(v2("/user/add-permissions", "q=\"x\"&userId=<64b>&s=a%20b", json!({})));
        assert_eq!(request.uri(), "https://api.example.com/user/add-permissions?q=%22x%22&userId=%3C64b%3E&s=a%20b");
        let parameters = request.query_string_parameters();
        assert_eq!(parameters.first("q"), Some("\"x\""));
        assert_eq!(parameters.first("userId"), Some("<64b>"));
        assert_eq!(parameters.first("s"), Some("a b"));
        assert_eq!(request.raw_http_path(), "/user/add-permissions");
    }

    #[test]
    fn a_malformed_host_or_forwarded_proto_is_neutralised() {
        let headers = json!({ "host": "exa mple/\"", "x-forwarded-proto": "1 bad:" });
        assert_eq!(request(v2("/a", "", headers)).uri(), "https://api.example.com/a");
        let headers = json!({ "host": "user@evil.example", "x-forwarded-proto": "HTTP" });
        assert_eq!(request(v2("/a", "", headers)).uri(), "http://api.example.com/a");
        let mut event = v2("/a b", "", json!({ "host": "<>" }));
        event["requestContext"]["domainName"] = json!("also bad");
        assert_eq!(request(event).uri(), "/a%20b");
    }

    #[test]
    fn refused_header_bytes_become_replacement_characters_and_bad_names_are_dropped() {
        let headers = json!({ "authorization": "Bearer a\u{0}b\r\n", "bad name": "x", "x-ok": "é\tü" });
        let request = request(v2("/a", "", headers));
        assert_eq!(request.headers()["authorization"].as_bytes(), "Bearer a\u{FFFD}b\u{FFFD}\u{FFFD}".as_bytes());
        assert_eq!(request.headers()["x-ok"].as_bytes(), "é\tü".as_bytes());
        assert_eq!(request.headers().len(), 2);
    }

    #[test]
    fn lambdas_trace_header_replaces_the_clients_and_the_context_is_kept() {
        let mut lambda = Context::default();
        lambda.request_id = "lambda-1".into();
        lambda.xray_trace_id = Some("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1".into());
        let event = v2("/a", "", json!({ "x-amzn-trace-id": "Root=forged" }));
        let (_, request) = to_request(event, lambda).unwrap();
        assert_eq!(request.headers()["x-amzn-trace-id"], "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1");
        assert_eq!(request.lambda_context_ref().map(|context| context.request_id.as_str()), Some("lambda-1"));
        let Some(RequestContext::ApiGatewayV2(context)) = request.request_context_ref() else { panic!("no context") };
        assert_eq!(context.request_id.as_deref(), Some("apigw-1"));
    }

    #[test]
    fn format_1_keeps_every_value_of_a_repeated_header() {
        let event = json!({
            "httpMethod": "PATCH",
            "path": "/x",
            "headers": { "Authorization": "Token b" },
            "multiValueHeaders": { "Authorization": ["Token a", "Token b"] },
            "queryStringParameters": { "q": "\"x\" <y>" },
            "requestContext": { "stage": "prod", "requestId": "r" }
        });
        let (format, request) = to_request(event, Context::default()).unwrap();
        assert_eq!(format, PayloadFormat::V1);
        assert_eq!(request.headers().get_all("authorization").iter().count(), 2);
        assert_eq!(request.uri(), "/prod/x?q=%22x%22+%3Cy%3E");
        assert_eq!(request.query_string_parameters().first("q"), Some("\"x\" <y>"));
    }

    #[test]
    fn what_no_request_could_carry_is_unreadable_and_other_events_are_not_ours() {
        let unreadable = |part| Err(EventError::Unreadable { format: PayloadFormat::V2, part });
        let mut event = v2("/a", "", json!({}));
        event["requestContext"]["http"]["method"] = json!("P U T");
        assert_eq!(to_request(event, Context::default()).map(|_| ()), unreadable("method"));
        let mut event = v2("/a", "", json!({}));
        event["body"] = json!("not base64!");
        event["isBase64Encoded"] = json!(true);
        assert_eq!(to_request(event, Context::default()).map(|_| ()), unreadable("body"));
        let event = v2(&"/%".repeat(40_000), "", json!({}));
        assert_eq!(to_request(event, Context::default()).map(|_| ()), unreadable("uri"));
        let event = v2("/a", "", json!({ "x": 1 }));
        assert_eq!(to_request(event, Context::default()).map(|_| ()), unreadable("headers"));
        for other in [json!({ "Records": [] }), json!("text"), json!(null), json!({ "version": "1.0" })] {
            assert_eq!(to_request(other, Context::default()).map(|_| ()), Err(EventError::NotApiGateway));
        }
    }
}
