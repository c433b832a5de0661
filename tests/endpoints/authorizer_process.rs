//! The real `permissions-authorizer` binary as Lambda runs it: a child process polling a stub
//! Runtime API (`runtime_stub`), configured by its environment alone, over a test's users table on
//! DynamoDB Local. Its init: a bad `ROUTE_PERMISSIONS` stops it naming the route, an unset one
//! naming the variable, a local key without a local DynamoDB is refused, and its key read from
//! Secrets Manager verifies tokens. What it decides per event is `authorizer_gateway` (behind the
//! API Gateway emulation) and `authorizer_hostile` (generated events).

use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::authorizer::{
    READER, ROUTE_PERMISSIONS, UNKNOWN, allowed, authorizer_world, bearer, denied, event, signed, token_for,
};
use crate::runtime_stub::{Posted, RuntimeStub};
use crate::startup::SecretsManagerStub;
use crate::support::{JWT_SECRET, TestEnv, endpoint, now};

pub const AUTHORIZER: &str = env!("CARGO_BIN_EXE_permissions-authorizer");
const ANSWER_WITHIN: Duration = Duration::from_secs(60);

/// The authorizer's settings as a deployment over `env`'s users table sets them, but for the
/// local key and DynamoDB Local's endpoint; `route_permissions` as `ROUTE_PERMISSIONS`.
pub fn settings(env: &TestEnv, route_permissions: &str) -> Vec<(&'static str, String)> {
    vec![
        ("USERS_TABLE", env.tables.users.clone()),
        ("DYNAMODB_ENDPOINT", endpoint().to_owned()),
        ("JWT_SECRET", JWT_SECRET.to_owned()),
        ("ROUTE_PERMISSIONS", route_permissions.to_owned()),
    ]
}

/// One authorizer process and the Runtime API it polls.
pub struct AuthorizerProcess {
    pub stub: RuntimeStub,
    child: Child,
    output: Vec<JoinHandle<String>>,
    invocations: usize,
}

impl AuthorizerProcess {
    /// Starts the binary with Lambda's variables, AWS credentials and region (as the other
    /// process tests set them), JSON logs at `log_level`, and `settings`.
    pub fn start(settings: &[(&'static str, String)], log_level: &str) -> Self {
        let stub = RuntimeStub::start();
        let mut child = Command::new(AUTHORIZER)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", &stub.address)
            .env("AWS_LAMBDA_FUNCTION_NAME", "permissions-authorizer")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .env("AWS_LAMBDA_LOG_LEVEL", log_level)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "local")
            .env("AWS_SECRET_ACCESS_KEY", "local")
            .envs(settings.iter().map(|(name, value)| (name, value)))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the authorizer binary starts");
        // Drained as they come: a full pipe would stall the function mid-log.
        let drain = |mut pipe: Box<dyn Read + Send>| {
            std::thread::spawn(move || {
                let mut text = String::new();
                let _ = pipe.read_to_string(&mut text);
                text
            })
        };
        let output = vec![drain(Box::new(child.stdout.take().unwrap())), drain(Box::new(child.stderr.take().unwrap()))];
        Self { stub, child, output, invocations: 0 }
    }

    /// Hands `event` to the process as Lambda's invocation `request_id` and returns what it
    /// posted back.
    pub fn invoke(&mut self, request_id: &str, event: &Value) -> Posted {
        self.push(request_id, event);
        self.answers().pop().unwrap()
    }

    /// Queues an invocation without waiting for its answer.
    pub fn push(&mut self, request_id: &str, event: &Value) {
        self.stub.push(request_id, event);
        self.invocations += 1;
    }

    /// Every answer posted so far, once each queued invocation has one, in order; each proven to
    /// be for the invocation it answers.
    pub fn answers(&self) -> Vec<Posted> {
        self.stub.answers(self.invocations, ANSWER_WITHIN).into_iter().map(|answer| answer.posted).collect()
    }

    /// How many invocations it was handed.
    pub fn invocations(&self) -> usize {
        self.invocations
    }

    /// Proves the process answered everything it was handed, lives on and polls for more.
    pub fn assert_alive_and_polling(&mut self) {
        let deadline = Instant::now() + ANSWER_WITHIN;
        while self.stub.polls().len() <= self.invocations {
            assert!(Instant::now() < deadline, "the authorizer stopped polling");
            assert!(self.child.try_wait().unwrap().is_none(), "the authorizer exited");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(self.child.try_wait().unwrap().is_none(), "the authorizer exited");
        assert_eq!(self.answers().len(), self.invocations, "one answer per invocation, no more");
    }

    /// Stops the process; everything it printed, stdout then stderr.
    pub fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.output.drain(..).map(|output| output.join().unwrap()).collect::<Vec<_>>().join("\n")
    }
}

impl Drop for AuthorizerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The simple response a process posted, or a panic naming what it posted instead.
#[track_caller]
pub fn response(posted: &Posted, request_id: &str) -> Value {
    match posted {
        Posted::Response { request_id: id, body } if id == request_id => body.clone(),
        other => panic!("{request_id}: expected a response, got {other:?}"),
    }
}

/// The JSON log lines of `logs` about Lambda invocation `request_id`.
pub fn json_lines_of(logs: &str, request_id: &str) -> Vec<Value> {
    logs.lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["request_id"] == request_id)
        .collect()
}

/// How an init that was meant to fail went: the exit status, what the process printed, and
/// whether it ever asked the Runtime API for work or posted anything.
struct FailedInit {
    status: ExitStatus,
    output: String,
    polled: bool,
    posted: Vec<Posted>,
}

/// Runs the binary with `settings` until it exits (20 s at most: a process still running then
/// got through init, which fails the test).
fn init_with(settings: &[(&'static str, String)]) -> FailedInit {
    let mut process = AuthorizerProcess::start(settings, "info");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = process.child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() >= deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let polled = !process.stub.polls().is_empty();
    let posted = process.stub.answers(0, Duration::ZERO).into_iter().map(|answer| answer.posted).collect();
    let output = process.stop();
    let status = status.unwrap_or_else(|| panic!("init did not fail within 20 s: {output}"));
    FailedInit { status, output, polled, posted }
}

/// Proves `init` failed as a broken configuration must in Lambda: the process exited with an
/// error before asking for any invocation, so none can ever be allowed, having printed `naming`.
#[track_caller]
fn fails_naming(init: &FailedInit, naming: &str) {
    assert!(!init.status.success(), "init succeeded: {}", init.output);
    assert!(!init.polled, "the process asked for an invocation: {}", init.output);
    assert_eq!(init.posted, [], "{}", init.output);
    assert!(init.output.contains(naming), "{naming} missing from: {}", init.output);
}

#[test]
fn a_bad_route_permissions_entry_fails_init_naming_the_route() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let env = runtime.block_on(TestEnv::new());
    // (the map, what the failure must say, a bad value it must not echo)
    let cases: [(&str, &str, Option<&str>); 8] = [
        (
            r#"{"GET /ok": "compass.a.b", "GET /reports/{id}": "compass.Reports.view"}"#,
            r#"ROUTE_PERMISSIONS: route "GET /reports/{id}": every permission must be"#,
            Some("compass.Reports.view"),
        ),
        (
            r#"{"POST /reports": ["compass.reports.create", "compass.reports.*.x"]}"#,
            r#"ROUTE_PERMISSIONS: route "POST /reports": every permission must be"#,
            Some("compass.reports.*.x"),
        ),
        (
            // A JSON object read as a map keeps the last entry: the stricter first one would be lost.
            r#"{"GET /reports/{id}": ["compass.reports.view", "compass.reports.export"], "GET /reports/{id}": "compass.reports.view"}"#,
            r#"ROUTE_PERMISSIONS: route "GET /reports/{id}": is named twice"#,
            None,
        ),
        (r#"{"$default": []}"#, r#"ROUTE_PERMISSIONS: route "$default": an empty list"#, None),
        (r#"{"GET /a": 5}"#, r#"ROUTE_PERMISSIONS: route "GET /a": must be a permission"#, None),
        (r#"{"GET /a": null}"#, r#"ROUTE_PERMISSIONS: route "GET /a": must be a permission"#, None),
        (r#"["GET /a"]"#, "ROUTE_PERMISSIONS: must be a JSON object", None),
        (r#"{"GET /a": "compass.a""#, "ROUTE_PERMISSIONS: must be a JSON object", None),
    ];
    for (route_permissions, naming, unechoed) in cases {
        let init = init_with(&settings(&env, route_permissions));
        fails_naming(&init, &format!("environment variable {naming}"));
        if let Some(unechoed) = unechoed {
            assert!(!init.output.contains(unechoed), "the bad value was echoed: {}", init.output);
        }
    }
}

#[test]
fn an_unset_or_blank_route_permissions_fails_init_naming_the_variable() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let env = runtime.block_on(TestEnv::new());
    let unset: Vec<_> = settings(&env, "").into_iter().filter(|(name, _)| *name != "ROUTE_PERMISSIONS").collect();
    fails_naming(&init_with(&unset), "environment variable ROUTE_PERMISSIONS: is not set");
    fails_naming(&init_with(&settings(&env, "  ")), "environment variable ROUTE_PERMISSIONS: is not set");
}

#[test]
fn a_local_key_without_a_local_dynamodb_is_refused_at_init_without_printing_it() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let env = runtime.block_on(TestEnv::new());
    let deployed: Vec<_> =
        settings(&env, ROUTE_PERMISSIONS).into_iter().filter(|(name, _)| *name != "DYNAMODB_ENDPOINT").collect();
    let init = init_with(&deployed);
    fails_naming(&init, "environment variable JWT_SECRET: is a local-only key");
    assert!(!init.output.contains(JWT_SECRET), "the key was printed: {}", init.output);
}

#[test]
fn the_key_read_from_secrets_manager_at_init_verifies_tokens_and_no_other_key_does() {
    const KEY: &str = "0123456789abcdef0123456789abcdef-authorizer-key";
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let env = runtime.block_on(authorizer_world());
    let secrets_manager = SecretsManagerStub::start(KEY);
    let mut deployed: Vec<_> =
        settings(&env, ROUTE_PERMISSIONS).into_iter().filter(|(name, _)| *name != "JWT_SECRET").collect();
    deployed.push(("JWT_SECRET_ID", "permissions-service/jwt-secret".to_owned()));
    deployed.push(("AWS_ENDPOINT_URL_SECRETS_MANAGER", secrets_manager.url.clone()));
    let mut process = AuthorizerProcess::start(&deployed, "info");

    let by_the_secret = signed(&json!({ "sub": READER, "exp": now() + 600 }), KEY);
    let request = event("GET /reports/{id}", Some(&bearer(&by_the_secret)));
    let answer = process.invoke("with-the-secret", &request);
    assert_eq!(response(&answer, "with-the-secret"), allowed(READER, "compass.reports.view"));
    let by_the_local_key = event("GET /reports/{id}", Some(&bearer(&token_for(READER))));
    assert_eq!(response(&process.invoke("with-another-key", &by_the_local_key), "with-another-key"), denied());
    let unknown = signed(&json!({ "sub": UNKNOWN, "exp": now() + 600 }), KEY);
    let of_nobody = event("GET /reports/{id}", Some(&bearer(&unknown)));
    assert_eq!(response(&process.invoke("unknown-user", &of_nobody), "unknown-user"), denied());
    process.assert_alive_and_polling();

    let logs = process.stop();
    assert!(!logs.contains(KEY) && !logs.contains(&by_the_secret), "a secret was logged: {logs}");
    let mut asked = secrets_manager.requests();
    asked.sort();
    asked.dedup();
    assert_eq!(asked, ["permissions-service/jwt-secret AWSCURRENT", "permissions-service/jwt-secret AWSPREVIOUS"]);
}
