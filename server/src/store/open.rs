//! Opening the store a command names: PostgreSQL when a database URL is given, else the SQLite
//! file in the data directory. `natter serve` and the `natter action` / `natter handler` CLIs
//! go through here, so a CLI given the server's settings reads and logs to the server's store.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;

use super::postgres::{PgOptions, PgStore};
use super::sqlite::{Durability, SqliteStore};
use super::{EventSink, Store, StoredEvent};
use crate::outbox::Planner;

/// Where the store lives and how it is kept.
pub struct StoreLocation<'a> {
    pub data_dir: &'a Path,
    /// `postgres://…`; `None` (or empty) selects SQLite in `data_dir`.
    pub database_url: Option<&'a str>,
    pub durability: Durability,
    pub postgres: PgOptions,
}

impl<'a> StoreLocation<'a> {
    /// The store of a one-shot command: full durability, a small pool.
    pub fn for_cli(data_dir: &'a Path, database_url: Option<&'a str>) -> Self {
        StoreLocation {
            data_dir,
            database_url,
            durability: Durability::Full,
            postgres: PgOptions {
                pool_size: 2,
                ..PgOptions::default()
            },
        }
    }
}

/// Opens the store (running its migrations) with `planner` deciding each change's outbox jobs.
pub async fn open(
    at: StoreLocation<'_>,
    sink: Arc<dyn EventSink>,
    planner: Arc<dyn Planner>,
) -> anyhow::Result<Arc<dyn Store>> {
    Ok(match at.database_url.filter(|u| !u.is_empty()) {
        Some(url) => Arc::new(
            PgStore::open(url, at.postgres, sink, planner)
                .await
                .context("opening the PostgreSQL store")?,
        ),
        None => Arc::new(
            SqliteStore::open_with_planner(at.data_dir, at.durability, sink, planner)
                .await
                .with_context(|| format!("opening the store in {}", at.data_dir.display()))?,
        ),
    })
}

/// A sink for commands that stream nothing: events are stored, nobody is listening.
pub struct NoSink;

impl EventSink for NoSink {
    fn published(&self, _thread_id: &str, _events: &[Arc<StoredEvent>]) {}
}
