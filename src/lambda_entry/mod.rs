//! The Lambda entry path of every endpoint binary: the Runtime API loop, the event made into a
//! request, the handler's response made into API Gateway's reply.
//!
//! It replaces `lambda_http::run`, whose event-to-request step panics on input a client controls
//! (a `"` or `<` in the raw query string, a malformed `Host` or `x-forwarded-proto`, see
//! docs/security.md): the caller got API Gateway's bare 500, and with `panic = "abort"` the
//! instance died, so one unauthenticated request bought a cold start. Here the raw event is ours
//! from the first byte: lambda_runtime hands over plain JSON, and [`event`] builds the request
//! with no step that can panic, repairing what the `http` crate refuses.
//!
//! A binary is `lambda_entry::run(Endpoint::from(Api::from_env().await?))`: this wraps the
//! endpoint in its [`Frame`], with EMF metrics. The authorizer, which answers authorizer events
//! rather than HTTP requests, has its own entry beside this one: [`authorizer`].

pub mod authorizer;
mod event;
mod reply;
mod uri;

use std::fmt;
use std::time::{Duration, Instant};

use lambda_http::Context;
use lambda_http::lambda_runtime::{self, Diagnostic, LambdaEvent, service_fn};
use serde_json::{Value, json};

pub use self::event::{EventError, PayloadFormat, to_request};
use crate::config::process_env;
use crate::frame::response::json_response;
use crate::frame::{Endpoint, Frame};
use crate::telemetry::log::{self, Completed};
use crate::telemetry::metrics::Metrics;
use crate::telemetry::xray::TraceHeader;

/// Serves `endpoint`'s invocations, with EMF metrics, until the Runtime API goes away.
pub async fn run<E: Endpoint>(endpoint: E) -> Result<(), lambda_http::Error> {
    let frame = Frame::new(endpoint).with_metrics(Metrics::emf_from_env(&process_env));
    let frame = &frame;
    let service =
        service_fn(move |invocation: LambdaEvent<Value>| answer_event(frame, invocation.payload, invocation.context));
    lambda_runtime::run(service).await
}

/// Exactly what [`run`] does with one invocation: the raw event in, the raw reply out.
///
/// An API Gateway event always gets an HTTP answer in its own payload format: the handler's, or
/// for an event no client could have sent, 400 `{"message": "Bad Request"}` (API Gateway's own
/// words for a request it cannot read). Any other event is an invocation error: no HTTP client
/// waits for it, and an error is what a misrouted trigger or a console test should show.
pub async fn answer_event<E: Endpoint>(
    frame: &Frame<E>,
    event: Value,
    context: Context,
) -> Result<Value, NotApiGateway> {
    let started = Instant::now();
    let request_id = context.request_id.clone();
    let trace_header = context.xray_trace_id.clone();
    match event::to_request(event, context) {
        // Boxed: the handler's future nested in lambda_runtime's layers (or a caller's own) makes
        // a type deeper than rustc's default limit; one allocation per event is nothing.
        Ok((format, request)) => Ok(reply::to_gateway(format, Box::pin(frame.handle(request)).await)),
        Err(EventError::Unreadable { format, part }) => {
            let trace_id = trace_header.as_deref().and_then(TraceHeader::parse).map(|trace| trace.root);
            let endpoint = E::ROUTE.binary;
            tracing::warn!(request_id, endpoint, part, "an API Gateway event no client could have sent");
            let completed = Completed {
                endpoint,
                activity: E::ACTIVITY,
                request_id: &request_id,
                trace_id: trace_id.as_deref(),
                status: 400,
                outcome: "unreadable_event",
                latency: started.elapsed(),
                dynamodb: Duration::ZERO,
                change: None,
            };
            log::completed(&completed);
            frame.metrics().record(&completed);
            Ok(reply::to_gateway(format, json_response(400, &json!({"message": "Bad Request"}))))
        }
        Err(EventError::NotApiGateway) => {
            tracing::warn!(
                request_id,
                endpoint = E::ROUTE.binary,
                "not an API Gateway event: answered with an invocation error"
            );
            Err(NotApiGateway)
        }
    }
}

/// The invocation error for an event that is not from API Gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotApiGateway;

impl fmt::Display for NotApiGateway {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("this function answers API Gateway events (payload format 2.0 or 1.0) only")
    }
}

impl From<NotApiGateway> for Diagnostic {
    fn from(error: NotApiGateway) -> Self {
        Diagnostic { error_type: "NotApiGateway".into(), error_message: error.to_string() }
    }
}
