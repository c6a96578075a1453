//! Percentiles of measured samples, one definition for every benchmark: the nearest-rank value
//! at index `round((n − 1) · p)` of the sorted samples (p50 of 1..=100 is 51, p99 is 99, p100
//! is the maximum).

use std::time::Duration;

/// The `p` quantile (0.0..=1.0) of `sorted` (ascending); the default value (zero) when empty.
pub fn pct<T: Copy + Default>(sorted: &[T], p: f64) -> T {
    if sorted.is_empty() {
        return T::default();
    }
    let i = ((sorted.len() - 1) as f64 * p.clamp(0.0, 1.0)).round() as usize;
    sorted[i]
}

/// Count, p50, p90, p99, max and mean of a set of durations.
#[derive(Clone, Copy, Debug, Default)]
pub struct Summary {
    pub n: usize,
    pub p50: Duration,
    pub p90: Duration,
    pub p99: Duration,
    pub max: Duration,
    pub mean: Duration,
}

impl Summary {
    /// The summary of `samples` (any order).
    pub fn of(mut samples: Vec<Duration>) -> Summary {
        samples.sort();
        let n = samples.len();
        let mean = if n == 0 {
            Duration::ZERO
        } else {
            samples.iter().sum::<Duration>() / n as u32
        };
        Summary {
            n,
            p50: pct(&samples, 0.5),
            p90: pct(&samples, 0.9),
            p99: pct(&samples, 0.99),
            max: pct(&samples, 1.0),
            mean,
        }
    }
}

/// `d` in milliseconds, two decimals: `"1.25 ms"`.
pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// `d` in milliseconds as a number.
pub fn as_ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_on_sorted_samples() {
        let v: Vec<u32> = (1..=100).collect();
        assert_eq!(pct(&v, 0.5), 51);
        assert_eq!(pct(&v, 0.99), 99);
        assert_eq!(pct(&v, 1.0), 100);
        assert_eq!(pct(&v, 0.0), 1);
        assert_eq!(pct::<u32>(&[], 0.5), 0);
        let s = Summary::of((1..=4).rev().map(Duration::from_millis).collect());
        assert_eq!(
            (s.n, s.p50, s.max),
            (4, Duration::from_millis(3), Duration::from_millis(4))
        );
        assert_eq!(s.mean, Duration::from_micros(2500));
    }
}
