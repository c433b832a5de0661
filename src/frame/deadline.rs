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

fn budget_until(deadline_ms: u64, now: SystemTime) -> Duration {
    if deadline_ms == 0 {
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
        let now = UNIX_EPOCH + Duration::from_secs(1_000);
        assert_eq!(budget_until(0, now), DEFAULT_BUDGET);
        assert_eq!(budget_until(1_015_000, now), Duration::from_secs(14));
        assert_eq!(budget_until(1_000_500, now), MIN_BUDGET);
        assert_eq!(budget_until(1, now), MIN_BUDGET);
    }
}
