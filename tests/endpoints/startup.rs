//! The real binaries refuse to start, naming the variable, when their configuration is unusable:
//! a broken deployment fails at init, never at the first request, and never with a default secret.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

/// Secrets Manager's GetSecretValue over HTTP, enough for the real binary's init: the current
/// version holds `secret`, and there is no previous one (a secret never rotated).
struct SecretsManagerStub {
    url: String,
    seen: Arc<Mutex<Vec<String>>>,
}

impl SecretsManagerStub {
    fn start(secret: &'static str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let log = log.clone();
                std::thread::spawn(move || serve_secrets(stream, secret, &log));
            }
        });
        Self { url, seen }
    }

    /// `"<SecretId> <VersionStage>"` of every request answered.
    fn requests(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

fn serve_secrets(stream: std::net::TcpStream, secret: &str, seen: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    loop {
        let mut content_length = 0;
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        loop {
            line.clear();
            reader.read_line(&mut line).unwrap();
            if line.trim().is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                content_length = value.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; content_length];
        reader.read_exact(&mut body).unwrap();
        let request: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let (id, stage) = (request["SecretId"].as_str().unwrap(), request["VersionStage"].as_str().unwrap_or(""));
        seen.lock().unwrap().push(format!("{id} {stage}"));
        let (status, answer) = if stage == "AWSCURRENT" {
            let answer = serde_json::json!({ "Name": id, "SecretString": secret, "VersionId": "v1",
                                             "VersionStages": ["AWSCURRENT"] });
            ("200 OK", answer)
        } else {
            let answer = serde_json::json!({ "__type": "ResourceNotFoundException",
                                             "message": "Secrets Manager can't find the specified secret value" });
            ("400 Bad Request", answer)
        };
        let answer = answer.to_string();
        let head = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/x-amz-json-1.1\r\ncontent-length: {}\r\n\r\n",
            answer.len()
        );
        if writer.write_all(head.as_bytes()).and_then(|()| writer.write_all(answer.as_bytes())).is_err() {
            return;
        }
    }
}

fn start(binary: &str, env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(binary);
    command.env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default());
    // A runtime API that nothing listens on: if init wrongly succeeded, the binary would fail
    // later with a connection error instead of the message asserted below.
    command.env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9").env("AWS_REGION", "us-east-1");
    command.envs(env.iter().copied()).output().expect("the binary runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned() + &String::from_utf8_lossy(&output.stdout)
}

#[test]
fn the_org_function_fails_at_init_naming_a_missing_table_variable() {
    let output = start(
        env!("CARGO_BIN_EXE_org-user-permissions"),
        &[("USERS_TABLE", "users"), ("TOKENS_TABLE", "tokens"), ("AUDIT_TABLE", "audit")],
    );
    assert!(!output.status.success());
    assert!(stderr(&output).contains("environment variable PERMISSIONS_TABLE: is not set"), "{}", stderr(&output));
}

#[test]
fn the_admin_function_refuses_a_short_jwt_secret_without_printing_it() {
    let secret = "short-secret-value";
    let output = start(
        env!("CARGO_BIN_EXE_user-add-permissions"),
        &[
            ("USERS_TABLE", "users"),
            ("AUDIT_TABLE", "audit"),
            ("JWT_SECRET", secret),
            ("DYNAMODB_ENDPOINT", "http://127.0.0.1:9"),
        ],
    );
    assert!(!output.status.success());
    let text = stderr(&output);
    assert!(text.contains("environment variable JWT_SECRET: must be at least 32 bytes long"), "{text}");
    assert!(!text.contains(secret), "the secret was printed: {text}");
}

#[test]
fn the_admin_function_has_no_default_secret() {
    let output =
        start(env!("CARGO_BIN_EXE_user-add-permissions"), &[("USERS_TABLE", "users"), ("AUDIT_TABLE", "audit")]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("environment variable JWT_SECRET_ID: is not set"), "{}", stderr(&output));
}

#[test]
fn a_deployed_function_refuses_a_key_in_its_configuration_without_printing_it() {
    let secret = "0123456789abcdef0123456789abcdef-in-the-configuration";
    let output = start(
        env!("CARGO_BIN_EXE_user-add-permissions"),
        &[("USERS_TABLE", "users"), ("AUDIT_TABLE", "audit"), ("JWT_SECRET", secret)],
    );
    assert!(!output.status.success());
    let text = stderr(&output);
    assert!(text.contains("environment variable JWT_SECRET: is a local-only key"), "{text}");
    assert!(!text.contains(secret), "the secret was printed: {text}");
}

#[test]
fn a_deployed_function_reads_its_key_from_secrets_manager_at_init() {
    let stub = SecretsManagerStub::start("0123456789abcdef0123456789abcdef-from-secrets-manager");
    let output = start(
        env!("CARGO_BIN_EXE_user-add-permissions"),
        &[
            ("USERS_TABLE", "users"),
            ("AUDIT_TABLE", "audit"),
            ("JWT_SECRET_ID", "permissions-service/jwt-secret"),
            ("AWS_ENDPOINT_URL_SECRETS_MANAGER", &stub.url),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
        ],
    );
    let text = stderr(&output);
    // Init succeeded: what stops the binary is the runtime API nobody serves.
    assert!(!text.contains("JWT_SECRET"), "{text}");
    assert!(!text.contains("from-secrets-manager"), "the key was printed: {text}");
    let mut asked = stub.requests();
    asked.sort();
    assert_eq!(asked, ["permissions-service/jwt-secret AWSCURRENT", "permissions-service/jwt-secret AWSPREVIOUS"]);
}

#[test]
fn a_deployed_function_whose_key_cannot_be_read_fails_at_init() {
    let output = start(
        env!("CARGO_BIN_EXE_user-add-permissions"),
        &[
            ("USERS_TABLE", "users"),
            ("AUDIT_TABLE", "audit"),
            ("JWT_SECRET_ID", "permissions-service/jwt-secret"),
            ("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://127.0.0.1:9"),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
        ],
    );
    assert!(!output.status.success());
    let text = stderr(&output);
    assert!(text.contains("environment variable JWT_SECRET_ID: GetSecretValue (AWSCURRENT) failed"), "{text}");
}

#[test]
fn a_malformed_dynamodb_endpoint_is_refused_at_init() {
    let output = start(
        env!("CARGO_BIN_EXE_user-add-permissions"),
        &[
            ("USERS_TABLE", "users"),
            ("AUDIT_TABLE", "audit"),
            ("JWT_SECRET", "0123456789abcdef0123456789abcdef"),
            ("DYNAMODB_ENDPOINT", "localhost:8000"),
        ],
    );
    assert!(!output.status.success());
    assert!(stderr(&output).contains("DYNAMODB_ENDPOINT: must be an http:// or https:// URL"), "{}", stderr(&output));
}
