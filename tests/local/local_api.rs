//! `local-api` over real HTTP on a free port: the API docs' curl examples with only the host
//! changed, API Gateway's routing, and the request id header.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

use permissions_service::local::api::LocalServer;
use permissions_service::local::demo;
use serde_json::{Value, json};

use crate::support::TestEnv;

/// Starts local-api over fresh demo data; answers its address.
pub(crate) async fn start() -> (String, TestEnv) {
    let env = TestEnv::with_demo_data().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(Arc::new(env.local_api()).serve(listener, std::future::pending()));
    (address, env)
}

pub(crate) struct Answer {
    pub status: u16,
    pub head: String,
    pub body: Value,
}

/// One HTTP/1.1 exchange on a plain socket (run off the async threads).
pub(crate) async fn send(address: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Answer {
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    let address = address.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(&address).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut raw = String::new();
        stream.read_to_string(&mut raw).unwrap();
        let (head, body) = raw.split_once("\r\n\r\n").unwrap();
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        Answer { status, head: head.to_ascii_lowercase(), body: serde_json::from_str(body).unwrap_or(Value::Null) }
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_docs_examples_work_against_localhost() {
    let (address, env) = start().await;
    let (p1, p2) = (demo::CATALOG[0].0, demo::CATALOG[1].0);
    let answer = send(
        &address,
        "PATCH",
        &format!("/organizations/users/permissions/{}/", demo::TARGET),
        &[
            ("Authorization", &format!("Token {}", demo::EDITOR_TOKEN)),
            ("Content-Type", "application/json; charset=utf-8"),
        ],
        &json!({ "permission_uuids": [p1, p2] }).to_string(),
    )
    .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body, json!({ "user_uuid": demo::TARGET, "permission_uuids": [p2, p1] }));
    assert!(answer.head.contains("content-type: application/json"));
    assert!(answer.head.contains("apigw-requestid: "), "{}", answer.head);

    let answer = send(
        &address,
        "PUT",
        "/user/add-permissions",
        &[("Authorization", &format!("Bearer {}", demo::jwt_for(demo::ADMIN))), ("Content-Type", "application/json")],
        &json!({ "payload": { "userId": demo::ADMIN_TARGET, "permissions": ["compass.dashboard.*", "compass.dashboard.overview"] } })
            .to_string(),
    )
    .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body, json!({ "message": "Successfully added permissions for this user.", "data": {} }));
    assert_eq!(
        env.permissions_of(demo::ADMIN_TARGET).await.unwrap(),
        ["compass.dashboard.*", "compass.dashboard.overview", "compass.users.*"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_answer_like_api_gateway() {
    let (address, env) = start().await;
    let token = format!("Token {}", demo::EDITOR_TOKEN);
    let body = json!({ "permission_uuids": [demo::CATALOG[0].0] }).to_string();
    let json_auth = [("Authorization", token.as_str()), ("Content-Type", "application/json")];
    let slashless = format!("/organizations/users/permissions/{}", demo::TARGET);
    assert_eq!(send(&address, "PATCH", &slashless, &json_auth, &body).await.status, 200);
    for (method, path) in [
        ("POST", slashless.as_str()),
        ("GET", "/user/add-permissions"),
        ("PATCH", "/organizations/users/permissions/"),
        ("PATCH", "/nowhere"),
        ("POST", "/user/add-permissions"),
    ] {
        let answer = send(&address, method, path, &json_auth, &body).await;
        assert_eq!((answer.status, &answer.body), (404, &json!({ "message": "Not Found" })), "{method} {path}");
    }
    let before = env.snapshot().await;
    let huge = "x".repeat(200 * 1024);
    let answer = send(&address, "PATCH", &slashless, &json_auth, &huge).await;
    assert_eq!(answer.status, 413, "{:?}", answer.body);
    assert_eq!(env.snapshot().await, before);
}

/// The reads over HTTP, their query strings carried as API Gateway carries them: a grant shows
/// in both lists and in the history.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reads_answer_over_http_with_their_query_strings() {
    let (address, _env) = start().await;
    let bearer = format!("Bearer {}", demo::jwt_for(demo::ADMIN));
    let grant = json!({ "payload": { "userId": demo::ADMIN_TARGET, "permissions": ["compass.reports"] } });
    let json_auth = [("Authorization", bearer.as_str()), ("Content-Type", "application/json")];
    assert_eq!(send(&address, "PUT", "/user/add-permissions", &json_auth, &grant.to_string()).await.status, 200);
    let auth = [("Authorization", bearer.as_str())];
    let list = send(&address, "GET", &format!("/user/permissions?userId={}", demo::ADMIN_TARGET), &auth, "").await;
    assert_eq!(list.status, 200, "{:?}", list.body);
    assert_eq!(list.body["data"]["permissions"], json!(["compass.reports", "compass.users.*"]));
    let path = format!("/user/permission-history?userId={}&limit=1", demo::ADMIN_TARGET);
    let history = send(&address, "GET", &path, &auth, "").await;
    assert_eq!(history.status, 200, "{:?}", history.body);
    assert_eq!(history.body["data"]["events"][0]["permissions"], json!(["compass.reports"]));
    let repeated = format!("/user/permissions?userId={0}&userId={0}", demo::ADMIN_TARGET);
    assert_eq!(send(&address, "GET", &repeated, &auth, "").await.status, 400);

    let token = format!("Token {}", demo::EDITOR_TOKEN);
    let org = send(
        &address,
        "GET",
        &format!("/organizations/users/permissions/{}/", demo::TARGET),
        &[("Authorization", token.as_str())],
        "",
    )
    .await;
    assert_eq!(org.status, 200, "{:?}", org.body);
}
