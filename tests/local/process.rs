//! The real `local-api` binary as a child process over a test's tables, its output collected.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use permissions_service::local::demo;

use crate::support::{TestEnv, endpoint, free_port};

pub struct ApiProcess {
    pub address: String,
    child: Child,
    stdout: JoinHandle<String>,
    stderr: JoinHandle<String>,
}

impl ApiProcess {
    /// Starts local-api over `env`'s tables with the demo JWT secret and `extra` variables, and
    /// waits until it accepts connections.
    pub async fn start(env: &TestEnv, extra: &[(&str, &str)]) -> Self {
        let port = free_port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_local-api"));
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("PORT", port.to_string())
            .env("DYNAMODB_ENDPOINT", endpoint())
            .env("AWS_ACCESS_KEY_ID", "localonlydemo")
            .env("AWS_SECRET_ACCESS_KEY", "localonlydemo")
            .env("AWS_REGION", "us-east-1")
            .env("USERS_TABLE", &env.tables.users)
            .env("TOKENS_TABLE", &env.tables.tokens)
            .env("PERMISSIONS_TABLE", &env.tables.permissions)
            .env("AUDIT_TABLE", &env.tables.audit)
            .env("IDEMPOTENCY_TABLE", &env.tables.idempotency)
            .env("JWT_SECRET", demo::JWT_SECRET)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, value) in extra {
            command.env(name, value);
        }
        let mut child = command.spawn().unwrap();
        // Drained as it comes: a full pipe would stall the server mid-log.
        let drain = |mut pipe: Box<dyn Read + Send>| {
            std::thread::spawn(move || {
                let mut text = String::new();
                pipe.read_to_string(&mut text).unwrap();
                text
            })
        };
        let stdout = drain(Box::new(child.stdout.take().unwrap()));
        let stderr = drain(Box::new(child.stderr.take().unwrap()));
        let address = format!("127.0.0.1:{port}");
        let started = Instant::now();
        while std::net::TcpStream::connect(&address).is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "local-api did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self { address, child, stdout, stderr }
    }

    /// Stops the server; answers everything it wrote to stdout and to stderr.
    pub fn stop(mut self) -> (String, String) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        (self.stdout.join().unwrap(), self.stderr.join().unwrap())
    }
}
