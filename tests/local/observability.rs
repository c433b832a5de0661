//! What an operator sees: the real `local-api` binary with Lambda's JSON log format. Every log
//! line is one JSON object. Each request has a line with its request id, trace id, endpoint,
//! status, outcome, latency and DynamoDB time, and a grant's line also names the target and the
//! number of permissions. Each grant also has an audit line. Each request writes one CloudWatch
//! EMF line that declares the metrics it carries.

use permissions_service::local::demo;
use serde_json::{Value, json};

use crate::local_api::{Answer, send};
use crate::process::ApiProcess;
use crate::support::TestEnv;

const TRACE: &str = "Root=1-67891233-abcdef012345678912345678";

fn request_id(answer: &Answer) -> String {
    answer.head.lines().find_map(|line| line.strip_prefix("apigw-requestid: ")).unwrap().trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_audit_lines_and_emf_metrics_describe_every_request() {
    let env = TestEnv::with_demo_data().await;
    let server = ApiProcess::start(&env, &[("AWS_LAMBDA_LOG_FORMAT", "JSON"), ("METRICS_NAMESPACE", "Test")]).await;
    let token = format!("Token {}", demo::EDITOR_TOKEN);
    let headers = [("Authorization", token.as_str()), ("Content-Type", "application/json"), ("X-Amzn-Trace-Id", TRACE)];
    let path = format!("/organizations/users/permissions/{}/", demo::TARGET);
    let new_permission = demo::CATALOG[3].0;
    let body = json!({ "permission_uuids": [new_permission, demo::CATALOG[3].0.to_uppercase()] }).to_string();

    let granted = send(&server.address, "PATCH", &path, &headers, &body).await;
    let again = send(&server.address, "PATCH", &path, &headers, &body).await;
    let invalid = send(&server.address, "PATCH", &path, &headers, r#"{"permission_uuids": []}"#).await;
    let admin_jwt = format!("Bearer {}", demo::jwt_for(demo::ADMIN));
    let missing = send(
        &server.address,
        "PUT",
        "/user/add-permissions",
        &[("Authorization", admin_jwt.as_str()), ("Content-Type", "application/json")],
        &json!({ "payload": { "userId": "000000000000000000000000", "permissions": ["compass.x"] } }).to_string(),
    )
    .await;
    assert_eq!([granted.status, again.status, invalid.status, missing.status], [200, 200, 400, 404]);
    let (stdout, stderr) = server.stop();

    let lines: Vec<Value> = stdout
        .lines()
        .chain(stderr.lines())
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not a JSON line: {line}")))
        .collect();
    let (emf, logs): (Vec<&Value>, Vec<&Value>) = lines.iter().partition(|line| line.get("_aws").is_some());
    let completed = |answer: &Answer| {
        let id = request_id(answer);
        let found: Vec<&&Value> = logs
            .iter()
            .filter(|line| line["request_id"] == id.as_str() && line["message"] == "request completed")
            .collect();
        assert_eq!(found.len(), 1, "one line for request {id}: {logs:#?}");
        (*found[0]).clone()
    };

    // The request lines.
    let first = completed(&granted);
    assert_eq!(first["level"], "INFO");
    assert!(first["timestamp"].is_string());
    assert_eq!(first["trace_id"], TRACE.strip_prefix("Root=").unwrap());
    assert_eq!(first["endpoint"], "org-user-permissions");
    assert_eq!((first["status"].as_u64(), first["outcome"].as_str()), (Some(200), Some("granted")));
    assert_eq!((first["target"].as_str(), first["permissions_requested"].as_u64()), (Some(demo::TARGET), Some(1)));
    let (latency, dynamodb) = (first["latency_us"].as_u64().unwrap(), first["dynamodb_us"].as_u64().unwrap());
    assert!(dynamodb > 0 && dynamodb <= latency, "DynamoDB time {dynamodb} within latency {latency}");
    assert_eq!(completed(&again)["outcome"], "already_held");
    let refused = completed(&invalid);
    assert_eq!((refused["status"].as_u64(), refused["outcome"].as_str()), (Some(400), Some("invalid_fields")));
    assert!(refused.get("target").is_none());
    let not_found = completed(&missing);
    assert_eq!(
        (not_found["endpoint"].as_str(), not_found["status"].as_u64()),
        (Some("user-add-permissions"), Some(404))
    );
    assert!(not_found["trace_id"].as_str().is_some_and(|id| id.starts_with("1-")), "local-api makes one up");

    // The audit lines: one per grant, no-ops included, and only for grants.
    let audit: Vec<&&Value> = logs.iter().filter(|line| line["log_type"] == "audit").collect();
    assert_eq!(audit.len(), 2, "{audit:#?}");
    for (line, answer, changed) in [(audit[0], &granted, true), (audit[1], &again, false)] {
        assert_eq!(line["message"], "permissions granted");
        assert_eq!(line["request_id"], request_id(answer).as_str());
        assert_eq!(line["actor"], demo::EDITOR);
        assert_eq!(line["target"], demo::TARGET);
        assert_eq!(line["permissions"], new_permission);
        assert_eq!(line["changed"], changed);
    }

    // The metrics: one EMF line per request, each declaring what it sets.
    assert_eq!(emf.len(), 4, "{emf:#?}");
    for line in &emf {
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "Test");
        assert_eq!(directive["Dimensions"], json!([["Endpoint"]]));
        assert!(line["_aws"]["Timestamp"].as_u64().is_some_and(|ms| ms > 1_700_000_000_000));
        let declared: Vec<&str> =
            directive["Metrics"].as_array().unwrap().iter().map(|m| m["Name"].as_str().unwrap()).collect();
        // The grant endpoints' metrics, in the order they have always had.
        let grants = [
            "Requests",
            "Grants",
            "NoOpGrants",
            "ClientErrors",
            "ServerErrors",
            "Throttled",
            "Latency",
            "DynamoDBLatency",
            "ColdStart",
        ];
        assert_eq!(declared, grants);
        for name in declared {
            assert!(line[name].is_number(), "{name} is declared but not set in {line}");
        }
    }
    let metric = |answer: &Answer, name: &str| {
        let id = request_id(answer);
        let line = emf.iter().find(|line| line["request_id"] == id.as_str()).unwrap();
        line[name].as_f64().unwrap()
    };
    assert_eq!(
        [metric(&granted, "Grants"), metric(&granted, "NoOpGrants"), metric(&granted, "ColdStart")],
        [1.0, 0.0, 1.0]
    );
    assert_eq!([metric(&again, "Grants"), metric(&again, "NoOpGrants"), metric(&again, "ColdStart")], [0.0, 1.0, 0.0]);
    assert_eq!([metric(&invalid, "ClientErrors"), metric(&missing, "ClientErrors")], [1.0, 1.0]);
    assert!(
        metric(&granted, "DynamoDBLatency") > 0.0 && metric(&granted, "Latency") >= metric(&granted, "DynamoDBLatency")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sampled_trace_gets_an_xray_subsegment_per_dynamodb_call() {
    let daemon = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    daemon.set_read_timeout(Some(std::time::Duration::from_millis(500))).unwrap();
    let daemon_address = daemon.local_addr().unwrap().to_string();
    let env = TestEnv::with_demo_data().await;
    let setting = format!("tcp:{daemon_address} udp:{daemon_address}");
    let server = ApiProcess::start(&env, &[("AWS_XRAY_DAEMON_ADDRESS", setting.as_str())]).await;
    let token = format!("Token {}", demo::EDITOR_TOKEN);
    let path = format!("/organizations/users/permissions/{}/", demo::TARGET);
    let body = json!({ "permission_uuids": [demo::CATALOG[0].0] }).to_string();
    let send_traced = |trace: &'static str| {
        let (address, token, path, body) = (server.address.clone(), token.clone(), path.clone(), body.clone());
        async move {
            let headers =
                [("Authorization", token.as_str()), ("Content-Type", "application/json"), ("X-Amzn-Trace-Id", trace)];
            send(&address, "PATCH", &path, &headers, &body).await.status
        }
    };
    let receive_all = || {
        let mut datagrams = Vec::new();
        let mut buffer = [0u8; 65_536];
        while let Ok(length) = daemon.recv(&mut buffer) {
            datagrams.push(String::from_utf8(buffer[..length].to_vec()).unwrap());
        }
        datagrams
    };

    assert_eq!(send_traced("Root=1-67891233-abcdef012345678912345678;Parent=53995c3f42cd8ad8;Sampled=1").await, 200);
    let sampled = receive_all();
    assert_eq!(send_traced("Root=1-67891233-abcdef012345678912345679;Parent=53995c3f42cd8ad9;Sampled=0").await, 200);
    let unsampled = receive_all();
    server.stop();

    let operations: Vec<String> = sampled
        .iter()
        .map(|datagram| {
            let (header, document) = datagram.split_once('\n').unwrap();
            assert_eq!(serde_json::from_str::<Value>(header).unwrap(), json!({ "format": "json", "version": 1 }));
            let subsegment: Value = serde_json::from_str(document).unwrap();
            assert_eq!(subsegment["trace_id"], "1-67891233-abcdef012345678912345678");
            assert_eq!(subsegment["parent_id"], "53995c3f42cd8ad8");
            assert_eq!(
                (subsegment["type"].as_str(), subsegment["name"].as_str()),
                (Some("subsegment"), Some("DynamoDB"))
            );
            assert!(subsegment["end_time"].as_f64() >= subsegment["start_time"].as_f64());
            subsegment["aws"]["operation"].as_str().unwrap().to_owned()
        })
        .collect();
    // A fresh process, so a cold catalog cache: the token; the caller (with no catalog entry yet
    // known to carry the right); the caller's permissions, fresh, to find the right; the requested
    // uuid, only once the right is established; then the grant.
    assert_eq!(operations, ["GetItem", "BatchGetItem", "BatchGetItem", "BatchGetItem", "TransactWriteItems"]);
    assert!(unsampled.is_empty(), "an unsampled trace sends nothing: {unsampled:?}");
}
