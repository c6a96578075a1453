//! Prometheus metrics, rendered by hand at `/metrics` (text exposition format 0.0.4).
//!
//! One process-wide registry ([`global`]): counters and histograms are atomics, labelled
//! request counters sit behind a mutex keyed by (method, route, status), where `route` is the
//! matched route template (never the raw path, so cardinality stays bounded).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

/// Latency buckets in seconds.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

pub struct Histogram {
    counts: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    /// Sum in microseconds (atomics hold integers).
    sum_us: AtomicU64,
}

impl Histogram {
    const fn new() -> Self {
        Histogram {
            counts: [const { AtomicU64::new(0) }; BUCKETS.len()],
            count: AtomicU64::new(0),
            sum_us: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, seconds: f64) {
        if let Some(i) = BUCKETS.iter().position(|b| seconds <= *b) {
            self.counts[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_us
            .fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (i, b) in BUCKETS.iter().enumerate() {
            cumulative += self.counts[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {cumulative}");
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(
            out,
            "{name}_sum {}",
            self.sum_us.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "{name}_count {count}");
    }
}

pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    pub request_duration: Histogram,
    pub sse_open: AtomicI64,
    pub runs_started: AtomicU64,
    pub runs_completed: AtomicU64,
    pub runs_failed: AtomicU64,
    pub run_duration: Histogram,
    pub first_delta: Histogram,
    pub store_commit: Histogram,
    /// Just the COMMIT statement (with it the flush on PostgreSQL; SQLite flushes apart).
    pub store_sync: Histogram,
    /// SQLite: one flush of the WAL, off the writer's path (it may cover several commits).
    pub store_flush: Histogram,
    /// SQLite: the writer's checkpoint that lets a WAL written without pause start over.
    pub store_rewind: Histogram,
    pub store_jobs: AtomicU64,
    pub messages_received: AtomicU64,
    pub rate_limited: AtomicU64,
}

pub fn global() -> &'static Metrics {
    static M: OnceLock<Metrics> = OnceLock::new();
    M.get_or_init(|| Metrics {
        requests: Mutex::new(BTreeMap::new()),
        request_duration: Histogram::new(),
        sse_open: AtomicI64::new(0),
        runs_started: AtomicU64::new(0),
        runs_completed: AtomicU64::new(0),
        runs_failed: AtomicU64::new(0),
        run_duration: Histogram::new(),
        first_delta: Histogram::new(),
        store_commit: Histogram::new(),
        store_sync: Histogram::new(),
        store_flush: Histogram::new(),
        store_rewind: Histogram::new(),
        store_jobs: AtomicU64::new(0),
        messages_received: AtomicU64::new(0),
        rate_limited: AtomicU64::new(0),
    })
}

impl Metrics {
    pub fn request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        *self
            .requests
            .lock()
            .unwrap()
            .entry((method.to_string(), route.to_string(), status))
            .or_default() += 1;
        self.request_duration.observe(seconds);
    }

    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        out.push_str("# HELP natter_http_requests_total HTTP requests by method, route and status.\n# TYPE natter_http_requests_total counter\n");
        for ((m, r, s), n) in self.requests.lock().unwrap().iter() {
            let _ = writeln!(
                out,
                "natter_http_requests_total{{method=\"{m}\",route=\"{r}\",status=\"{s}\"}} {n}"
            );
        }
        self.request_duration.render(
            &mut out,
            "natter_http_request_duration_seconds",
            "Time to response headers.",
        );
        let g = |out: &mut String, name: &str, kind: &str, help: &str, v: i64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}"
            );
        };
        g(
            &mut out,
            "natter_sse_streams_open",
            "gauge",
            "Open event streams.",
            self.sse_open.load(Ordering::Relaxed),
        );
        let c = |a: &AtomicU64| a.load(Ordering::Relaxed) as i64;
        g(
            &mut out,
            "natter_runs_started_total",
            "counter",
            "Bot runs started.",
            c(&self.runs_started),
        );
        g(
            &mut out,
            "natter_runs_completed_total",
            "counter",
            "Bot runs completed.",
            c(&self.runs_completed),
        );
        g(
            &mut out,
            "natter_runs_failed_total",
            "counter",
            "Bot runs failed or interrupted.",
            c(&self.runs_failed),
        );
        g(
            &mut out,
            "natter_messages_received_total",
            "counter",
            "User messages stored.",
            c(&self.messages_received),
        );
        g(
            &mut out,
            "natter_rate_limited_total",
            "counter",
            "Requests refused with 429.",
            c(&self.rate_limited),
        );
        self.run_duration
            .render(&mut out, "natter_run_duration_seconds", "Bot run duration.");
        self.first_delta.render(
            &mut out,
            "natter_run_first_delta_seconds",
            "From run start to its first streamed delta.",
        );
        self.store_commit.render(
            &mut out,
            "natter_store_commit_seconds",
            "Group-commit duration (BEGIN to COMMIT done).",
        );
        self.store_sync.render(
            &mut out,
            "natter_store_sync_seconds",
            "The COMMIT statement alone.",
        );
        self.store_flush.render(
            &mut out,
            "natter_store_flush_seconds",
            "SQLite: one WAL flush after group commits, off the writer's path.",
        );
        self.store_rewind.render(
            &mut out,
            "natter_store_rewind_seconds",
            "SQLite: the writer's WAL checkpoint that starts a WAL written without pause over.",
        );
        g(
            &mut out,
            "natter_store_jobs_total",
            "counter",
            "Store write jobs (batch size = jobs / commits).",
            c(&self.store_jobs),
        );
        out
    }
}
