//! The one log line per request: request id, endpoint, status, outcome and latency.
//! Nothing from the `Authorization` header ever reaches a log field.

use std::time::Duration;

pub fn completed(endpoint: &'static str, request_id: &str, status: u16, outcome: &'static str, latency: Duration) {
    let latency_us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
    if status >= 500 {
        tracing::error!(request_id, endpoint, status, outcome, latency_us, "request failed");
    } else {
        tracing::info!(request_id, endpoint, status, outcome, latency_us, "request completed");
    }
}

/// A backend failure, with its detail, tied to the request by its id.
pub fn backend_failure(endpoint: &'static str, request_id: &str, error: &crate::store::StoreError) {
    tracing::error!(request_id, endpoint, error = %error, "backend failure");
}
