//! The retry schedule of an asynchronous webhook, as pure arithmetic.
//!
//! Delay after the n-th failed attempt: `e = min(cap, base * 2^(n-1))`, then "equal jitter",
//! `e/2 + jitter * e/2` with `jitter` in [0, 1) — never less than half the backoff (so a
//! struggling CRM is not hammered) and spread so that many conversations failing together do
//! not retry together. A `Retry-After` from the CRM is honoured when longer, up to
//! `max_retry_after`. After `max_attempts` attempts there is no next one.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub base: Duration,
    pub cap: Duration,
    /// Total attempts, the first included.
    pub max_attempts: u32,
    /// The longest `Retry-After` obeyed; a longer one is cut to this.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// 2 s, 4 s, … doubling to a 15 min cap, 15 attempts: roughly 45–90 minutes in all.
    fn default() -> Self {
        RetryPolicy {
            base: Duration::from_secs(2),
            cap: Duration::from_secs(15 * 60),
            max_attempts: 15,
            max_retry_after: Duration::from_secs(60 * 60),
        }
    }
}

impl RetryPolicy {
    /// Backoff after `failed` attempts (1 = the first attempt failed).
    pub fn backoff(&self, failed: u32, jitter: f64) -> Duration {
        let shift = failed.saturating_sub(1).min(63);
        let exp = self
            .base
            .checked_mul(1u32.checked_shl(shift.min(31)).unwrap_or(u32::MAX))
            .unwrap_or(self.cap)
            .min(self.cap);
        let jitter = if jitter.is_nan() {
            0.0
        } else {
            jitter.clamp(0.0, 1.0)
        };
        exp / 2 + (exp / 2).mul_f64(jitter)
    }

    /// The wait before the next attempt, or `None` when `failed` attempts used the budget.
    pub fn next_delay(
        &self,
        failed: u32,
        retry_after: Option<Duration>,
        jitter: f64,
    ) -> Option<Duration> {
        if failed >= self.max_attempts {
            return None;
        }
        let backoff = self.backoff(failed, jitter);
        Some(match retry_after {
            Some(ra) => backoff.max(ra.min(self.max_retry_after)),
            None => backoff,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> RetryPolicy {
        RetryPolicy {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(60),
            max_attempts: 5,
            max_retry_after: Duration::from_secs(600),
        }
    }

    #[test]
    fn doubles_with_equal_jitter_and_a_cap() {
        let p = p();
        let lo: Vec<u64> = (1..=8)
            .map(|n| p.backoff(n, 0.0).as_millis() as u64)
            .collect();
        let hi: Vec<u64> = (1..=8)
            .map(|n| p.backoff(n, 1.0).as_millis() as u64)
            .collect();
        assert_eq!(lo, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]);
        assert_eq!(hi, [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000]);
        assert_eq!(p.backoff(2, 0.5), Duration::from_millis(1500));
        // Huge attempt counts do not overflow.
        assert_eq!(p.backoff(u32::MAX, 1.0), Duration::from_secs(60));
        assert_eq!(p.backoff(3, f64::NAN), Duration::from_secs(2));
    }

    #[test]
    fn budget_and_retry_after() {
        let p = p();
        assert!(p.next_delay(4, None, 0.0).is_some());
        assert_eq!(p.next_delay(5, None, 0.0), None);
        assert_eq!(
            p.next_delay(1, Some(Duration::from_secs(30)), 0.0),
            Some(Duration::from_secs(30))
        );
        // Shorter Retry-After than the backoff: the backoff wins.
        assert_eq!(
            p.next_delay(3, Some(Duration::from_secs(1)), 1.0),
            Some(Duration::from_secs(4))
        );
        // An absurd Retry-After is cut.
        assert_eq!(
            p.next_delay(1, Some(Duration::from_secs(86_400)), 0.0),
            Some(Duration::from_secs(600))
        );
    }
}
