//! API Gateway's view of a request: which route it is for, and what API Gateway itself answers
//! when no route matches. Behind API Gateway only the declared route reaches each function; the
//! checks here make a function invoked with a sample event, `cargo lambda watch` or a
//! misconfigured route answer as API Gateway would instead of doing something else.

use lambda_http::http::Method;
use lambda_http::{Body, Request, RequestExt, Response};

use crate::response::json_response;

/// The segments that precede `{user_uuid}` in the org endpoint's path.
const ORG_PREFIX: [&str; 3] = ["organizations", "users", "permissions"];
const ADMIN_PATH: [&str; 2] = ["user", "add-permissions"];

/// API Gateway's own answer for an unknown route or method.
pub fn not_found() -> Response<Body> {
    json_response(404, &serde_json::json!({"message": "Not Found"}))
}

/// The path as the client sent it, without the stage prefix lambda_http adds. Matching is on the
/// path's last segments, so a REST API stage, a custom-domain base path or the
/// `/lambda-url/<function>` prefix of `cargo lambda watch` all route alike.
fn segments(request: &Request) -> Vec<&str> {
    let path = request.raw_http_path();
    let path = if path.is_empty() { request.uri().path() } else { path };
    let path = path.strip_suffix('/').unwrap_or(path);
    path.split('/').collect()
}

/// `Some(user_uuid as sent)` when the request is for `PATCH /organizations/users/permissions/{user_uuid}`
/// with or without the trailing slash. The path parameter API Gateway extracted wins; without one
/// (a function URL event) the segment is taken from the path.
pub fn org_user_permissions_target(request: &Request) -> Option<String> {
    if request.method() != Method::PATCH {
        return None;
    }
    let segments = segments(request);
    let [.., a, b, c, user_uuid] = segments.as_slice() else { return None };
    if [*a, *b, *c] != ORG_PREFIX || user_uuid.is_empty() {
        return None;
    }
    let from_gateway = request.path_parameters_ref().and_then(|params| params.first("user_uuid"));
    Some(from_gateway.unwrap_or(user_uuid).to_owned())
}

/// Whether the request is for `PUT /user/add-permissions`.
pub fn is_user_add_permissions(request: &Request) -> bool {
    request.method() == Method::PUT && segments(request).ends_with(&ADMIN_PATH)
}

/// The id that ties a response to its log lines: Lambda's request id, else API Gateway's.
pub fn request_id(request: &Request) -> String {
    if let Some(context) = request.lambda_context_ref()
        && !context.request_id.is_empty()
    {
        return context.request_id.clone();
    }
    use lambda_http::request::RequestContext;
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.request_id.clone(),
        Some(RequestContext::ApiGatewayV1(context)) => context.request_id.clone(),
        _ => None,
    }
    .unwrap_or_else(|| "-".to_owned())
}

/// The X-Ray trace header: Lambda's for this invocation, else the one API Gateway (or a caller
/// of local-api) sent.
pub fn trace_header(request: &Request) -> Option<&str> {
    if let Some(context) = request.lambda_context_ref()
        && let Some(trace_id) = context.xray_trace_id.as_deref().filter(|id| !id.is_empty())
    {
        return Some(trace_id);
    }
    request.headers().get("x-amzn-trace-id").and_then(|value| value.to_str().ok())
}
