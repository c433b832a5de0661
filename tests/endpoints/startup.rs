//! The real binaries refuse to start, naming the variable, when their configuration is unusable:
//! a broken deployment fails at init, never at the first request, and never with a default secret.

use std::process::{Command, Output};

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
        &[("USERS_TABLE", "users"), ("AUDIT_TABLE", "audit"), ("JWT_SECRET", secret)],
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
    assert!(stderr(&output).contains("environment variable JWT_SECRET: is not set"), "{}", stderr(&output));
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
