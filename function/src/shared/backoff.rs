//! The retry delay every retry loop of the crate waits: exponential with full jitter
//! (AWS's "Exponential Backoff And Jitter"), so writers that collided do not collide again.

use std::time::Duration;

use crate::shared::time::since_epoch;

/// A delay drawn uniformly below `base` · 2^attempt (the exponent capped at 6). The
/// clock's nanoseconds are the draw: enough to spread a few retrying writers apart.
pub fn full_jitter(base: Duration, attempt: u32) -> Duration {
    let ceiling_ms = (base.as_millis() as u64).max(1) << attempt.min(6);
    Duration::from_millis(u64::from(since_epoch().subsec_nanos()) % ceiling_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_stay_below_a_ceiling_that_doubles_per_attempt() {
        for attempt in 0..10 {
            let ceiling = Duration::from_millis(100 << attempt.min(6));
            assert!(full_jitter(Duration::from_millis(100), attempt) < ceiling);
        }
    }
}
