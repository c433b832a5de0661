//! The real function binaries as Lambda runs them: a child process polling a stub Runtime API
//! (`runtime_stub`), over a test's tables on DynamoDB Local. A hostile event must get the
//! endpoint's own answer on `/response`, not an `/error` post or a dead process, and the same
//! process must then answer a normal request.
//!
//! `cold_start_and_warm_request_cost` (ignored; see docs/performance.md) times binaries given in
//! `LAMBDA_BINARIES`, which is how the `panic` setting of the release profile was chosen.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::raw_events::{Format, raw_event};
use crate::runtime_stub::{Posted, RuntimeStub};
use crate::support::fixtures::admin::{ADMIN, TARGET as ADMIN_TARGET, admin_world, jwt_for};
use crate::support::fixtures::org::{EDITOR_KEY, P1, TARGET as ORG_TARGET, org_world};
use crate::support::{Event, JWT_SECRET, TestEnv, endpoint};

/// The admin world's check of its target, and the docs' example answer to it.
fn admin_check() -> (Event, Value) {
    let permissions = ["compass.users.invite", "compass.dashboard.export"];
    let event = Event::admin_check()
        .bearer(&jwt_for(ADMIN))
        .json(&json!({ "payload": { "userId": ADMIN_TARGET, "permissions": permissions } }));
    let answer = json!({
        "message": "Successfully checked permissions for this user.",
        "data": { "userId": ADMIN_TARGET, "allowed": false,
                  "results": [{ "permission": "compass.users.invite", "allowed": true, "grantedBy": "compass.users.*" },
                              { "permission": "compass.dashboard.export", "allowed": false, "grantedBy": null }] }
    });
    (event, answer)
}

const ANSWER_WITHIN: Duration = Duration::from_secs(60);

struct Function {
    child: Child,
    stdout: Option<JoinHandle<String>>,
}

impl Function {
    /// Starts `binary` as Lambda would, against `stub`, configured for `env`'s tables.
    fn start(binary: &str, env: &TestEnv, stub: &RuntimeStub) -> Self {
        let mut child = Command::new(binary)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", &stub.address)
            .env("AWS_LAMBDA_FUNCTION_NAME", "test")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "local")
            .env("AWS_SECRET_ACCESS_KEY", "local")
            .env("DYNAMODB_ENDPOINT", endpoint())
            .env("USERS_TABLE", &env.tables.users)
            .env("TOKENS_TABLE", &env.tables.tokens)
            .env("PERMISSIONS_TABLE", &env.tables.permissions)
            .env("AUDIT_TABLE", &env.tables.audit)
            .env("IDEMPOTENCY_TABLE", &env.tables.idempotency)
            .env("JWT_SECRET", JWT_SECRET)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the function binary starts");
        let mut pipe = child.stdout.take().unwrap();
        // Drained as it comes: a full pipe would stall the function mid-log.
        let stdout = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        });
        Self { child, stdout: Some(stdout) }
    }

    fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("the child's status").is_none()
    }

    /// Stops the process and hands back everything it printed.
    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.stdout.take().map(|stdout| stdout.join().unwrap()).unwrap_or_default()
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// Feeds `events` in order and proves each got `expected` (a status, or an invocation error as
/// `None`), that the one process answered them all and polls for more, and that it logged each
/// answered request under its id. Returns what it posted, in order.
fn same_process_answers(binary: &str, env: &TestEnv, events: &[(&str, Value, Option<u16>)]) -> Vec<Posted> {
    let stub = RuntimeStub::start();
    let mut function = Function::start(binary, env, &stub);
    for (request_id, event, _) in events {
        stub.push(request_id, event);
    }
    let answers = stub.answers(events.len(), ANSWER_WITHIN);
    for ((request_id, _, expected), answer) in events.iter().zip(&answers) {
        match (&answer.posted, expected) {
            (Posted::Response { request_id: id, body }, Some(status)) => {
                assert_eq!(id, request_id);
                assert_eq!(body["statusCode"], *status, "{request_id}: {body}");
            }
            (Posted::Error { request_id: id, body }, None) => {
                assert_eq!(id, request_id);
                assert_eq!(body["errorType"], "NotApiGateway", "{request_id}: {body}");
            }
            (posted, expected) => panic!("{request_id}: expected {expected:?}, got {posted:?}"),
        }
    }
    // A process that died after its last answer would never poll again.
    let deadline = Instant::now() + ANSWER_WITHIN;
    while stub.polls().len() <= events.len() {
        assert!(Instant::now() < deadline, "the function stopped polling");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(function.is_running(), "the function exited");
    assert_eq!(stub.answers(events.len(), ANSWER_WITHIN).len(), events.len(), "an unexpected post");
    let logs = function.stop();
    for (request_id, _, status) in events {
        let Some(status) = status else { continue };
        let logged = logs.lines().filter_map(|line| serde_json::from_str::<Value>(line).ok()).any(|line| {
            line["request_id"] == *request_id && line["status"] == *status && line["message"] == "request completed"
        });
        assert!(logged, "no log line for {request_id} with status {status}:\n{logs}");
    }
    answers.into_iter().map(|answer| answer.posted).collect()
}

fn admin_grant() -> Event {
    Event::admin()
        .bearer(&jwt_for(ADMIN))
        .json(&json!({ "payload": { "userId": ADMIN_TARGET, "permissions": ["compass.dashboard.*"] } }))
}

fn admin_stranger() -> Event {
    Event::admin().json(&json!({ "payload": { "userId": ADMIN_TARGET, "permissions": ["compass.a"] } }))
}

#[test]
fn the_admin_function_answers_hostile_events_itself_and_lives_on() {
    let runtime = runtime();
    let env = runtime.block_on(admin_world());
    let quoted = admin_stranger().header("host", "exa mple<>").header("x-forwarded-proto", "1 bad:");
    let controls = admin_stranger().path("/<a> b/user/add-permissions").header("x-note", "a\u{1}\u{7f}b");
    let unreadable_body = {
        let mut event = raw_event(&admin_grant(), "", Format::V2);
        event["isBase64Encoded"] = json!(true);
        event
    };
    let events = [
        ("hostile-query", raw_event(&quoted, "q=\"x\"&<a>=`{|}`", Format::V2), Some(401)),
        ("hostile-rest", raw_event(&controls, "q=\"x\"", Format::V1), Some(401)),
        ("not-api-gateway", json!({ "Records": [{ "body": "{}" }] }), None),
        ("unreadable", unreadable_body, Some(400)),
        ("normal", raw_event(&admin_grant(), "q=\"x\"", Format::V2), Some(200)),
    ];
    same_process_answers(env!("CARGO_BIN_EXE_user-add-permissions"), &env, &events);
    assert_eq!(runtime.block_on(env.audit_count()), 1, "only the normal request writes");
}

#[test]
fn the_check_function_answers_checks_and_hostile_events_itself_and_lives_on() {
    let runtime = runtime();
    let env = runtime.block_on(admin_world());
    let before = runtime.block_on(env.snapshot());
    let (check, answer) = admin_check();
    let body = json!({ "payload": { "permissions": ["compass.a"] } });
    let stranger = Event::admin_check().header("host", "exa mple<>").header("x-forwarded-proto", "1 bad:").json(&body);
    let controls = Event::admin_check().path("/<a> b/user/check-permissions").header("x-note", "a\u{1}\u{7f}b");
    let lone_surrogate = Event::admin_check()
        .bearer(&jwt_for(ADMIN))
        .header("content-type", "application/json")
        .body(r#"{"payload": {"permissions": ["\ud800"]}}"#);
    let unreadable_body = {
        let mut event = raw_event(&check, "", Format::V2);
        event["isBase64Encoded"] = json!(true);
        event
    };
    let events = [
        ("hostile-query", raw_event(&stranger, "q=\"x\"&<a>=`{|}`", Format::V2), Some(401)),
        ("hostile-rest", raw_event(&controls.json(&body), "q=\"x\"", Format::V1), Some(401)),
        ("not-api-gateway", json!({ "Records": [{ "body": "{}" }] }), None),
        ("unreadable", unreadable_body, Some(400)),
        ("lone-surrogate", raw_event(&lone_surrogate, "", Format::V2), Some(400)),
        ("check", raw_event(&check, "q=\"x\"", Format::V2), Some(200)),
        ("check-rest", raw_event(&check, "", Format::V1), Some(200)),
    ];
    let posted = same_process_answers(env!("CARGO_BIN_EXE_user-check-permissions"), &env, &events);
    for ((request_id, _, _), posted) in events.iter().zip(&posted).filter(|((_, _, status), _)| *status == Some(200)) {
        let Posted::Response { body, .. } = posted else { panic!("{request_id}: not a response: {posted:?}") };
        let checked: Value = serde_json::from_str(body["body"].as_str().unwrap()).unwrap();
        assert_eq!(checked, answer, "{request_id}");
    }
    assert_eq!(runtime.block_on(env.snapshot()), before, "a check wrote something");
}

#[test]
fn the_org_function_answers_hostile_events_itself_and_lives_on() {
    let runtime = runtime();
    let env = runtime.block_on(org_world());
    let body = json!({ "permission_uuids": [P1] });
    let stranger = Event::org(ORG_TARGET).header("host", "\"").json(&body);
    let grant = Event::org(ORG_TARGET).token(EDITOR_KEY).json(&body);
    let events = [
        ("hostile-query", raw_event(&stranger, "q=\"x\"&^=\\", Format::V2), Some(401)),
        ("hostile-rest", raw_event(&stranger, "q=<x>", Format::V1), Some(401)),
        ("normal", raw_event(&grant, "q=\"x\"", Format::V1), Some(200)),
    ];
    same_process_answers(env!("CARGO_BIN_EXE_org-user-permissions"), &env, &events);
    assert_eq!(runtime.block_on(env.audit_count()), 1, "only the normal request writes");
}

/// What a panic costs under each `panic` setting, on this machine: with "abort" the process dies
/// and the next request pays process start to first answer; with "unwind" it is answered warm.
/// `LAMBDA_BINARIES=label=path,...` names `user-add-permissions` builds to compare. The builds
/// take turns, one process each, after warm-up rounds: DynamoDB Local's JIT otherwise favours
/// whichever build goes second.
#[test]
#[ignore = "a measurement, run by hand: see docs/performance.md"]
fn cold_start_and_warm_request_cost() {
    const WARM_UP_ROUNDS: usize = 3;
    const ROUNDS: usize = 30;
    const WARM_REQUESTS: usize = 10;
    let binaries = std::env::var("LAMBDA_BINARIES").expect("LAMBDA_BINARIES=label=path,...");
    let binaries: Vec<(&str, &str)> =
        binaries.split(',').map(|entry| entry.split_once('=').expect("label=path")).collect();
    let runtime = runtime();
    let env = runtime.block_on(admin_world());
    let event = raw_event(&admin_grant(), "", Format::V2);
    let mut samples = vec![(Vec::new(), Vec::new(), Vec::new()); binaries.len()];
    for round in 0..WARM_UP_ROUNDS + ROUNDS {
        for ((_, binary), (init, cold, warm)) in binaries.iter().zip(&mut samples) {
            let stub = RuntimeStub::start();
            stub.push("cold", &event);
            let started = Instant::now();
            let function = Function::start(binary, &env, &stub);
            let first = stub.answers(1, ANSWER_WITHIN)[0].at;
            let (first_poll, mut warm_round) = (stub.polls()[0], Vec::new());
            for index in 0..WARM_REQUESTS {
                // Queued only once the process waits for it: the time is the request's alone.
                while stub.polls().len() < index + 2 {
                    std::thread::sleep(Duration::from_micros(200));
                }
                let pushed = Instant::now();
                stub.push("warm", &event);
                warm_round.push(stub.answers(index + 2, ANSWER_WITHIN)[index + 1].at - pushed);
            }
            function.stop();
            if round >= WARM_UP_ROUNDS {
                init.push(first_poll - started);
                cold.push(first - started);
                warm.extend(warm_round);
            }
        }
    }
    let ms = |samples: &mut Vec<Duration>, q: usize| {
        samples.sort();
        samples[(samples.len() * q / 100).min(samples.len() - 1)].as_secs_f64() * 1e3
    };
    println!("| build | size | exec to first poll, p50 | exec to first answer, p50 / p90 | warm request, p50 / p90 |");
    println!("|---|---|---|---|---|");
    for ((label, binary), (init, cold, warm)) in binaries.iter().zip(&mut samples) {
        let size = std::fs::metadata(binary).map(|meta| meta.len() as f64 / (1024.0 * 1024.0)).unwrap_or(f64::NAN);
        println!(
            "| {label} | {size:.2} MiB | {:.1} ms | {:.1} / {:.1} ms | {:.2} / {:.2} ms |",
            ms(init, 50),
            ms(cold, 50),
            ms(cold, 90),
            ms(warm, 50),
            ms(warm, 90),
        );
    }
}
