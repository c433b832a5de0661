//! CloudWatch metrics as Embedded Metric Format (EMF): one JSON line on stdout per request,
//! which CloudWatch Logs turns into metrics with no API call and no agent. Written by hand rather
//! than through a metrics crate: one fixed line per request needs no registry or aggregation, and
//! costs nothing at init.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

pub use super::log::Activity;
use super::log::{Completed, Decided};
use crate::config::optional;

/// The namespace when `METRICS_NAMESPACE` is unset.
pub const DEFAULT_NAMESPACE: &str = "PermissionsService";

/// The metrics every request line declares, in its order, with their units; an endpoint's own
/// counters ([`Activity::counters`]) follow `Requests`.
pub fn declared(activity: Activity) -> Vec<(&'static str, &'static str)> {
    let mut metrics = vec![("Requests", "Count")];
    metrics.extend(activity.counters().into_iter().flatten().map(|name| (name, "Count")));
    metrics.extend([
        ("ClientErrors", "Count"),
        ("ServerErrors", "Count"),
        ("Throttled", "Count"),
        ("Latency", "Milliseconds"),
        ("DynamoDBLatency", "Milliseconds"),
        ("ColdStart", "Count"),
    ]);
    metrics
}

/// Where a process's metrics go: stdout in the Lambda functions and local-api, nowhere in
/// tests that drive the handlers directly.
#[derive(Debug, Clone, Default)]
pub enum Metrics {
    #[default]
    Off,
    Emf {
        namespace: String,
    },
}

/// Only the first request a process serves is a cold start.
static SERVED_BEFORE: AtomicBool = AtomicBool::new(false);

impl Metrics {
    /// EMF to stdout, in `METRICS_NAMESPACE` (default [`DEFAULT_NAMESPACE`]).
    pub fn emf_from_env(lookup: &impl Fn(&str) -> Option<String>) -> Self {
        Metrics::Emf { namespace: optional(lookup, "METRICS_NAMESPACE").unwrap_or_else(|| DEFAULT_NAMESPACE.into()) }
    }

    pub fn record(&self, request: &Completed<'_>) {
        self.write(|namespace, cold_start| emf_line(namespace, request, cold_start, SystemTime::now()));
    }

    /// Writes the line `line` makes from the namespace and whether this is the process's first.
    fn write(&self, line: impl FnOnce(&str, bool) -> String) {
        let Metrics::Emf { namespace } = self else { return };
        let cold_start = !SERVED_BEFORE.swap(true, Ordering::Relaxed);
        let line = line(namespace, cold_start);
        // A closed stdout must not fail the request: the metric is lost, the answer is not.
        let _ = writeln!(std::io::stdout().lock(), "{line}");
    }
}

/// The metrics an authorizer's decision line declares, in its order.
pub const DECISION_METRICS: [(&str, &str); 6] = [
    ("Allowed", "Count"),
    ("Denied", "Count"),
    ("AuthorizerErrors", "Count"),
    ("Latency", "Milliseconds"),
    ("DynamoDBLatency", "Milliseconds"),
    ("ColdStart", "Count"),
];

impl Metrics {
    /// One EMF line for an authorizer's decision, under the same `Endpoint` dimension as the
    /// endpoints' lines (its binary), so one dashboard and one latency alarm serve all.
    pub fn record_decision(&self, decision: &Decided<'_>) {
        self.write(|namespace, cold_start| decision_line(namespace, decision, cold_start, SystemTime::now()));
    }
}

#[derive(Serialize)]
struct DecisionLine<'a> {
    #[serde(rename = "_aws")]
    aws: Metadata<'a>,
    #[serde(rename = "Endpoint")]
    endpoint: &'static str,
    #[serde(rename = "Allowed")]
    allowed: u8,
    #[serde(rename = "Denied")]
    denied: u8,
    #[serde(rename = "AuthorizerErrors")]
    errors: u8,
    #[serde(flatten)]
    timing: Timing<'a>,
    outcome: &'static str,
}

/// What every line ends with: the times and the cold start, then (not metrics) the properties
/// CloudWatch Logs Insights can search a line by.
#[derive(Serialize)]
struct Timing<'a> {
    #[serde(rename = "Latency")]
    latency: f64,
    #[serde(rename = "DynamoDBLatency")]
    dynamodb_latency: f64,
    #[serde(rename = "ColdStart")]
    cold_start: u8,
    request_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    trace_id: Option<&'a str>,
}

/// The EMF line for one authorizer decision.
pub fn decision_line(namespace: &str, decision: &Decided<'_>, cold_start: bool, now: SystemTime) -> String {
    let line = DecisionLine {
        aws: metadata(namespace, DECISION_METRICS.to_vec(), now),
        endpoint: decision.endpoint,
        allowed: u8::from(decision.allowed == Some(true)),
        denied: u8::from(decision.allowed == Some(false)),
        errors: u8::from(decision.allowed.is_none()),
        timing: Timing {
            latency: millis(decision.latency),
            dynamodb_latency: millis(decision.dynamodb),
            cold_start: u8::from(cold_start),
            request_id: decision.request_id,
            trace_id: decision.trace_id,
        },
        outcome: decision.outcome,
    };
    serde_json::to_string(&line).unwrap_or_default()
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn metadata<'a>(namespace: &'a str, metrics: Vec<(&'static str, &'static str)>, now: SystemTime) -> Metadata<'a> {
    Metadata {
        timestamp: now.duration_since(UNIX_EPOCH).map_or(0, |since| u64::try_from(since.as_millis()).unwrap_or(0)),
        cloudwatch_metrics: [Directive {
            namespace,
            dimensions: [["Endpoint"]],
            metrics: metrics.into_iter().map(|(name, unit)| Metric { name, unit }).collect(),
        }],
    }
}

#[derive(Serialize)]
struct EmfLine<'a> {
    #[serde(rename = "_aws")]
    aws: Metadata<'a>,
    #[serde(rename = "Endpoint")]
    endpoint: &'static str,
    #[serde(rename = "Requests")]
    requests: u8,
    #[serde(flatten)]
    changes: Counters,
    #[serde(rename = "ClientErrors")]
    client_errors: u8,
    #[serde(rename = "ServerErrors")]
    server_errors: u8,
    #[serde(rename = "Throttled")]
    throttled: u8,
    #[serde(flatten)]
    timing: Timing<'a>,
    status: u16,
}

/// An endpoint's own counters, in its order: `[changed, no-op]` under their names.
struct Counters(Option<([&'static str; 2], [u8; 2])>);

impl Serialize for Counters {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        if let Some((names, values)) = &self.0 {
            for (name, value) in names.iter().zip(values) {
                map.serialize_entry(name, value)?;
            }
        }
        map.end()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Metadata<'a> {
    timestamp: u64,
    #[serde(rename = "CloudWatchMetrics")]
    cloudwatch_metrics: [Directive<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Directive<'a> {
    namespace: &'a str,
    dimensions: [[&'static str; 1]; 1],
    metrics: Vec<Metric>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Metric {
    name: &'static str,
    unit: &'static str,
}

/// The EMF line for one request.
pub fn emf_line(namespace: &str, request: &Completed<'_>, cold_start: bool, now: SystemTime) -> String {
    let line = EmfLine {
        aws: metadata(namespace, declared(request.activity), now),
        endpoint: request.endpoint,
        requests: 1,
        changes: Counters(request.activity.counters().map(|names| {
            let changed = request.change.map(|change| change.changed);
            (names, [u8::from(changed == Some(true)), u8::from(changed == Some(false))])
        })),
        client_errors: u8::from((400..500).contains(&request.status)),
        server_errors: u8::from(request.status >= 500),
        throttled: u8::from(request.status == 503),
        timing: Timing {
            latency: millis(request.latency),
            dynamodb_latency: millis(request.dynamodb),
            cold_start: u8::from(cold_start),
            request_id: request.request_id,
            trace_id: request.trace_id,
        },
        status: request.status,
    };
    serde_json::to_string(&line).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::store::change::Action;
    use crate::telemetry::log::{ChangeSummary, Decided};

    fn parsed(status: u16, changed: Option<bool>, cold_start: bool) -> Value {
        let grant = changed.map(|changed| ChangeSummary {
            action: Action::Grant,
            actor: "a".into(),
            target: "t".into(),
            permissions: vec!["p".into()],
            changed,
        });
        let request = Completed {
            endpoint: "org-user-permissions",
            activity: Activity::Change(Action::Grant),
            request_id: "req-1",
            trace_id: Some("1-5759e988-bd862e3fe1be46a994272793"),
            status,
            outcome: "any",
            latency: Duration::from_micros(3_250),
            dynamodb: Duration::from_micros(2_500),
            change: grant.as_ref(),
        };
        let now = UNIX_EPOCH + Duration::from_millis(1_795_435_200_123);
        serde_json::from_str(&emf_line("Ns", &request, cold_start, now)).unwrap()
    }

    #[test]
    fn the_line_is_valid_emf_declaring_every_metric_it_carries() {
        let line = parsed(200, Some(true), true);
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(line["_aws"]["Timestamp"], 1_795_435_200_123u64);
        assert_eq!(directive["Namespace"], "Ns");
        assert_eq!(directive["Dimensions"], json!([["Endpoint"]]));
        assert_eq!(line["Endpoint"], "org-user-permissions");
        let declared = directive["Metrics"].as_array().unwrap();
        assert_eq!(declared.len(), super::declared(Activity::Change(Action::Grant)).len());
        for metric in declared {
            let name = metric["Name"].as_str().unwrap();
            assert!(line[name].is_number(), "{name} is declared but not set");
            assert!(["Count", "Milliseconds"].contains(&metric["Unit"].as_str().unwrap()));
        }
        assert_eq!(line["Latency"], 3.25);
        assert_eq!(line["DynamoDBLatency"], 2.5);
        assert_eq!(
            (line["Grants"].as_u64(), line["NoOpGrants"].as_u64(), line["ColdStart"].as_u64()),
            (Some(1), Some(0), Some(1))
        );
        assert_eq!(line["request_id"], "req-1");
        assert_eq!(line["trace_id"], "1-5759e988-bd862e3fe1be46a994272793");
    }

    #[test]
    fn a_decision_line_is_valid_emf_counting_its_verdict_once() {
        let decision = |allowed: Option<bool>| {
            let decided = Decided {
                endpoint: "permissions-authorizer",
                request_id: "req-2",
                trace_id: None,
                route_key: Some("GET /x"),
                user: None,
                allowed,
                outcome: "any",
                latency: Duration::from_micros(1_500),
                dynamodb: Duration::from_micros(1_000),
            };
            let line: Value = serde_json::from_str(&decision_line("Ns", &decided, false, UNIX_EPOCH)).unwrap();
            let declared = line["_aws"]["CloudWatchMetrics"][0]["Metrics"].as_array().unwrap().clone();
            for metric in &declared {
                let name = metric["Name"].as_str().unwrap();
                assert!(line[name].is_number(), "{name} is declared but not set");
            }
            assert_eq!(declared.len(), DECISION_METRICS.len());
            assert_eq!(line["Endpoint"], "permissions-authorizer");
            assert_eq!(line["Latency"], 1.5);
            ["Allowed", "Denied", "AuthorizerErrors"].map(|name| line[name].as_u64().unwrap())
        };
        assert_eq!(decision(Some(true)), [1, 0, 0]);
        assert_eq!(decision(Some(false)), [0, 1, 0]);
        assert_eq!(decision(None), [0, 0, 1]);
    }

    #[test]
    fn outcomes_count_where_they_belong() {
        let counts = |line: Value| {
            ["Grants", "NoOpGrants", "ClientErrors", "ServerErrors", "Throttled"]
                .map(|name| line[name].as_u64().unwrap())
        };
        assert_eq!(counts(parsed(200, Some(false), false)), [0, 1, 0, 0, 0]);
        assert_eq!(counts(parsed(404, None, false)), [0, 0, 1, 0, 0]);
        assert_eq!(counts(parsed(500, None, false)), [0, 0, 0, 1, 0]);
        assert_eq!(counts(parsed(503, None, false)), [0, 0, 0, 1, 1]);
    }
}
