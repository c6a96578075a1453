//! PostgreSQL migrations (`server/migrations/postgres/`, numbered as the SQLite ones and kept
//! in step with them: version N does the same change on both engines).
//!
//! Instances starting together on one database run them once: the first takes a
//! transaction-level advisory lock, the others wait for it, then find every version applied.
//! All versions pending commit together with their `schema_version` rows (DDL is
//! transactional here), so a failed start leaves the schema as it was.

use sqlx::PgPool;

use super::super::Result;
use crate::time::now_rfc3339;

const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        include_str!("../../../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        include_str!("../../../migrations/postgres/0002_action_runs.sql"),
    ),
    (
        3,
        include_str!("../../../migrations/postgres/0003_outbox.sql"),
    ),
    (
        4,
        include_str!("../../../migrations/postgres/0004_run_attempts.sql"),
    ),
    (
        5,
        include_str!("../../../migrations/postgres/0005_secret_metadata.sql"),
    ),
    (
        6,
        include_str!("../../../migrations/postgres/0006_seq_reserved.sql"),
    ),
    (
        7,
        include_str!("../../../migrations/postgres/0007_console.sql"),
    ),
    (
        8,
        include_str!("../../../migrations/postgres/0008_instances.sql"),
    ),
    (
        9,
        include_str!("../../../migrations/postgres/0009_message_user_defined.sql"),
    ),
    (
        10,
        include_str!("../../../migrations/postgres/0010_console_fts_threads.sql"),
    ),
    (
        11,
        include_str!("../../../migrations/postgres/0011_thread_channel_session.sql"),
    ),
    (
        12,
        include_str!("../../../migrations/postgres/0012_attachments.sql"),
    ),
    (
        13,
        include_str!("../../../migrations/postgres/0013_local_crm.sql"),
    ),
    (
        14,
        include_str!("../../../migrations/postgres/0014_console_sessions.sql"),
    ),
];

/// The advisory lock key of migrations (any constant shared by all instances).
const LOCK_KEY: i64 = 0x6e61_7474_6572; // "natter"

/// Applies every version not applied yet, in order; returns how many it applied.
pub(super) async fn run(pool: &PgPool) -> Result<usize> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(LOCK_KEY)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT PRIMARY KEY, applied_at TEXT NOT NULL)",
    )
    .execute(&mut *tx)
    .await?;
    let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM schema_version")
        .fetch_all(&mut *tx)
        .await?;
    let mut count = 0;
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| !applied.contains(v)) {
        sqlx::raw_sql(sql).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO schema_version (version, applied_at) VALUES ($1, $2)")
            .bind(version)
            .bind(now_rfc3339())
            .execute(&mut *tx)
            .await?;
        tracing::info!(version, "applied migration");
        count += 1;
    }
    tx.commit().await?;
    Ok(count)
}
