//! The frame every endpoint answers in: its route and body-size checks, the time budget, the
//! request id and trace, the one log line and one metrics line per request, and the response.
//! An endpoint brings its route, its `process`, its refusals (one enum per API, mapped to that
//! API's error shape in one place) and its success (what to answer, log and count).
//!
//! - [`routes`]: the route table.
//! - [`body`]: size limit, content type, JSON.
//! - [`deadline`]: the time budget.
//! - [`response`]: JSON responses and their headers.

pub mod body;
pub mod deadline;
pub mod response;
pub mod routes;

use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;

use self::response::json_response;
pub use self::routes::{Matched, Route};
use crate::store::StoreError;
use crate::store::idempotency::{StoredAnswer, is_valid_key};
use crate::store::timing::timing_dynamodb;
use crate::telemetry::log::{self, ChangeSummary, Completed};
use crate::telemetry::metrics::{Activity, Metrics};
use crate::telemetry::xray::TraceHeader;

/// An endpoint: its route, and the work it does for a request that reached it.
pub trait Endpoint: Sync {
    const ROUTE: &'static Route;
    /// What its metrics line counts beyond every endpoint's metrics.
    const ACTIVITY: Activity;
    type Refusal: Refusal;
    type Success: Success;

    /// The endpoint's own checks and work, after the frame matched the route and, for a route
    /// that reads a body, checked the body's size.
    fn process(&self, call: &Call<'_>) -> impl Future<Output = Result<Self::Success, Self::Refusal>> + Send;
}

/// A request as the endpoint sees it, with what the frame learned of it first.
#[derive(Debug)]
pub struct Call<'a> {
    pub request: &'a Request,
    pub request_id: &'a str,
    /// The binary serving it, for the audit trail.
    pub endpoint: &'static str,
    pub matched: Matched,
}

/// The refusals every endpoint shares. Each API renders them in its own error shape.
#[derive(Debug)]
pub enum Common {
    RouteNotFound,
    PayloadTooLarge,
    /// DynamoDB throttling or contention that outlasted every retry: 503 with `Retry-After`.
    Throttled(StoreError),
    Backend(StoreError),
}

impl From<StoreError> for Common {
    fn from(error: StoreError) -> Self {
        if error.is_throttling() { Common::Throttled(error) } else { Common::Backend(error) }
    }
}

impl Common {
    pub fn status(&self) -> u16 {
        match self {
            Common::RouteNotFound => 404,
            Common::PayloadTooLarge => 413,
            Common::Throttled(_) => 503,
            Common::Backend(_) => 500,
        }
    }

    pub fn outcome(&self) -> &'static str {
        match self {
            Common::RouteNotFound => "route_not_found",
            Common::PayloadTooLarge => "payload_too_large",
            Common::Throttled(_) => "throttled",
            Common::Backend(_) => "backend_failure",
        }
    }

    pub fn backend_failure(&self) -> Option<&StoreError> {
        match self {
            Common::Throttled(failure) | Common::Backend(failure) => Some(failure),
            _ => None,
        }
    }
}

/// An API's refusal of a request: its status, its body, and how it is logged.
pub trait Refusal: From<Common> + From<StoreError> + Send {
    fn status(&self) -> u16;
    /// A short, stable name for the log line.
    fn outcome(&self) -> &'static str;
    fn to_response(&self) -> Response<Body>;
    /// The backend failure behind a 500 or 503, to log in full.
    fn backend_failure(&self) -> Option<&StoreError>;
}

/// An endpoint's answer to a request it served.
pub trait Success: Send {
    fn to_response(&self) -> Response<Body>;
    /// A short, stable name for the log line.
    fn outcome(&self) -> &'static str;
    /// The change it made, for the audit log line and the change counters; none for a read.
    fn change(&self) -> Option<&ChangeSummary> {
        None
    }
}

/// A change's answer: the change that landed (its 200 body, and what to log and count about
/// it), or the first answer an `Idempotency-Key` already had, given again.
#[derive(Debug)]
pub enum Changed<B> {
    Applied { body: B, summary: ChangeSummary },
    Replayed(StoredAnswer),
}

impl<B: Serialize + Send> Success for Changed<B> {
    fn to_response(&self) -> Response<Body> {
        match self {
            Changed::Applied { body, .. } => json_response(200, body),
            Changed::Replayed(stored) => response::replayed(stored.status, stored.body.clone()),
        }
    }

    fn outcome(&self) -> &'static str {
        match self {
            Changed::Applied { summary, .. } => summary.outcome(),
            Changed::Replayed(_) => "replayed",
        }
    }

    fn change(&self) -> Option<&ChangeSummary> {
        match self {
            Changed::Applied { summary, .. } => Some(summary),
            Changed::Replayed(_) => None,
        }
    }
}

/// An `Idempotency-Key` header that is not 1 to 255 visible ASCII characters, or is sent twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MalformedKey;

/// The `Idempotency-Key` a write request carries, if any.
pub fn idempotency_key(request: &Request) -> Result<Option<&str>, MalformedKey> {
    let mut values = request.headers().get_all("idempotency-key").iter();
    let Some(value) = values.next() else { return Ok(None) };
    if values.next().is_some() {
        return Err(MalformedKey);
    }
    value.to_str().ok().filter(|key| is_valid_key(key)).map(Some).ok_or(MalformedKey)
}

/// A read's answer: its 200 body, and its log line's outcome.
#[derive(Debug)]
pub struct Read<B> {
    pub body: B,
    pub outcome: &'static str,
}

impl<B: Serialize + Send> Success for Read<B> {
    fn to_response(&self) -> Response<Body> {
        json_response(200, &self.body)
    }

    fn outcome(&self) -> &'static str {
        self.outcome
    }
}

/// An endpoint as a function runs it: built once per process, it answers every request.
#[derive(Debug)]
pub struct Frame<E> {
    endpoint: E,
    metrics: Metrics,
}

impl<E: Endpoint> Frame<E> {
    pub fn new(endpoint: E) -> Self {
        Self { endpoint, metrics: Metrics::Off }
    }

    /// Where each request's metrics go; none unless set.
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    pub fn endpoint(&self) -> &E {
        &self.endpoint
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Runs the endpoint within the request's time budget and answers: its success or its
    /// refusal. Past the budget the answer is the endpoint's 500. Either way one log line and one
    /// metrics line record the request, and a change also gets its audit log line. Never fails
    /// and never panics on any input.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        let started = Instant::now();
        let request_id = request_id(&request);
        let budget = deadline::budget(&request);
        let trace = trace_header(&request).and_then(TraceHeader::parse);
        let trace_id = trace.as_ref().map(|trace| trace.root.clone());
        let work = self.checked(&request, &request_id);
        let (result, dynamodb) = match tokio::time::timeout(budget, timing_dynamodb(trace, work)).await {
            Ok(done) => done,
            Err(_) => {
                let late = StoreError::new("request", format!("no answer within the {} ms budget", budget.as_millis()));
                (Err(E::Refusal::from(late)), started.elapsed())
            }
        };
        let (response, status, outcome) = match &result {
            Ok(success) => (success.to_response(), 200, success.outcome()),
            Err(refusal) => {
                if let Some(failure) = refusal.backend_failure() {
                    log::backend_failure(E::ROUTE.binary, &request_id, failure);
                }
                (refusal.to_response(), refusal.status(), refusal.outcome())
            }
        };
        let completed = Completed {
            endpoint: E::ROUTE.binary,
            activity: E::ACTIVITY,
            request_id: &request_id,
            trace_id: trace_id.as_deref(),
            status,
            outcome,
            latency: started.elapsed(),
            dynamodb,
            change: result.as_ref().ok().and_then(Success::change),
        };
        log::completed(&completed);
        self.metrics.record(&completed);
        response
    }

    async fn checked(&self, request: &Request, request_id: &str) -> Result<E::Success, E::Refusal> {
        let matched = E::ROUTE.matches(request).ok_or(Common::RouteNotFound)?;
        if E::ROUTE.reads_body() && body::is_too_large(request.body()) {
            return Err(Common::PayloadTooLarge.into());
        }
        self.endpoint.process(&Call { request, request_id, endpoint: E::ROUTE.binary, matched }).await
    }
}

/// Any endpoint's frame, for a server that routes among several (local-api).
pub trait Routed: Send + Sync {
    fn route(&self) -> &'static Route;
    fn answer(&self, request: Request) -> Pin<Box<dyn Future<Output = Response<Body>> + Send + '_>>;
}

impl<E: Endpoint + Send> Routed for Frame<E> {
    fn route(&self) -> &'static Route {
        E::ROUTE
    }

    fn answer(&self, request: Request) -> Pin<Box<dyn Future<Output = Response<Body>> + Send + '_>> {
        Box::pin(self.handle(request))
    }
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
