//! No secret reaches a log. The real `local-api` binary runs at TRACE level (every crate's
//! logging on: hyper, the AWS SDK, ours) over the demo data; every sample event in `events/` and
//! a set of attack requests go through it over HTTP; then its whole output is searched for every
//! credential that was sent and for the JWT secret.

use permissions_service::local::demo;
use serde_json::Value;

use crate::local_api::send;
use crate::process::ApiProcess;
use crate::support::TestEnv;

/// Method, path with query, headers, body.
type HttpRequest = (String, String, Vec<(String, String)>, String);

/// The requests in `events/`.
fn sample_requests() -> Vec<HttpRequest> {
    let mut requests = Vec::new();
    for dir in ["org-user-permissions", "user-add-permissions"] {
        let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("events").join(dir);
        let mut paths: Vec<_> = std::fs::read_dir(folder).unwrap().map(|entry| entry.unwrap().path()).collect();
        paths.sort();
        for path in paths {
            let event: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let (method, path) = match event["version"].as_str() {
                Some("2.0") => (event["requestContext"]["http"]["method"].clone(), event["rawPath"].clone()),
                _ => (event["httpMethod"].clone(), event["path"].clone()),
            };
            let headers = event["headers"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(name, value)| (name.clone(), value.as_str().unwrap_or_default().to_owned()))
                .collect();
            let body = event["body"].as_str().unwrap_or_default().to_owned();
            requests.push((method.as_str().unwrap().to_owned(), path.as_str().unwrap().to_owned(), headers, body));
        }
    }
    requests
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trace_level_run_of_every_sample_and_attack_logs_no_credential() {
    let env = TestEnv::with_demo_data().await;
    let server = ApiProcess::start(&env, &[("RUST_LOG", "trace")]).await;
    let address = server.address.clone();

    let admin_jwt = demo::jwt_for(demo::ADMIN);
    let long_token = "k".repeat(10 * 1024);
    let org_path = format!("/organizations/users/permissions/{}/", demo::TARGET);
    let org_body = format!(r#"{{"permission_uuids": ["{}"]}}"#, demo::CATALOG[0].0);
    let admin_body = format!(r#"{{"payload": {{"userId": "{}", "permissions": ["compass.x"]}}}}"#, demo::ADMIN_TARGET);
    let tampered = format!("{}x", admin_jwt);
    let mut requests = sample_requests();
    let mut attack = |method: &str, path: String, headers: Vec<(&str, String)>, body: &str| {
        let mut headers: Vec<(String, String)> = headers.into_iter().map(|(n, v)| (n.to_owned(), v)).collect();
        headers.push(("Content-Type".into(), "application/json".into()));
        requests.push((method.to_owned(), path, headers, body.to_owned()));
    };
    attack("PATCH", format!("{org_path}?token={}", demo::EDITOR_TOKEN), vec![], &org_body);
    attack("PATCH", org_path.clone(), vec![("Authorization", format!("token\t{}", demo::EDITOR_TOKEN))], &org_body);
    attack("PATCH", org_path.clone(), vec![("Authorization", format!("Token {long_token}"))], &org_body);
    attack(
        "PATCH",
        org_path.clone(),
        vec![("Authorization", format!("Token {}", demo::EDITOR_TOKEN)), ("Authorization", "Token second".into())],
        &org_body,
    );
    attack("PATCH", org_path.clone(), vec![("Authorization", format!("Bearer {admin_jwt}"))], &org_body);
    attack("PUT", format!("/user/add-permissions?access_token={admin_jwt}"), vec![], &admin_body);
    attack("PUT", "/user/add-permissions".into(), vec![("Authorization", format!("Bearer {tampered}"))], &admin_body);
    attack("PUT", "/user/add-permissions".into(), vec![("Authorization", format!("Token {admin_jwt}"))], &admin_body);
    attack("PUT", "/user/add-permissions".into(), vec![("Authorization", format!("Bearer {admin_jwt}"))], "{bad json");

    let mut credentials = vec![demo::JWT_SECRET.to_owned(), admin_jwt.clone(), tampered.clone(), long_token.clone()];
    for (method, path, headers, body) in &requests {
        for (name, value) in headers {
            if name.eq_ignore_ascii_case("authorization") {
                let credential = value.split_once([' ', '\t']).map_or(value.as_str(), |(_, rest)| rest.trim());
                credentials.push(credential.to_owned());
            }
        }
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let answer = send(&address, method, path, &headers, body).await;
        assert!(answer.status < 500, "{method} {path}: {}", answer.status);
    }

    let (stdout, stderr) = server.stop();
    let output = stdout + &stderr;

    assert!(output.contains("TRACE"), "the run logged at TRACE level");
    assert!(output.matches("request completed").count() >= requests.len() - 2, "every request logged:\n{output}");
    credentials.retain(|credential| credential.len() >= 8);
    assert!(credentials.len() >= 20, "the search covers the samples' credentials too: {}", credentials.len());
    for credential in credentials {
        // The first 12 characters suffice to find a credential copied whole or cut short.
        let head = &credential[..12.min(credential.len())];
        assert!(!output.contains(head), "a credential starting {head:?} is in the log");
    }
}
