//! How long a request may take. Every handler answers within its budget, so a slow DynamoDB
//! yields the endpoint's own 500 (logged with the request id) instead of a Lambda timeout, which
//! API Gateway would turn into a 503 or 504 without a word in our logs.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_http::{Request, RequestExt};

/// Kept back from Lambda's deadline to answer and flush the log line.
pub const SAFETY_MARGIN: Duration = Duration::from_millis(1_000);
/// The budget where no Lambda deadline is known (local runs, tests).
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(10);
/// Even a nearly expired invocation gets a chance to answer.
const MIN_BUDGET: Duration = Duration::from_millis(100);

pub fn budget(request: &Request) -> Duration {
    let deadline_ms = request.lambda_context_ref().map(|context| context.deadline).unwrap_or(0);
    budget_until(deadline_ms, SystemTime::now())
}

/// The budget of an invocation whose Lambda deadline is `deadline_ms` (epoch milliseconds).
pub fn budget_for_deadline(deadline_ms: u64) -> Duration {
    budget_until(deadline_ms, SystemTime::now())
}

/// A deadline before this (2001-09-09, in epoch milliseconds) is not a time but a duration:
/// cargo-lambda's emulator sends `Lambda-Runtime-Deadline-Ms: 600000`. Read as a time it would
/// be long past, and every invocation would get only the minimum budget.
const PLAUSIBLE_DEADLINE_MS: u64 = 1_000_000_000_000;

fn budget_until(deadline_ms: u64, now: SystemTime) -> Duration {
    if deadline_ms < PLAUSIBLE_DEADLINE_MS {
        return DEFAULT_BUDGET;
    }
    let now_ms = now.duration_since(UNIX_EPOCH).map(|elapsed| elapsed.as_millis()).unwrap_or(0);
    let remaining = Duration::from_millis(u64::try_from(u128::from(deadline_ms).saturating_sub(now_ms)).unwrap_or(0));
    remaining.saturating_sub(SAFETY_MARGIN).max(MIN_BUDGET)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_leaves_a_margin_before_the_lambda_deadline() {
        let now = UNIX_EPOCH + Duration::from_secs(1_795_435_200);
        let at = |millis_from_now: u64| 1_795_435_200_000 + millis_from_now;
        assert_eq!(budget_until(0, now), DEFAULT_BUDGET);
        assert_eq!(budget_until(at(15_000), now), Duration::from_secs(14));
        assert_eq!(budget_until(at(500), now), MIN_BUDGET);
        assert_eq!(budget_until(1_795_435_100_000, now), MIN_BUDGET, "a deadline already past");
        // cargo-lambda's duration where a time belongs: no deadline known.
        assert_eq!(budget_until(600_000, now), DEFAULT_BUDGET);
    }
}
