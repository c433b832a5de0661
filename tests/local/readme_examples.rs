//! The README's curl commands, run as written (host and demo JWT aside) against local-api over
//! fresh demo data, in the order a reader runs them: each must answer the status the comment
//! under it documents. A command that stops being true fails here, not in a reader's terminal.

use std::sync::Arc;

use permissions_service::auth::jwt::JwtVerifier;
use permissions_service::authorizer::RoutePermissions;
use permissions_service::local::api::LocalServer;
use permissions_service::local::demo;
use permissions_service::local::protected::ProtectedServer;
use permissions_service::telemetry::metrics::Metrics;

use crate::local_api::{send, start};
use crate::support::TestEnv;
use crate::template_policies::repository_file;

/// One documented call: what curl would send, and the status the README says comes back.
#[derive(Debug)]
struct Documented {
    /// Which of the documented servers it calls.
    base_url: String,
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: String,
    status: u16,
}

/// Splits a shell command line into words: single quotes keep everything, double quotes expand
/// the README's variables (`$ADMIN_JWT`, `$USER_JWT`), a backslash-newline continues the line.
fn words(command: &str, variables: &[(&str, String)]) -> Vec<String> {
    let command = command.replace("\\\n", " ");
    let (mut words, mut word, mut quote, mut in_word) = (Vec::new(), String::new(), None, false);
    for c in command.chars() {
        match (quote, c) {
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (Some(open), _) if c == open => quote = None,
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            _ => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
        .into_iter()
        .map(|word| variables.iter().fold(word, |word, (name, value)| word.replace(&format!("${name}"), value)))
        .collect()
}

/// Every curl command of the README's section `heading`, with the status noted under it.
fn documented_calls(readme: &str, heading: &str, base_urls: &[&str]) -> Vec<Documented> {
    let section = readme.split(heading).nth(1).unwrap_or_else(|| panic!("README.md has no {heading:?}"));
    let section = section.split("\n## ").next().unwrap();
    let lines: Vec<&str> = section.lines().collect();
    let variables = [("ADMIN_JWT", demo::jwt_for(demo::ADMIN)), ("USER_JWT", demo::jwt_for(demo::ADMIN_TARGET))];
    let mut calls = Vec::new();
    let mut index = 0;
    while index < lines.len() {
        if !lines[index].starts_with("curl ") {
            index += 1;
            continue;
        }
        let mut command = lines[index].to_owned();
        while command.ends_with('\\') {
            index += 1;
            command.push('\n');
            command.push_str(lines[index]);
        }
        index += 1;
        let status = lines.get(index).and_then(|line| line.strip_prefix("# ")).and_then(|line| line.get(..3));
        let status = status
            .and_then(|status| status.parse().ok())
            .unwrap_or_else(|| panic!("README.md: no `# <status> …` line under `{command}`"));
        let mut call = Documented {
            base_url: String::new(),
            method: "GET".into(),
            path: String::new(),
            headers: vec![],
            body: String::new(),
            status,
        };
        let words = words(&command, &variables);
        let mut args = words.iter().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "-i" => {}
                "-X" => call.method = args.next().unwrap().clone(),
                "-H" => {
                    let (name, value) = args.next().unwrap().split_once(':').unwrap();
                    call.headers.push((name.trim().to_owned(), value.trim().to_owned()));
                }
                "-d" => call.body = args.next().unwrap().clone(),
                url => {
                    let base_url = base_urls.iter().find(|base_url| url.starts_with(**base_url));
                    let base_url = base_url.unwrap_or_else(|| panic!("README.md: {url} is on none of {base_urls:?}"));
                    call.path = url[base_url.len()..].to_owned();
                    call.base_url = (*base_url).to_owned();
                }
            }
        }
        calls.push(call);
    }
    calls
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_curl_command_of_calling_the_endpoints_answers_as_documented() {
    let readme = std::fs::read_to_string(repository_file("README.md")).unwrap();
    let (service, protected) = ("http://127.0.0.1:3000", "http://127.0.0.1:3001");
    let calls = documented_calls(&readme, "## Calling the endpoints", &[service, protected]);
    assert!(calls.len() >= 16, "README.md documents {} calls: the parser lost some", calls.len());
    let (address, env) = start().await;
    let protected_address = start_protected(&env).await;
    for call in calls {
        let headers: Vec<(&str, &str)> = call.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let address = if call.base_url == protected { &protected_address } else { &address };
        let answer = send(address, &call.method, &call.path, &headers, &call.body).await;
        assert_eq!(answer.status, call.status, "README.md: {} {} answered {:?}", call.method, call.path, answer.body);
    }
}

/// The example's protected API, as run-local serves it, over `env`'s demo data.
async fn start_protected(env: &TestEnv) -> String {
    let jwt = JwtVerifier::new(demo::JWT_SECRET.as_bytes(), None, None).unwrap();
    let routes = RoutePermissions::parse(demo::ROUTE_PERMISSIONS).unwrap();
    let route_keys: Vec<String> = routes.route_keys().map(str::to_owned).collect();
    let authorizer = env.authorizer(demo::ROUTE_PERMISSIONS, jwt);
    let server = ProtectedServer::new(route_keys.iter().map(String::as_str), authorizer, Metrics::Off);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(Arc::new(server).serve(listener, std::future::pending()));
    address
}

#[test]
fn the_parser_reads_quotes_continuations_and_the_jwt() {
    let variables = [("ADMIN_JWT", "J".to_owned())];
    let words = words(
        "curl -i -X PUT \"http://h/x\" \\\n  -H \"Authorization: Bearer $ADMIN_JWT\" -d '{\"a\": 1}'",
        &variables,
    );
    assert_eq!(words, ["curl", "-i", "-X", "PUT", "http://h/x", "-H", "Authorization: Bearer J", "-d", "{\"a\": 1}"]);
}
