//! The real binaries refuse to start, naming the variable, when their configuration is unusable:
//! a broken deployment fails at init, never at the first request, and never with a default secret.
//! A usable one opens its DynamoDB connection at init, and starts even when DynamoDB is out of
//! reach.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use permissions_service::store::tokens::TOKEN_HASH;
use permissions_service::store::users::USER_ID;
use permissions_service::store::{WARM_UP_KEY, WARM_UP_TIMEOUT};

/// Secrets Manager's GetSecretValue over HTTP, enough for the real binary's init: the current
/// version holds `secret`, and there is no previous one (a secret never rotated).
pub(crate) struct SecretsManagerStub {
    pub(crate) url: String,
    seen: Arc<Mutex<Vec<String>>>,
}

impl SecretsManagerStub {
    pub(crate) fn start(secret: &'static str) -> Self {
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
    pub(crate) fn requests(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

/// One HTTP/1.1 request read off a connection.
struct HttpRequest {
    line: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl HttpRequest {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
    }
}

/// The next request on a keep-alive connection; `None` once the client has closed it.
fn read_request(reader: &mut impl BufRead) -> Option<HttpRequest> {
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return None;
    }
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        if header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    let mut request = HttpRequest { line, headers, body: Vec::new() };
    let length = request.header("content-length").map_or(0, |length| length.parse().unwrap());
    request.body = vec![0; length];
    reader.read_exact(&mut request.body).ok()?;
    Some(request)
}

fn write_response(writer: &mut impl Write, status: &str, content_type: &str, body: &str) -> std::io::Result<()> {
    let head = format!("HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n", body.len());
    writer.write_all(head.as_bytes())?;
    writer.write_all(body.as_bytes())
}

fn serve_secrets(stream: std::net::TcpStream, secret: &str, seen: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    while let Some(request) = read_request(&mut reader) {
        let request: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
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
        if write_response(&mut writer, status, "application/x-amz-json-1.1", &answer.to_string()).is_err() {
            return;
        }
    }
}

/// DynamoDB over HTTP, recording every call (its `X-Amz-Target` operation, body and arrival) and
/// answering each as a GetItem that found nothing.
struct DynamoDbStub {
    url: String,
    calls: Arc<Mutex<Vec<(String, serde_json::Value, Instant)>>>,
}

impl DynamoDbStub {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let calls = Arc::new(Mutex::new(Vec::new()));
        let log = calls.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let log = log.clone();
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut writer = stream;
                    while let Some(request) = read_request(&mut reader) {
                        let operation = request.header("x-amz-target").unwrap_or_default().to_owned();
                        let body = serde_json::from_slice(&request.body).unwrap_or_default();
                        log.lock().unwrap().push((operation, body, Instant::now()));
                        if write_response(&mut writer, "200 OK", "application/x-amz-json-1.0", "{}").is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Self { url, calls }
    }

    fn calls(&self) -> Vec<(String, serde_json::Value, Instant)> {
        self.calls.lock().unwrap().clone()
    }
}

const ORG_FUNCTION: &str = env!("CARGO_BIN_EXE_org-user-permissions");
const ADMIN_FUNCTION: &str = env!("CARGO_BIN_EXE_user-add-permissions");

/// The tables an org function names, but the catalog's.
const ORG_TABLES_BUT_PERMISSIONS: [(&str, &str); 4] = [
    ("USERS_TABLE", "users"),
    ("TOKENS_TABLE", "tokens"),
    ("AUDIT_TABLE", "audit"),
    ("IDEMPOTENCY_TABLE", "idempotency"),
];
const ADMIN_TABLES: [(&str, &str); 3] =
    [("USERS_TABLE", "users"), ("AUDIT_TABLE", "audit"), ("IDEMPOTENCY_TABLE", "idempotency")];

/// An admin function's tables, and `more`.
fn admin_tables_and<'a>(more: &[(&'static str, &'a str)]) -> Vec<(&'static str, &'a str)> {
    ADMIN_TABLES.iter().copied().chain(more.iter().copied()).collect()
}

/// An admin function's tables and its key's id in Secrets Manager at `secrets_manager`; its
/// DynamoDB on loopback, away from AWS.
fn admin_with_a_key_in(secrets_manager: &str) -> Vec<(&'static str, &str)> {
    admin_tables_and(&[
        ("JWT_SECRET_ID", "permissions-service/jwt-secret"),
        ("AWS_ENDPOINT_URL_SECRETS_MANAGER", secrets_manager),
        ("DYNAMODB_ENDPOINT", "http://127.0.0.1:9"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ])
}

/// `binary` with no environment but `PATH`, a region and the Runtime API at `runtime_api`.
fn command(binary: &str, runtime_api: &str) -> Command {
    let mut command = Command::new(binary);
    command.env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default());
    command.env("AWS_LAMBDA_RUNTIME_API", runtime_api).env("AWS_REGION", "us-east-1");
    command
}

fn start(binary: &str, env: &[(&str, &str)]) -> Output {
    // A runtime API that nothing listens on: if init wrongly succeeded, the binary would fail
    // later with a connection error instead of the message asserted below.
    command(binary, "127.0.0.1:9").envs(env.iter().copied()).output().expect("the binary runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned() + &String::from_utf8_lossy(&output.stdout)
}

#[test]
fn the_org_function_fails_at_init_naming_a_missing_table_variable() {
    let output = start(ORG_FUNCTION, &ORG_TABLES_BUT_PERMISSIONS);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("environment variable PERMISSIONS_TABLE: is not set"), "{}", stderr(&output));
}

#[test]
fn the_admin_function_refuses_a_short_jwt_secret_without_printing_it() {
    let secret = "short-secret-value";
    let output = start(
        ADMIN_FUNCTION,
        &admin_tables_and(&[("JWT_SECRET", secret), ("DYNAMODB_ENDPOINT", "http://127.0.0.1:9")]),
    );
    assert!(!output.status.success());
    let text = stderr(&output);
    assert!(text.contains("environment variable JWT_SECRET: must be at least 32 bytes long"), "{text}");
    assert!(!text.contains(secret), "the secret was printed: {text}");
}

#[test]
fn the_admin_function_has_no_default_secret() {
    let output = start(ADMIN_FUNCTION, &ADMIN_TABLES);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("environment variable JWT_SECRET_ID: is not set"), "{}", stderr(&output));
}

#[test]
fn a_deployed_function_refuses_a_key_in_its_configuration_without_printing_it() {
    let secret = "0123456789abcdef0123456789abcdef-in-the-configuration";
    let output = start(ADMIN_FUNCTION, &admin_tables_and(&[("JWT_SECRET", secret)]));
    assert!(!output.status.success());
    let text = stderr(&output);
    assert!(text.contains("environment variable JWT_SECRET: is a local-only key"), "{text}");
    assert!(!text.contains(secret), "the secret was printed: {text}");
}

#[test]
fn a_deployed_function_reads_its_key_from_secrets_manager_at_init() {
    let stub = SecretsManagerStub::start("0123456789abcdef0123456789abcdef-from-secrets-manager");
    let output = start(ADMIN_FUNCTION, &admin_with_a_key_in(&stub.url));
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
    let output = start(ADMIN_FUNCTION, &admin_with_a_key_in("http://127.0.0.1:9"));
    assert!(!output.status.success());
    let text = stderr(&output);
    assert!(text.contains("environment variable JWT_SECRET_ID: GetSecretValue (AWSCURRENT) failed"), "{text}");
}

#[test]
fn a_malformed_dynamodb_endpoint_is_refused_at_init() {
    let output = start(
        ADMIN_FUNCTION,
        &admin_tables_and(&[
            ("JWT_SECRET", "0123456789abcdef0123456789abcdef"),
            ("DYNAMODB_ENDPOINT", "localhost:8000"),
        ]),
    );
    assert!(!output.status.success());
    assert!(stderr(&output).contains("DYNAMODB_ENDPOINT: must be an http:// or https:// URL"), "{}", stderr(&output));
}

/// The Lambda Runtime API as far as init goes: notes when the binary first polls for an
/// invocation (its init is over) and holds that poll open.
struct RuntimeApiStub {
    address: String,
    first_poll: Arc<Mutex<Option<Instant>>>,
}

impl RuntimeApiStub {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let first_poll = Arc::new(Mutex::new(None));
        let poll = first_poll.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let poll = poll.clone();
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream);
                    while let Some(request) = read_request(&mut reader) {
                        if request.line.contains("/runtime/invocation/next") {
                            poll.lock().unwrap().get_or_insert_with(Instant::now);
                        }
                        // No answer: the binary waits on this poll until it is stopped.
                    }
                });
            }
        });
        Self { address, first_poll }
    }
}

/// How a binary's init went: when it started, when it first polled (if it did within the
/// deadline), and what it printed.
struct Init {
    started: Instant,
    first_poll: Option<Instant>,
    output: String,
}

impl Init {
    fn duration(&self) -> Option<Duration> {
        self.first_poll.map(|poll| poll - self.started)
    }
}

/// Runs `binary` until it polls the Runtime API for its first invocation, or exits, or 20 s
/// pass; then stops it.
fn run_init(binary: &str, env: &[(&str, &str)]) -> Init {
    let runtime = RuntimeApiStub::start();
    let mut command = command(binary, &runtime.address);
    for (name, value) in [
        ("AWS_LAMBDA_FUNCTION_NAME", "startup-test"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/startup-test"),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "startup-test"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ] {
        command.env(name, value);
    }
    command.envs(env.iter().copied()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = command.spawn().expect("the binary runs");
    let deadline = started + Duration::from_secs(20);
    while runtime.first_poll.lock().unwrap().is_none()
        && Instant::now() < deadline
        && child.try_wait().unwrap().is_none()
    {
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = child.kill();
    let output = child.wait_with_output().unwrap();
    let first_poll = *runtime.first_poll.lock().unwrap();
    Init { started, first_poll, output: stderr(&output) }
}

/// A usable configuration of each kind of function, its DynamoDB at the given endpoint.
type Configuration = fn(&str) -> Vec<(&'static str, &str)>;

const FUNCTIONS: [(&str, Configuration); 2] = [(ORG_FUNCTION, org_env), (ADMIN_FUNCTION, admin_env)];

fn org_env(dynamodb: &str) -> Vec<(&'static str, &str)> {
    let mut env = ORG_TABLES_BUT_PERMISSIONS.to_vec();
    env.extend([("PERMISSIONS_TABLE", "permissions"), ("DYNAMODB_ENDPOINT", dynamodb)]);
    env
}

fn admin_env(dynamodb: &str) -> Vec<(&'static str, &str)> {
    admin_tables_and(&[("JWT_SECRET", "0123456789abcdef0123456789abcdef"), ("DYNAMODB_ENDPOINT", dynamodb)])
}

#[test]
fn each_function_opens_its_dynamodb_connection_at_init() {
    for ((binary, configuration), (table, key)) in
        FUNCTIONS.into_iter().zip([("tokens", TOKEN_HASH), ("users", USER_ID)])
    {
        let dynamodb = DynamoDbStub::start();
        let init = run_init(binary, &configuration(&dynamodb.url));
        let first_poll = init.first_poll.unwrap_or_else(|| panic!("{binary} did not finish init: {}", init.output));
        let calls = dynamodb.calls();
        // One read its IAM policy allows, of a key no item has, before the first invocation.
        assert_eq!(calls.len(), 1, "{binary}: {calls:?}");
        let (operation, body, at) = &calls[0];
        assert_eq!(operation, "DynamoDB_20120810.GetItem", "{binary}");
        assert_eq!(body["TableName"], table, "{binary}");
        assert_eq!(body["Key"], serde_json::json!({ key: { "S": WARM_UP_KEY } }), "{binary}");
        assert!(*at < first_poll, "{binary}: the warm-up call came after init");
    }
}

#[test]
fn a_function_starts_when_dynamodb_refuses_connections() {
    // Nothing listens on the discard port.
    for (binary, configuration) in FUNCTIONS {
        let init = run_init(binary, &configuration("http://127.0.0.1:9"));
        assert!(init.first_poll.is_some(), "{binary} did not finish init: {}", init.output);
        assert!(init.output.contains("DynamoDB connection not opened at init"), "{binary}: {}", init.output);
    }
}

#[test]
fn a_function_whose_dynamodb_never_answers_starts_within_the_warm_up_bound() {
    // Accepts connections (the kernel does, into the backlog) and never answers a request: left
    // to its own timeouts and retries, the SDK would wait for its 5 s operation timeout.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", silent.local_addr().unwrap());
    for (binary, configuration) in FUNCTIONS {
        let init = run_init(binary, &configuration(&url));
        let took = init.duration().unwrap_or_else(|| panic!("{binary} did not finish init: {}", init.output));
        assert!(took >= WARM_UP_TIMEOUT, "{binary}: init took {took:?}, before the warm-up could time out");
        assert!(took < WARM_UP_TIMEOUT + Duration::from_millis(1500), "{binary}: init took {took:?}");
    }
    drop(silent);
}
