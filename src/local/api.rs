//! A local HTTP server in front of every endpoint, routing as the API Gateway HTTP API of
//! `template.yaml` does: the route table's routes (each with and without its trailing slash, its
//! path parameter filled in), `{"message":"Not Found"}` for anything else, and a fresh request id
//! per request. The handlers are the very ones the Lambda binaries run.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lambda_http::aws_lambda_events::query_map::QueryMap;
use lambda_http::http::HeaderValue;
use lambda_http::{Body, Context, Request, RequestExt, Response};
use tokio::net::TcpListener;

use crate::admin::AdminApi;
use crate::frame::body::MAX_BODY_BYTES;
use crate::frame::routes::{self, Matched, Route};
use crate::frame::{Frame, Routed};
use crate::org::OrgApi;
use crate::telemetry::metrics::Metrics;
use crate::{admin, org};

pub struct LocalApi {
    endpoints: Vec<Box<dyn Routed>>,
}

impl LocalApi {
    /// Every endpoint of the route table, over the two APIs' state. One process serves them all
    /// over DynamoDB Local, which runs transactions on one item side by side where DynamoDB
    /// takes them one at a time, so changes to one user take turns here (`Changes::taking_turns`).
    pub fn new(org: OrgApi, admin: AdminApi, metrics: Metrics) -> Self {
        let (org, admin) = (Arc::new(org.taking_turns_per_user()), Arc::new(admin.taking_turns_per_user()));
        let endpoints: Vec<Box<dyn Routed>> = vec![
            Box::new(Frame::new(org::Add(org.clone())).with_metrics(metrics.clone())),
            Box::new(Frame::new(org::Remove(org.clone())).with_metrics(metrics.clone())),
            Box::new(Frame::new(org::List(org)).with_metrics(metrics.clone())),
            Box::new(Frame::new(admin::Add(admin.clone())).with_metrics(metrics.clone())),
            Box::new(Frame::new(admin::Remove(admin.clone())).with_metrics(metrics.clone())),
            Box::new(Frame::new(admin::List(admin.clone())).with_metrics(metrics.clone())),
            Box::new(Frame::new(admin::History(admin.clone())).with_metrics(metrics.clone())),
            Box::new(Frame::new(admin::Check(admin)).with_metrics(metrics)),
        ];
        Self { endpoints }
    }

    /// The routes it serves, in the route table's order.
    pub fn routes(&self) -> Vec<&'static Route> {
        self.endpoints.iter().map(|endpoint| endpoint.route()).collect()
    }
}

impl LocalServer for LocalApi {
    async fn answer(&self, request: hyper::Request<Incoming>) -> hyper::Response<Full<Bytes>> {
        let request_id = uuid::Uuid::now_v7().to_string();
        let (method, path) = (request.method().clone(), request.uri().path().to_owned());
        let routed = self.endpoints.iter().find_map(|endpoint| {
            let matched = endpoint.route().matches_path(&method, &path)?;
            Some((endpoint, matched))
        });
        let response = match routed {
            None => routes::not_found(),
            Some((endpoint, matched)) => {
                let request = to_lambda_request(request, &request_id, endpoint.route(), matched).await;
                endpoint.answer(request).await
            }
        };
        to_hyper_response(response, &request_id)
    }
}

/// A server of the local run: how it answers one request; it serves HTTP/1.1 with that.
pub trait LocalServer: Send + Sync + Sized + 'static {
    fn answer(&self, request: hyper::Request<Incoming>) -> impl Future<Output = hyper::Response<Full<Bytes>>> + Send;

    /// Serves until `shutdown` completes; connections are handled concurrently.
    fn serve(
        self: Arc<Self>,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> impl Future<Output = std::io::Result<()>> + Send {
        async move {
            tokio::pin!(shutdown);
            loop {
                let (stream, _) = tokio::select! {
                    accepted = listener.accept() => accepted?,
                    () = &mut shutdown => return Ok(()),
                };
                let server = self.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        let server = server.clone();
                        async move { Ok::<_, Infallible>(server.answer(request).await) }
                    });
                    // A client that hangs up mid-request is its own business, not a server error.
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
        }
    }
}

/// Reads the body up to one byte past the limit: enough for the handler to refuse an oversized
/// body with its own 413, without buffering whatever a client cares to send.
async fn to_lambda_request(
    request: hyper::Request<Incoming>,
    request_id: &str,
    route: &Route,
    matched: Matched,
) -> Request {
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
    // As API Gateway hands a function the query: parsed from the raw string, repeats kept apart.
    let query: QueryMap = parts.uri.query().unwrap_or_default().parse().unwrap_or_default();
    let mut request = Request::from_parts(parts, body)
        .with_raw_http_path(path)
        .with_query_string_parameters(query)
        .with_lambda_context(context);
    if let (Some(name), Some(value)) = (route.parameter_name(), matched.parameter) {
        request = request.with_path_parameters(std::collections::HashMap::from([(name.to_owned(), value)]));
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
