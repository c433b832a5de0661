//! The frame both endpoints run their own logic in: the time budget, the log lines, the metrics,
//! the response. Each endpoint's error enum says how it answers through [`Refusal`].

use std::future::Future;
use std::time::Instant;

use lambda_http::{Body, Request, Response};
use serde::Serialize;

use crate::metrics::Metrics;
use crate::request_log::{self, Completed, GrantSummary};
use crate::response::json_response;
use crate::store::{self, StoreError};
use crate::xray::TraceHeader;
use crate::{deadline, routing};

/// An endpoint's refusal of a request: its status, its body, and how it is logged.
pub trait Refusal: From<StoreError> {
    fn status(&self) -> u16;
    /// A short, stable name for the log line.
    fn outcome(&self) -> &'static str;
    fn to_response(&self) -> Response<Body>;
    /// The backend failure behind a 500, to log in full.
    fn backend_failure(&self) -> Option<&StoreError>;
}

/// A grant that landed: the endpoint's 200 body, and what to log and count about it.
#[derive(Debug)]
pub struct Granted<S> {
    pub body: S,
    pub summary: GrantSummary,
}

/// Runs `work` within the request's time budget and answers: 200 with its body, or its refusal.
/// Past the budget the answer is the endpoint's 500. Either way one log line and one metrics line
/// record the request, and a grant also gets its audit log line.
pub async fn answer<S: Serialize, E: Refusal>(
    endpoint: &'static str,
    request: &Request,
    request_id: &str,
    metrics: &Metrics,
    work: impl Future<Output = Result<Granted<S>, E>>,
) -> Response<Body> {
    let started = Instant::now();
    let budget = deadline::budget(request);
    let trace = routing::trace_header(request).and_then(TraceHeader::parse);
    let trace_id = trace.as_ref().map(|trace| trace.root.clone());
    let (result, dynamodb) = match tokio::time::timeout(budget, store::timing_dynamodb(trace, work)).await {
        Ok(done) => done,
        Err(_) => {
            let late = StoreError::new("request", format!("no answer within the {} ms budget", budget.as_millis()));
            (Err(E::from(late)), started.elapsed())
        }
    };
    let (response, status, outcome, summary) = match result {
        Ok(granted) => {
            let outcome = if granted.summary.changed { "granted" } else { "already_held" };
            (json_response(200, &granted.body), 200, outcome, Some(granted.summary))
        }
        Err(refusal) => {
            if let Some(failure) = refusal.backend_failure() {
                request_log::backend_failure(endpoint, request_id, failure);
            }
            (refusal.to_response(), refusal.status(), refusal.outcome(), None)
        }
    };
    let completed = Completed {
        endpoint,
        request_id,
        trace_id: trace_id.as_deref(),
        status,
        outcome,
        latency: started.elapsed(),
        dynamodb,
        grant: summary.as_ref(),
    };
    request_log::completed(&completed);
    metrics.record(&completed);
    response
}
