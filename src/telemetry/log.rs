//! Logging: the subscriber every binary installs, and the one log line per request (request id,
//! endpoint, status, outcome, latency). Nothing from the `Authorization` header reaches a log.

use std::str::FromStr;
use std::time::Duration;

use tracing::Level;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::fmt;
use tracing_subscriber::prelude::*;

use crate::store::StoreError;
use crate::store::change::Action;

/// Like lambda_http's default subscriber (Lambda's `AWS_LAMBDA_LOG_FORMAT=JSON` and
/// `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, else INFO), with two differences: lambda_runtime's
/// TRACE events are dropped whatever the level, because they print each raw event with its
/// `Authorization` header; and no ANSI colours, which CloudWatch would show as garbage.
pub fn init() {
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|format| format.eq_ignore_ascii_case("json"));
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|level| LevelFilter::from_str(&level).ok())
        .unwrap_or(LevelFilter::INFO);
    let levels = EnvFilter::builder().with_default_directive(level.into()).from_env_lossy();
    let no_raw_events = filter_fn(|metadata| !is_raw_event_dump(metadata.target(), *metadata.level()));
    let text = (!json).then(|| fmt::layer().with_target(false).without_time().with_ansi(false));
    // Flattened, so a log pipeline filters on `$.request_id`, `$.log_type` and the like; timed,
    // because a JSON line is read on its own, away from CloudWatch's ingestion time.
    let json = json.then(|| {
        fmt::layer().json().flatten_event(true).with_current_span(false).with_span_list(false).with_target(false)
    });
    tracing_subscriber::registry().with(levels).with(no_raw_events).with(text).with(json).init();
}

fn is_raw_event_dump(target: &str, level: Level) -> bool {
    level == Level::TRACE && target.starts_with("lambda_runtime")
}

/// What an endpoint does, and so which counters its metrics line carries beyond every
/// endpoint's: a change endpoint counts its changes and its no-ops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    Change(Action),
    Read,
}

impl Activity {
    /// The names of the counters of changes that changed something and of no-ops.
    pub fn counters(self) -> Option<[&'static str; 2]> {
        match self {
            Activity::Change(Action::Grant) => Some(["Grants", "NoOpGrants"]),
            Activity::Change(Action::Revoke) => Some(["Revokes", "NoOpRevokes"]),
            Activity::Read => None,
        }
    }
}

/// A request once answered: what its log line and its metrics line say.
#[derive(Debug)]
pub struct Completed<'a> {
    pub endpoint: &'static str,
    pub activity: Activity,
    pub request_id: &'a str,
    /// X-Ray's trace id (the header's `Root`), when Lambda or the caller passed one.
    pub trace_id: Option<&'a str>,
    pub status: u16,
    pub outcome: &'static str,
    pub latency: Duration,
    /// Of `latency`, the time spent waiting on DynamoDB.
    pub dynamodb: Duration,
    pub change: Option<&'a ChangeSummary>,
}

/// A change that landed, for its audit log line.
#[derive(Debug, Clone)]
pub struct ChangeSummary {
    pub action: Action,
    pub actor: String,
    pub target: String,
    /// As stored: normalised and deduplicated.
    pub permissions: Vec<String>,
    /// False when nothing needed changing (a grant's target held them all, a revoke's none).
    pub changed: bool,
}

impl ChangeSummary {
    /// The request line's outcome.
    pub fn outcome(&self) -> &'static str {
        match (self.action, self.changed) {
            (Action::Grant, true) => "granted",
            (Action::Grant, false) => "already_held",
            (Action::Revoke, true) => "revoked",
            (Action::Revoke, false) => "not_held",
        }
    }
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

/// The request's line; a change also gets an audit line (`log_type` = `audit`) that a log
/// subscription or metric filter can select on its own.
pub fn completed(request: &Completed<'_>) {
    let Completed { endpoint, request_id, status, outcome, .. } = *request;
    let trace_id = request.trace_id.unwrap_or("-");
    let (latency_us, dynamodb_us) = (micros(request.latency), micros(request.dynamodb));
    if let Some(change) = request.change {
        let (target, permissions_requested) = (change.target.as_str(), change.permissions.len());
        tracing::info!(
            request_id,
            trace_id,
            endpoint,
            status,
            outcome,
            latency_us,
            dynamodb_us,
            target,
            permissions_requested,
            "request completed"
        );
        let (actor, permissions, changed) = (change.actor.as_str(), change.permissions.join(","), change.changed);
        let permissions = permissions.as_str();
        let verb = match change.action {
            Action::Grant => "granted",
            Action::Revoke => "revoked",
        };
        tracing::info!(
            log_type = "audit",
            request_id,
            trace_id,
            endpoint,
            action = change.action.as_str(),
            actor,
            target,
            permissions,
            changed,
            "permissions {verb}"
        );
    } else if status >= 500 {
        tracing::error!(request_id, trace_id, endpoint, status, outcome, latency_us, dynamodb_us, "request failed");
    } else {
        tracing::info!(request_id, trace_id, endpoint, status, outcome, latency_us, dynamodb_us, "request completed");
    }
}

/// An authorizer's decision once answered: what its log line and its metrics line say.
#[derive(Debug)]
pub struct Decided<'a> {
    pub endpoint: &'static str,
    pub request_id: &'a str,
    pub trace_id: Option<&'a str>,
    /// The route key as the event named it (shortened for the log), if it named one.
    pub route_key: Option<&'a str>,
    /// The user, once its token verified.
    pub user: Option<&'a str>,
    /// `Some(true)` allowed, `Some(false)` denied, `None` a backend failure (an invocation error).
    pub allowed: Option<bool>,
    pub outcome: &'static str,
    pub latency: Duration,
    pub dynamodb: Duration,
}

/// Longest route key a log line repeats: an event's is API Gateway's, but a hand-made one may
/// be anything.
const ROUTE_KEY_LOG_CHARS: usize = 256;

/// The decision's one line: never the token, only who it named once verified.
pub fn decided(decision: &Decided<'_>) {
    let Decided { endpoint, request_id, outcome, .. } = *decision;
    let trace_id = decision.trace_id.unwrap_or("-");
    let route_key: String = decision.route_key.unwrap_or("-").chars().take(ROUTE_KEY_LOG_CHARS).collect();
    let user = decision.user.unwrap_or("-");
    let (latency_us, dynamodb_us) = (micros(decision.latency), micros(decision.dynamodb));
    match decision.allowed {
        Some(allowed) => tracing::info!(
            request_id,
            trace_id,
            endpoint,
            route_key,
            user,
            allowed,
            outcome,
            latency_us,
            dynamodb_us,
            "authorizer decision"
        ),
        None => tracing::error!(
            request_id,
            trace_id,
            endpoint,
            route_key,
            user,
            outcome,
            latency_us,
            dynamodb_us,
            "authorizer failed"
        ),
    }
}

/// A backend failure, with its detail, tied to the request by its id.
pub fn backend_failure(endpoint: &'static str, request_id: &str, error: &StoreError) {
    tracing::error!(request_id, endpoint, error = %error, "backend failure");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_lambda_runtime_trace_is_dropped() {
        assert!(is_raw_event_dump("lambda_runtime::layers::api_response", Level::TRACE));
        assert!(!is_raw_event_dump("lambda_runtime::runtime", Level::DEBUG));
        assert!(!is_raw_event_dump("permissions_service::telemetry::log", Level::TRACE));
    }
}
