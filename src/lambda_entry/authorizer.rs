//! The Lambda entry of the authorizer: raw JSON in, a simple response out. Not an HTTP endpoint,
//! so no frame: the event is read as untyped JSON (any shape is a denial, never a panic or an
//! error), the decision is made within the invocation's budget, and one log line and one metrics
//! line record it. Only a backend failure, or no decision within the budget, is an invocation
//! error: API Gateway then answers 500, and never allows.

use std::fmt;
use std::time::Instant;

use lambda_http::Context;
use lambda_http::lambda_runtime::{self, Diagnostic, LambdaEvent, service_fn};
use serde_json::Value;

use crate::authorizer::{Authorizer, BINARY, Request};
use crate::config::process_env;
use crate::frame::deadline;
use crate::store::StoreError;
use crate::store::timing::timing_dynamodb;
use crate::telemetry::log::{self, Decided};
use crate::telemetry::metrics::Metrics;
use crate::telemetry::xray::TraceHeader;

/// Serves the authorizer's invocations, with EMF metrics, until the Runtime API goes away.
pub async fn run(authorizer: Authorizer) -> Result<(), lambda_http::Error> {
    let metrics = Metrics::emf_from_env(&process_env);
    let (authorizer, metrics) = (&authorizer, &metrics);
    let service = service_fn(move |invocation: LambdaEvent<Value>| {
        answer(authorizer, metrics, invocation.payload, invocation.context)
    });
    lambda_runtime::run(service).await
}

/// Exactly what [`run`] does with one invocation: the raw event in, the raw answer out.
pub async fn answer(
    authorizer: &Authorizer,
    metrics: &Metrics,
    event: Value,
    context: Context,
) -> Result<Value, AuthorizerFailed> {
    let started = Instant::now();
    let trace = context.xray_trace_id.as_deref().and_then(TraceHeader::parse);
    let trace_id = trace.as_ref().map(|trace| trace.root.clone());
    let request = Request::of(&event);
    let budget = deadline::budget_for_deadline(context.deadline);
    let decide = timing_dynamodb(trace, authorizer.decide(&request));
    let (decided, dynamodb) = match tokio::time::timeout(budget, decide).await {
        Ok(decided) => decided,
        Err(_) => {
            let late = StoreError::new("request", format!("no decision within the {} ms budget", budget.as_millis()));
            (Err(late), started.elapsed())
        }
    };
    let record = |allowed, outcome, user| Decided {
        endpoint: BINARY,
        request_id: &context.request_id,
        trace_id: trace_id.as_deref(),
        route_key: request.route_key,
        user,
        allowed,
        outcome,
        latency: started.elapsed(),
        dynamodb,
    };
    match decided {
        Ok(decision) => {
            let decided = record(Some(decision.is_allowed()), decision.outcome(), decision.user_id());
            log::decided(&decided);
            metrics.record_decision(&decided);
            Ok(decision.to_response())
        }
        Err(failure) => {
            log::backend_failure(BINARY, &context.request_id, &failure);
            let decided = record(None, "backend_failure", None);
            log::decided(&decided);
            metrics.record_decision(&decided);
            Err(AuthorizerFailed)
        }
    }
}

/// The invocation error for a decision that could not be made: API Gateway answers 500.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthorizerFailed;

impl fmt::Display for AuthorizerFailed {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("no decision: the users table could not be read (see the backend failure log line)")
    }
}

impl From<AuthorizerFailed> for Diagnostic {
    fn from(error: AuthorizerFailed) -> Self {
        Diagnostic { error_type: "AuthorizerFailed".into(), error_message: error.to_string() }
    }
}
