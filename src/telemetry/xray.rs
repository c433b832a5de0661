//! X-Ray subsegments for the DynamoDB calls, sent as UDP datagrams to the X-Ray daemon that
//! Lambda runs beside a function with active tracing (`AWS_XRAY_DAEMON_ADDRESS`). Written by hand
//! rather than through OpenTelemetry: that needs the ADOT collector layer, with its own cold
//! start, while a subsegment is one small JSON document and one `send_to` per call. Without the
//! daemon's address, or on an unsampled trace, nothing is sent.

use std::net::{SocketAddr, UdpSocket};
use std::sync::OnceLock;
use std::time::SystemTime;

use serde::Serialize;

/// The parts of an `X-Amzn-Trace-Id` / `Lambda-Runtime-Trace-Id` header that matter here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceHeader {
    /// `1-<8 hex>-<24 hex>`: the trace id X-Ray's console searches by.
    pub root: String,
    /// The id of the segment this invocation's work hangs under (Lambda's function segment).
    pub parent: Option<String>,
    pub sampled: bool,
}

impl TraceHeader {
    /// Reads `Root=…;Parent=…;Sampled=…` in any order; `None` without a root.
    pub fn parse(header: &str) -> Option<Self> {
        let mut root = None;
        let mut parent = None;
        let mut sampled = false;
        for part in header.split(';') {
            match part.trim().split_once('=') {
                Some(("Root", value)) if !value.is_empty() => root = Some(value.to_owned()),
                Some(("Parent", value)) if !value.is_empty() => parent = Some(value.to_owned()),
                Some(("Sampled", value)) => sampled = value == "1",
                _ => {}
            }
        }
        Some(Self { root: root?, parent, sampled })
    }
}

/// A finished DynamoDB call, as X-Ray draws it.
#[derive(Debug, Clone)]
pub struct DynamoDbCall<'a> {
    pub operation: &'a str,
    pub table: &'a str,
    pub started: SystemTime,
    pub ended: SystemTime,
    /// The call returned an error (a cancelled transaction included).
    pub failed: bool,
}

#[derive(Serialize)]
struct Subsegment<'a> {
    name: &'static str,
    id: String,
    trace_id: &'a str,
    parent_id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    namespace: &'static str,
    start_time: f64,
    end_time: f64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    error: bool,
    aws: AwsFields<'a>,
}

#[derive(Serialize)]
struct AwsFields<'a> {
    operation: &'a str,
    table_name: &'a str,
}

/// The daemon's UDP address, from `AWS_XRAY_DAEMON_ADDRESS` (`host:port`, or Lambda's
/// `tcp:… udp:…` pair), and a socket to send from; read once per process.
fn daemon() -> Option<&'static (UdpSocket, SocketAddr)> {
    static DAEMON: OnceLock<Option<(UdpSocket, SocketAddr)>> = OnceLock::new();
    DAEMON
        .get_or_init(|| {
            let setting = std::env::var("AWS_XRAY_DAEMON_ADDRESS").ok()?;
            let address = daemon_udp_address(&setting)?;
            let socket = UdpSocket::bind(if address.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }).ok()?;
            socket.set_nonblocking(true).ok()?;
            Some((socket, address))
        })
        .as_ref()
}

fn daemon_udp_address(setting: &str) -> Option<SocketAddr> {
    let udp = setting.split_whitespace().find_map(|part| part.strip_prefix("udp:")).unwrap_or(setting.trim());
    udp.parse().ok()
}

fn seconds(time: SystemTime) -> f64 {
    time.duration_since(SystemTime::UNIX_EPOCH).map_or(0.0, |since| since.as_secs_f64())
}

/// The datagram for one call: the daemon's header line, then the subsegment.
pub fn datagram(trace: &TraceHeader, parent: &str, call: &DynamoDbCall<'_>) -> String {
    let subsegment = Subsegment {
        name: "DynamoDB",
        id: format!("{:016x}", fastrand::u64(..)),
        trace_id: &trace.root,
        parent_id: parent,
        kind: "subsegment",
        namespace: "aws",
        start_time: seconds(call.started),
        end_time: seconds(call.ended),
        error: call.failed,
        aws: AwsFields { operation: call.operation, table_name: call.table },
    };
    let document = serde_json::to_string(&subsegment).unwrap_or_default();
    format!("{{\"format\": \"json\", \"version\": 1}}\n{document}")
}

/// Sends the call's subsegment if the trace is sampled and a daemon is configured. Never blocks
/// and never fails the request: a lost datagram is a gap in a trace, nothing more.
pub fn record(trace: &TraceHeader, call: &DynamoDbCall<'_>) {
    let (Some(parent), true) = (trace.parent.as_deref(), trace.sampled) else { return };
    let Some((socket, address)) = daemon() else { return };
    let _ = socket.send_to(datagram(trace, parent, call).as_bytes(), address);
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::Value;

    use super::*;

    const HEADER: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

    #[test]
    fn reads_lambdas_trace_header() {
        let trace = TraceHeader::parse(HEADER).unwrap();
        assert_eq!(trace.root, "1-5759e988-bd862e3fe1be46a994272793");
        assert_eq!(trace.parent.as_deref(), Some("53995c3f42cd8ad8"));
        assert!(trace.sampled);
        let unsampled = TraceHeader::parse("Sampled=0; Root=1-5759e988-bd862e3fe1be46a994272793").unwrap();
        assert_eq!((unsampled.parent, unsampled.sampled), (None, false));
        assert_eq!(TraceHeader::parse("Parent=53995c3f42cd8ad8;Sampled=1"), None);
        assert_eq!(TraceHeader::parse(""), None);
    }

    #[test]
    fn finds_the_udp_address_in_lambdas_setting() {
        let expected: SocketAddr = "169.254.79.129:2000".parse().unwrap();
        assert_eq!(daemon_udp_address("169.254.79.129:2000"), Some(expected));
        assert_eq!(daemon_udp_address("tcp:169.254.79.129:2000 udp:169.254.79.129:2000"), Some(expected));
        assert_eq!(daemon_udp_address("nonsense"), None);
    }

    #[test]
    fn the_datagram_is_the_daemon_header_and_a_subsegment_of_the_function_segment() {
        let trace = TraceHeader::parse(HEADER).unwrap();
        let started = SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_435_200_000);
        let call = DynamoDbCall {
            operation: "TransactWriteItems",
            table: "users",
            started,
            ended: started + Duration::from_millis(7),
            failed: true,
        };
        let text = datagram(&trace, "53995c3f42cd8ad8", &call);
        let (header, document) = text.split_once('\n').unwrap();
        assert_eq!(serde_json::from_str::<Value>(header).unwrap(), serde_json::json!({"format": "json", "version": 1}));
        let subsegment: Value = serde_json::from_str(document).unwrap();
        assert_eq!(subsegment["type"], "subsegment");
        assert_eq!(subsegment["trace_id"], "1-5759e988-bd862e3fe1be46a994272793");
        assert_eq!(subsegment["parent_id"], "53995c3f42cd8ad8");
        assert_eq!(subsegment["id"].as_str().unwrap().len(), 16);
        assert_eq!((subsegment["name"].as_str(), subsegment["namespace"].as_str()), (Some("DynamoDB"), Some("aws")));
        assert_eq!(subsegment["aws"]["operation"], "TransactWriteItems");
        assert_eq!(subsegment["error"], true);
        let took = subsegment["end_time"].as_f64().unwrap() - subsegment["start_time"].as_f64().unwrap();
        assert!((took - 0.007).abs() < 1e-6, "{took}");
    }
}
