//! What a test's handlers logged.

use std::io::Write;
use std::sync::{Arc, Mutex};

/// Collects everything logged while the guard lives (on this thread: use with the
/// current-thread test runtime).
pub struct CapturedLogs {
    buffer: Arc<Mutex<Vec<u8>>>,
    _guard: tracing::subscriber::DefaultGuard,
}

impl CapturedLogs {
    pub fn start() -> Self {
        Self::start_at(tracing::Level::DEBUG)
    }

    /// Collects what is logged at `level` and above: INFO leaves out the SDK's chatter, which
    /// costs a campaign of thousands of requests more than the requests do.
    pub fn start_at(level: tracing::Level) -> Self {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = SharedWriter(buffer.clone());
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(level)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        Self { buffer, _guard: tracing::subscriber::set_default(subscriber) }
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.buffer.lock().unwrap()).into_owned()
    }
}

/// The lines logged about one request: its request line, and a change's audit line.
pub fn lines_of<'a>(text: &'a str, request_id: &str) -> Vec<&'a str> {
    text.lines().filter(|line| line.contains(&format!("request_id=\"{request_id}\""))).collect()
}

/// Proves that `line` holds every one of `expected`.
pub fn assert_has(line: &str, expected: &[&str]) {
    for part in expected {
        assert!(line.contains(part), "{part} missing from {line}");
    }
}

#[derive(Clone)]
struct SharedWriter(Arc<Mutex<Vec<u8>>>);

impl Write for SharedWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
