//! Opening the store a command names: PostgreSQL when a database URL is given, else the SQLite
//! file in the data directory. `natter serve` and the `natter action` / `natter handler` CLIs
//! go through here, so a CLI given the server's settings reads and logs to the server's store.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;

use super::postgres::{PgOptions, PgStore};
use super::sqlite::{Durability, SqliteStore};
use super::{EventSink, Store, StoredEvent};
use crate::attachments::s3::{S3Blobs, S3Config};
use crate::outbox::Planner;

/// Where the store lives and how it is kept.
pub struct StoreLocation<'a> {
    pub data_dir: &'a Path,
    /// `postgres://…`; `None` (or empty) selects SQLite in `data_dir`.
    pub database_url: Option<&'a str>,
    pub durability: Durability,
    pub postgres: PgOptions,
    /// The object store holding attachment bytes; `None`: the store's chunk table.
    pub objects: Option<S3Config>,
}

impl<'a> StoreLocation<'a> {
    /// The store of a one-shot command: full durability, a small pool, the object store of
    /// the `NATTER_S3_…` environment (so a Run Test reads the files the server stored).
    pub fn for_cli(data_dir: &'a Path, database_url: Option<&'a str>) -> Self {
        StoreLocation {
            data_dir,
            database_url,
            durability: Durability::Full,
            postgres: PgOptions {
                pool_size: 2,
                ..PgOptions::default()
            },
            objects: S3Config::from_env(),
        }
    }
}

/// Opens the store (running its migrations) with `planner` deciding each change's outbox jobs,
/// and connects its object store, if any (an unreachable one fails the open: one line naming
/// the bucket and the cause).
pub async fn open(
    at: StoreLocation<'_>,
    sink: Arc<dyn EventSink>,
    planner: Arc<dyn Planner>,
) -> anyhow::Result<Arc<dyn Store>> {
    // Checked first: a wrong bucket fails before any migration runs.
    let objects = match &at.objects {
        Some(cfg) => {
            let b = S3Blobs::connect(cfg).await?;
            tracing::info!(at = %cfg.describe(), "attachment bytes go to the object store");
            Some(b)
        }
        None => None,
    };
    let store: Arc<dyn Store> = match at.database_url.filter(|u| !u.is_empty()) {
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
    };
    if let Some(objects) = objects {
        store.set_object_blobs(Arc::new(objects));
    }
    Ok(store)
}

/// A sink for commands that stream nothing: events are stored, nobody is listening.
pub struct NoSink;

impl EventSink for NoSink {
    fn published(&self, _thread_id: &str, _events: &[Arc<StoredEvent>]) {}
}
