//! When and how long to wait before calling the model again.
//!
//! Backoff doubles from `retry_backoff` up to `retry_backoff_max`, with up to 25 % of jitter
//! taken off so that many conversations failing together do not retry in lockstep. A server's
//! `Retry-After` replaces the computed delay when longer; one longer than `retry_backoff_max`
//! is not waited out (the user would sit in front of a typing indicator): the call fails.

use std::time::Duration;

use crate::client::ApiError;
use crate::config::LlmConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_retries: u32,
    pub base: Duration,
    pub max: Duration,
}

impl RetryPolicy {
    pub fn from_config(cfg: &LlmConfig) -> RetryPolicy {
        RetryPolicy {
            max_retries: cfg.max_retries,
            base: cfg.retry_backoff,
            max: cfg.retry_backoff_max,
        }
    }

    /// The wait before retry number `retry` (1-based) after `err`; `None`: do not retry.
    pub fn delay(&self, retry: u32, err: &ApiError) -> Option<Duration> {
        if retry > self.max_retries || !err.is_retryable() {
            return None;
        }
        let exp = self
            .base
            .saturating_mul(1u32 << (retry - 1).min(16))
            .min(self.max);
        let jittered = exp.saturating_sub(exp.mul_f64(0.25 * jitter()));
        match err.retry_after() {
            Some(ra) if ra > self.max => None,
            Some(ra) => Some(ra.max(jittered)),
            None => Some(jittered),
        }
    }
}

/// A number in [0, 1) that differs between calls; not for cryptography, only to spread retries.
fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capped_exponential_with_retry_after() {
        let p = RetryPolicy {
            max_retries: 3,
            base: Duration::from_millis(100),
            max: Duration::from_millis(300),
        };
        let e5 = ApiError::Status {
            status: 503,
            retry_after: None,
            body: String::new(),
        };
        let d1 = p.delay(1, &e5).unwrap();
        assert!(
            d1 <= Duration::from_millis(100) && d1 >= Duration::from_millis(75),
            "{d1:?}"
        );
        let d3 = p.delay(3, &e5).unwrap();
        assert!(
            d3 <= Duration::from_millis(300) && d3 >= Duration::from_millis(225),
            "{d3:?}"
        );
        assert_eq!(p.delay(4, &e5), None);
        let ra = |s| ApiError::Status {
            status: 429,
            retry_after: Some(Duration::from_millis(s)),
            body: String::new(),
        };
        assert_eq!(p.delay(1, &ra(250)), Some(Duration::from_millis(250)));
        assert_eq!(p.delay(1, &ra(301)), None);
        assert_eq!(
            p.delay(
                1,
                &ApiError::Status {
                    status: 401,
                    retry_after: None,
                    body: String::new()
                }
            ),
            None
        );
    }
}
