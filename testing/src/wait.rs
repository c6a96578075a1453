//! Bounded waiting: tests poll for a state instead of sleeping a guessed time, and a wait
//! fails after [`PATIENCE`] instead of blocking CI. Nothing asserts on elapsed time.

use std::time::Duration;

/// Every wait in tests is bounded by this (a hang fails instead of blocking CI).
pub const PATIENCE: Duration = Duration::from_secs(20);

/// Polls `f` until it returns `Some`, for at most [`PATIENCE`]; panics naming `what` after.
pub async fn until<T, F, Fut>(what: &str, f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    until_within(what, PATIENCE, f).await
}

/// As [`until`] with another bound (a restart under load, a long recovery).
pub async fn until_within<T, F, Fut>(what: &str, patience: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
