//! A local HTTP server in front of the two handlers, routing as the API Gateway HTTP API of
//! `template.yaml` does: the two routes (the PATCH one with and without its trailing slash, its
//! `{user_uuid}` path parameter filled in), `{"message":"Not Found"}` for anything else, and a
//! fresh request id per request. The handlers are the very ones the Lambda binaries run.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lambda_http::http::{HeaderValue, Method};
use lambda_http::{Body, Context, Request, RequestExt, Response};
use tokio::net::TcpListener;

use crate::body::MAX_BODY_BYTES;
use crate::org_user_permissions::OrgUserPermissions;
use crate::routing;
use crate::user_add_permissions::UserAddPermissions;

pub struct LocalApi {
    pub org: OrgUserPermissions,
    pub admin: UserAddPermissions,
}

enum Route {
    OrgUserPermissions { user_uuid: String },
    UserAddPermissions,
}

/// API Gateway's route match: exact paths, one optional trailing slash.
fn route(method: &Method, path: &str) -> Option<Route> {
    let path = path.strip_suffix('/').unwrap_or(path);
    match (method, path.strip_prefix("/organizations/users/permissions/")) {
        (&Method::PATCH, Some(user_uuid)) if !user_uuid.is_empty() && !user_uuid.contains('/') => {
            return Some(Route::OrgUserPermissions { user_uuid: user_uuid.to_owned() });
        }
        _ => {}
    }
    (method == Method::PUT && path == "/user/add-permissions").then_some(Route::UserAddPermissions)
}

impl LocalApi {
    /// Serves until `shutdown` completes; connections are handled concurrently.
    pub async fn serve(
        self: Arc<Self>,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        tokio::pin!(shutdown);
        loop {
            let (stream, _) = tokio::select! {
                accepted = listener.accept() => accepted?,
                () = &mut shutdown => return Ok(()),
            };
            let api = self.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let api = api.clone();
                    async move { Ok::<_, Infallible>(api.answer(request).await) }
                });
                // A client that hangs up mid-request is its own business, not a server error.
                let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    }

    async fn answer(&self, request: hyper::Request<Incoming>) -> hyper::Response<Full<Bytes>> {
        let request_id = uuid::Uuid::now_v7().to_string();
        let response = match route(request.method(), request.uri().path()) {
            None => routing::not_found(),
            Some(route) => {
                let request = to_lambda_request(request, &request_id, &route).await;
                match route {
                    Route::OrgUserPermissions { .. } => self.org.handle(request).await,
                    Route::UserAddPermissions => self.admin.handle(request).await,
                }
            }
        };
        to_hyper_response(response, &request_id)
    }
}

/// Reads the body up to one byte past the limit: enough for the handler to refuse an oversized
/// body with its own 413, without buffering whatever a client cares to send.
async fn to_lambda_request(request: hyper::Request<Incoming>, request_id: &str, route: &Route) -> Request {
    let (parts, mut incoming) = request.into_parts();
    let mut bytes = Vec::new();
    while bytes.len() <= MAX_BODY_BYTES {
        match incoming.frame().await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    bytes.extend_from_slice(&data);
                }
            }
            _ => break,
        }
    }
    let body = if bytes.is_empty() { Body::Empty } else { Body::Binary(bytes) };
    let path = parts.uri.path().to_owned();
    let mut context = Context::default();
    context.request_id = request_id.to_owned();
    // As Lambda would: the caller's trace header if it sent one, else a new X-Ray-style id.
    context.xray_trace_id = Some(
        parts
            .headers
            .get("x-amzn-trace-id")
            .and_then(|value| value.to_str().ok())
            .map_or_else(|| format!("Root=1-{:08x}-{:024x}", unix_seconds(), fastrand::u128(..) >> 32), str::to_owned),
    );
    let mut request = Request::from_parts(parts, body).with_raw_http_path(path).with_lambda_context(context);
    if let Route::OrgUserPermissions { user_uuid } = route {
        request = request
            .with_path_parameters(std::collections::HashMap::from([("user_uuid".to_owned(), user_uuid.clone())]));
    }
    request
}

fn unix_seconds() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |since| since.as_secs())
}

fn to_hyper_response(response: Response<Body>, request_id: &str) -> hyper::Response<Full<Bytes>> {
    let (mut parts, body) = response.into_parts();
    if let Ok(value) = HeaderValue::from_str(request_id) {
        // The header API Gateway's HTTP APIs add, so a local caller can find its log line.
        parts.headers.insert("apigw-requestid", value);
    }
    let bytes = match body {
        Body::Text(text) => Bytes::from(text),
        Body::Binary(bytes) => Bytes::from(bytes),
        _ => Bytes::new(),
    };
    hyper::Response::from_parts(parts, Full::new(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routed(method: Method, path: &str) -> Option<String> {
        route(&method, path).map(|route| match route {
            Route::OrgUserPermissions { user_uuid } => format!("org:{user_uuid}"),
            Route::UserAddPermissions => "admin".to_owned(),
        })
    }

    #[test]
    fn routes_like_the_http_api() {
        assert_eq!(routed(Method::PATCH, "/organizations/users/permissions/abc/").as_deref(), Some("org:abc"));
        assert_eq!(routed(Method::PATCH, "/organizations/users/permissions/abc").as_deref(), Some("org:abc"));
        assert_eq!(routed(Method::PUT, "/user/add-permissions").as_deref(), Some("admin"));
        assert_eq!(routed(Method::PUT, "/user/add-permissions/").as_deref(), Some("admin"));
        assert_eq!(routed(Method::GET, "/organizations/users/permissions/abc/"), None);
        assert_eq!(routed(Method::PATCH, "/organizations/users/permissions/"), None);
        assert_eq!(routed(Method::PATCH, "/organizations/users/permissions/a/b"), None);
        assert_eq!(routed(Method::PUT, "/x/user/add-permissions"), None);
        assert_eq!(routed(Method::POST, "/user/add-permissions"), None);
    }
}
