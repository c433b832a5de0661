//! The frame both endpoints run their own logic in: the time budget, the one log line, the
//! response. Each endpoint's error enum says how it answers through [`Refusal`].

use std::future::Future;
use std::time::{Duration, Instant};

use lambda_http::{Body, Response};
use serde::Serialize;

use crate::request_log;
use crate::response::json_response;
use crate::store::StoreError;

/// An endpoint's refusal of a request: its status, its body, and how it is logged.
pub trait Refusal: From<StoreError> {
    fn status(&self) -> u16;
    /// A short, stable name for the log line.
    fn outcome(&self) -> &'static str;
    fn to_response(&self) -> Response<Body>;
    /// The backend failure behind a 500, to log in full.
    fn backend_failure(&self) -> Option<&StoreError>;
}

/// Runs `work` within `budget` and answers: 200 with its body, or its refusal. Past the budget
/// the answer is the endpoint's 500. Either way one log line records the request.
pub async fn answer<S: Serialize, E: Refusal>(
    endpoint: &'static str,
    request_id: &str,
    budget: Duration,
    work: impl Future<Output = Result<S, E>>,
) -> Response<Body> {
    let started = Instant::now();
    let result = tokio::time::timeout(budget, work).await.unwrap_or_else(|_| {
        Err(E::from(StoreError::new("request", format!("no answer within the {} ms budget", budget.as_millis()))))
    });
    let (response, status, outcome) = match result {
        Ok(body) => (json_response(200, &body), 200, "granted"),
        Err(refusal) => {
            if let Some(failure) = refusal.backend_failure() {
                request_log::backend_failure(endpoint, request_id, failure);
            }
            (refusal.to_response(), refusal.status(), refusal.outcome())
        }
    };
    request_log::completed(endpoint, request_id, status, outcome, started.elapsed());
    response
}
