//! Support shared by Natter's integration tests and benchmarks, so that starting a server,
//! writing bots, reading an event stream and computing percentiles is written once.
//!
//! - [`stats`]: percentiles and summaries of measured durations (always built).
//! - [`server`]: a server in a temp dir, in this process, with bots written to disk.
//! - [`process`]: the `natter` binary as a child process (kill -9 and restart on the same data).
//! - [`sse`]: an event-stream reader on the protocol crate's parser.
//! - [`proxy`]: a TCP proxy that cuts connections after a chosen number of bytes.
//! - [`load`]: chatting visitors whose turn latencies benchmarks measure.
//! - [`pg_cluster`]: a throwaway PostgreSQL cluster (`NATTER_TEST_STORE=postgres`).
//! - [`s3`]: a real S3-compatible server (moto's) for the object-store backend of files.
//! - [`rand`]: a seeded generator for fault schedules (replay with `NATTER_SEED`).
//! - [`wait`]: bounded polling; every wait fails after [`wait::PATIENCE`] instead of hanging.
//!
//! Invariants: nothing here asserts on elapsed time (waits are bounded, never measured), and
//! every server listens on 127.0.0.1 only, on a port the operating system picked.

pub mod rand;
pub mod stats;

#[cfg(feature = "server")]
pub mod load;
#[cfg(feature = "server")]
pub mod pg_cluster;
#[cfg(feature = "server")]
pub mod process;
#[cfg(feature = "server")]
pub mod proxy;
#[cfg(feature = "server")]
pub mod s3;
#[cfg(feature = "server")]
pub mod server;
#[cfg(feature = "server")]
pub mod sse;
#[cfg(feature = "server")]
pub mod wait;

/// The value of environment variable `name` parsed as `T`, else `default` (the sizes of long
/// test variants and benchmarks: `NATTER_KILLS=30`, `BENCH_USERS=1000`).
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}
