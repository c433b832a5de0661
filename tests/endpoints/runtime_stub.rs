//! Test support: a stub of the Lambda Runtime API on 127.0.0.1, for running the real function
//! binaries as Lambda runs them. It hands out queued events on
//! `GET /2018-06-01/runtime/invocation/next` with Lambda's headers, and collects what comes back
//! on `/response`, `/error` and `/init/error`, with when each poll and answer happened. Plain
//! threads and blocking sockets: the endpoints test binary has no HTTP server dependency.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

/// What the function posted back.
#[derive(Debug, Clone, PartialEq)]
pub enum Posted {
    Response { request_id: String, body: Value },
    Error { request_id: String, body: Value },
    InitError { body: Value },
}

#[derive(Debug, Clone)]
pub struct Answer {
    pub posted: Posted,
    pub at: Instant,
}

#[derive(Default)]
struct State {
    events: Mutex<VecDeque<(String, String)>>,
    event_queued: Condvar,
    answers: Mutex<Vec<Answer>>,
    answered: Condvar,
    polls: Mutex<Vec<Instant>>,
    stopped: AtomicBool,
}

pub struct RuntimeStub {
    /// `host:port`, for `AWS_LAMBDA_RUNTIME_API`.
    pub address: String,
    state: Arc<State>,
}

impl RuntimeStub {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a port for the runtime stub");
        let address = listener.local_addr().unwrap().to_string();
        let state = Arc::new(State::default());
        let accepting = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if accepting.stopped.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let state = accepting.clone();
                std::thread::spawn(move || serve(&state, stream));
            }
        });
        Self { address, state }
    }

    /// Queues an event; the next poll gets it with `request_id` as Lambda's request id.
    pub fn push(&self, request_id: &str, event: &Value) {
        self.state.events.lock().unwrap().push_back((request_id.to_owned(), event.to_string()));
        self.state.event_queued.notify_all();
    }

    /// Waits until `count` answers have come back, or panics after `timeout`.
    pub fn answers(&self, count: usize, timeout: Duration) -> Vec<Answer> {
        let deadline = Instant::now() + timeout;
        let mut answers = self.state.answers.lock().unwrap();
        while answers.len() < count {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "only {} of {count} answers within {timeout:?}: {answers:?}", answers.len());
            answers = self.state.answered.wait_timeout(answers, left).unwrap().0;
        }
        answers.clone()
    }

    /// When each `/next` poll arrived.
    pub fn polls(&self) -> Vec<Instant> {
        self.state.polls.lock().unwrap().clone()
    }
}

impl Drop for RuntimeStub {
    fn drop(&mut self) {
        self.state.stopped.store(true, Ordering::Relaxed);
        self.state.event_queued.notify_all();
        // Wakes the accepting thread so that it sees the flag and ends.
        let _ = TcpStream::connect(&self.address);
    }
}

struct HttpRequest {
    method: String,
    path: String,
    body: Vec<u8>,
}

/// Serves one keep-alive connection until the client closes it.
fn serve(state: &State, stream: TcpStream) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    while let Some(request) = read_request(&mut reader) {
        let reply = answer(state, &request);
        if writer.write_all(&reply).and_then(|()| writer.flush()).is_err() {
            return;
        }
    }
}

fn read_request(reader: &mut impl BufRead) -> Option<HttpRequest> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut words = line.split_whitespace();
    let (method, path) = (words.next()?.to_owned(), words.next()?.to_owned());
    let (mut length, mut chunked) = (0usize, false);
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse().ok()?,
            "transfer-encoding" => chunked = value.trim().eq_ignore_ascii_case("chunked"),
            _ => {}
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).ok()?;
            let size = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).ok()?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else {
        body.resize(length, 0);
        reader.read_exact(&mut body).ok()?;
    }
    Some(HttpRequest { method, path, body })
}

fn answer(state: &State, request: &HttpRequest) -> Vec<u8> {
    if request.method == "GET" && request.path.ends_with("/runtime/invocation/next") {
        state.polls.lock().unwrap().push(Instant::now());
        let mut events = state.events.lock().unwrap();
        // Held open until there is work, as Lambda does; the process is killed while waiting.
        while events.is_empty() {
            if state.stopped.load(Ordering::Relaxed) {
                return b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n".to_vec();
            }
            events = state.event_queued.wait_timeout(events, Duration::from_millis(200)).unwrap().0;
        }
        let (request_id, event) = events.pop_front().unwrap();
        let deadline = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() + 30_000;
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nlambda-runtime-aws-request-id: {request_id}\r\n\
             lambda-runtime-deadline-ms: {deadline}\r\n\
             lambda-runtime-invoked-function-arn: arn:aws:lambda:us-east-1:123456789012:function:test\r\n\
             content-length: {}\r\n\r\n",
            event.len()
        );
        return [head.into_bytes(), event.into_bytes()].concat();
    }
    let body = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
    let invocation = |suffix: &str| {
        let path = request.path.strip_suffix(suffix)?;
        Some(path.rsplit('/').next()?.to_owned())
    };
    let posted = if request.path.ends_with("/init/error") {
        Posted::InitError { body }
    } else if let Some(request_id) = invocation("/response") {
        Posted::Response { request_id, body }
    } else {
        Posted::Error { request_id: invocation("/error").unwrap_or_default(), body }
    };
    state.answers.lock().unwrap().push(Answer { posted, at: Instant::now() });
    state.answered.notify_all();
    b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n".to_vec()
}
