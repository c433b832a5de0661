//! Jittered exponential backoff for the retries the SDK does not do for us (transaction
//! conflicts, unprocessed batch keys). Full jitter spreads concurrent writers apart.

use std::time::Duration;

const BASE_MILLIS: u64 = 20;
const CAP_MILLIS: u64 = 320;

/// A random delay in `0..=min(CAP, BASE * 2^attempt)` milliseconds.
pub fn full_jitter(attempt: u32) -> Duration {
    let ceiling = BASE_MILLIS.saturating_mul(1 << attempt.min(16)).min(CAP_MILLIS);
    Duration::from_millis(fastrand::u64(0..=ceiling))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_stay_under_the_growing_ceiling() {
        for attempt in 0..40 {
            let ceiling = (BASE_MILLIS << attempt.min(16)).min(CAP_MILLIS);
            for _ in 0..50 {
                assert!(full_jitter(attempt) <= Duration::from_millis(ceiling));
            }
        }
    }
}
