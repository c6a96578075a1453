//! SQLite side of [`crate::store::console`]: the console's reads, on the read pool only.
//!
//! Lists walk the `threads_*_created` indexes of migration 0007 newest first and stop after a
//! page; search goes through the `messages_fts` full-text index (kept by the store writer:
//! [`super::fts`]), never through a scan of message bodies.

use sqlx::sqlite::SqliteArguments;
use sqlx::{Arguments, Row};
use time::{Duration, OffsetDateTime};

use super::super::console::*;
use super::super::sqlite_writer::Op;
use super::super::{Result, StoreError};
use super::SqliteStore;

fn corrupt(e: serde_json::Error) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

fn bind_err(e: sqlx::error::BoxDynError) -> StoreError {
    StoreError::Corrupt(format!("bind: {e}"))
}

/// The FTS5 query for what a person typed: each word quoted (so no FTS syntax gets through),
/// all required, the last one as a prefix. `None` when there is no word.
pub fn fts_query(text: &str) -> Option<String> {
    let words: Vec<&str> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(16)
        .collect();
    let last = words.len().checked_sub(1)?;
    Some(
        words
            .iter()
            .enumerate()
            .map(|(i, w)| {
                if i == last {
                    format!("\"{w}\"*")
                } else {
                    format!("\"{w}\"")
                }
            })
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// Above this many matching rows (threads for a tag, messages for a word) a filter is dense.
/// A tag or a word is a set of threads, read once per query. A sparse set drives the query
/// (its few threads looked up, then sorted); a dense one is probed as the newest-first walk
/// goes (the walk stops after a page, where driving would look up and sort every match), and
/// its counts stop at the cap. The `+` before a dense filter's column keeps SQLite from
/// driving by it.
const DENSE: i64 = 2000;

#[derive(Debug, Clone, Copy, Default)]
struct Density {
    tag: bool,
    search: bool,
}

/// WHERE conditions and their arguments for a query, with or without the status filter and
/// the cursor, for a tag and a search of the given [`Density`].
fn conditions(
    q: &ConversationQuery,
    with_status: bool,
    with_cursor: bool,
    density: Density,
) -> Result<(String, SqliteArguments<'static>)> {
    let mut sql = vec!["1 = 1".to_string()];
    let mut args = SqliteArguments::default();
    if let Some(bot) = &q.bot {
        sql.push("t.bot = ?".into());
        args.add(bot.clone()).map_err(bind_err)?;
    }
    if let (true, Some(status)) = (with_status, q.status) {
        sql.push("t.status = ?".into());
        args.add(status.as_str().to_string()).map_err(bind_err)?;
    }
    if let Some(tag) = &q.tag {
        let plus = if density.tag { "+" } else { "" };
        sql.push(format!(
            "{plus}t.id IN (SELECT thread_id FROM thread_tags WHERE tag = ?)"
        ));
        args.add(tag.clone()).map_err(bind_err)?;
    }
    if let Some(from) = &q.from {
        sql.push("t.created_at >= ?".into());
        args.add(from.clone()).map_err(bind_err)?;
    }
    if let Some(to) = &q.to {
        sql.push("t.created_at < ?".into());
        args.add(to.clone()).map_err(bind_err)?;
    }
    if let Some(search) = q.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        match fts_query(search) {
            Some(fts) => {
                // The index's rowids carry the thread (migration 0010): the word's threads
                // are a set of integers read from the index alone.
                let plus = if density.search { "+" } else { "" };
                sql.push(format!(
                    "(t.public_id = ? OR t.id = ? OR {plus}t.rowid IN \
                     (SELECT rowid >> 32 FROM messages_fts WHERE messages_fts MATCH ?))"
                ));
                args.add(search.to_string()).map_err(bind_err)?;
                args.add(search.to_string()).map_err(bind_err)?;
                args.add(fts).map_err(bind_err)?;
            }
            None => {
                sql.push("(t.public_id = ? OR t.id = ?)".into());
                args.add(search.to_string()).map_err(bind_err)?;
                args.add(search.to_string()).map_err(bind_err)?;
            }
        }
    }
    if let (true, Some(c)) = (with_cursor, &q.after) {
        sql.push("(t.created_at, t.id) < (?, ?)".into());
        args.add(c.created_at.clone()).map_err(bind_err)?;
        args.add(c.id.clone()).map_err(bind_err)?;
    }
    Ok((sql.join(" AND "), args))
}

/// The counts per status of a query (every filter but `status`), and whether they are capped:
/// plain filters and sparse sets count exactly; with a dense one the count walks the newest
/// matches only, up to the cap.
fn count_query(
    q: &ConversationQuery,
    density: Density,
) -> Result<(String, SqliteArguments<'static>, bool)> {
    let (cond, mut args) = conditions(q, false, false, density)?;
    let capped = density.tag || density.search;
    let sql = if capped {
        args.add(COUNT_CAP as i64 + 1).map_err(bind_err)?;
        format!(
            "SELECT status, count(*) FROM (SELECT t.status FROM threads t WHERE {cond} \
             ORDER BY t.created_at DESC, t.id DESC LIMIT ?) GROUP BY status"
        )
    } else {
        format!("SELECT t.status, count(*) FROM threads t WHERE {cond} GROUP BY t.status")
    };
    Ok((sql, args, capped))
}

impl SqliteStore {
    pub(super) async fn do_list_conversations(
        &self,
        q: &ConversationQuery,
    ) -> Result<ConversationPage> {
        let limit = q.limit.clamp(1, 200);
        if q.search.as_deref().and_then(fts_query).is_some() {
            // Messages stored in the last second may still wait for the index.
            self.submit(Op::IndexSearch).await?;
        }
        let density = self.density(q).await?;
        let (cond, mut args) = conditions(q, true, true, density)?;
        args.add(limit as i64 + 1).map_err(bind_err)?;
        // The page is chosen first (inner query), then only its rows get their message count
        // and last message: SQLite would otherwise compute them for every matching row before
        // sorting when a filter (tag, search) drives the plan.
        let sql = format!(
            "SELECT t.id, t.public_id, t.bot, t.subject, t.status, t.tags, t.created_at, t.updated_at, \
             (SELECT count(*) FROM messages m WHERE m.thread_id = t.id) AS n, \
             (SELECT body FROM messages m WHERE m.thread_id = t.id ORDER BY m.seq DESC LIMIT 1) AS last \
             FROM (SELECT t.* FROM threads t WHERE {cond} ORDER BY t.created_at DESC, t.id DESC LIMIT ?) t \
             ORDER BY t.created_at DESC, t.id DESC"
        );
        // The page and the counts are independent reads: run them on two pooled connections
        // at once, so the answer takes the longer of the two, not their sum.
        let page = sqlx::query_with(&sql, args).fetch_all(&self.read);
        let (count_sql, count_args, capped) = count_query(q, density)?;
        let count = sqlx::query_with(&count_sql, count_args).fetch_all(&self.read);
        let (rows, count_rows) = tokio::try_join!(page, count)?;
        let (conversations, next_cursor) = conversation_page(&rows, limit as usize)?;
        let mut counts = StatusCounts::default();
        for r in count_rows {
            counts.add(r.get::<&str, _>(0), r.get::<i64, _>(1) as u64);
        }
        let counts_capped = capped && counts.total() > COUNT_CAP;
        Ok(ConversationPage {
            conversations,
            next_cursor,
            counts,
            counts_capped,
        })
    }

    /// Whether the tag and the search are dense, by counting their rows up to [`DENSE`]
    /// (index-only, so cheap either way).
    async fn density(&self, q: &ConversationQuery) -> Result<Density> {
        let tag = match &q.tag {
            Some(tag) => {
                let n: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM (SELECT 1 FROM thread_tags WHERE tag = ? LIMIT ?)",
                )
                .bind(tag)
                .bind(DENSE + 1)
                .fetch_one(&self.read)
                .await?;
                n > DENSE
            }
            None => false,
        };
        let search = match q.search.as_deref().and_then(fts_query) {
            Some(fts) => {
                let n: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ? LIMIT ?)",
                )
                .bind(fts)
                .bind(DENSE + 1)
                .fetch_one(&self.read)
                .await?;
                n > DENSE
            }
            None => false,
        };
        Ok(Density { tag, search })
    }

    pub(super) async fn do_conversation_extras(
        &self,
        thread_id: &str,
    ) -> Result<ConversationExtras> {
        let feedback = sqlx::query(
            "SELECT id, message_id, is_positive, interaction_type, text, categories, created_at \
             FROM feedback WHERE thread_id = ? ORDER BY created_at, rowid",
        )
        .bind(thread_id)
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(|r| {
            Ok(FeedbackRow {
                id: r.get(0),
                message_id: r.get(1),
                is_positive: r.get::<i64, _>(2) != 0,
                interaction_type: r.get(3),
                text: r.get(4),
                categories: serde_json::from_str(r.get::<&str, _>(5)).map_err(corrupt)?,
                created_at: r.get(6),
            })
        })
        .collect::<Result<Vec<_>>>()?;
        let timeline = sqlx::query(
            "SELECT seq, type, data, created_at FROM events WHERE thread_id = ? \
             AND type NOT IN ('message.delta', 'message.started') ORDER BY seq LIMIT ?",
        )
        .bind(thread_id)
        .bind(TIMELINE_MAX as i64)
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(|r| {
            Ok(TimelineEvent {
                seq: r.get::<i64, _>(0) as u64,
                event_type: r.get(1),
                data: serde_json::from_str(r.get::<&str, _>(2)).map_err(corrupt)?,
                created_at: r.get(3),
            })
        })
        .collect::<Result<Vec<_>>>()?;
        let handler_runs = sqlx::query(
            "SELECT id, job_id, bot, handler, event_type, thread_id, test, status, result, stdout, \
             stderr, traceback, duration_ms, started_at FROM handler_runs WHERE thread_id = ? \
             ORDER BY started_at DESC LIMIT 200",
        )
        .bind(thread_id)
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(handler_run)
        .collect::<Result<Vec<_>>>()?;
        Ok(ConversationExtras {
            feedback,
            timeline,
            handler_runs,
        })
    }

    pub(super) async fn do_bot_stats(&self, bot: &str, now: OffsetDateTime) -> Result<BotStats> {
        let midnight = now.replace_time(time::Time::MIDNIGHT);
        let week_start = now - Duration::days(7);
        let day_ago = now - Duration::hours(24);
        let chart_start = midnight - Duration::days(13);

        let by_status = |since: String| {
            let bot = bot.to_string();
            async move {
                let mut c = StatusCounts::default();
                let rows: Vec<(String, i64)> = sqlx::query_as(
                    "SELECT status, count(*) FROM threads WHERE bot = ? AND created_at >= ? GROUP BY status",
                )
                .bind(bot)
                .bind(since)
                .fetch_all(&self.read)
                .await?;
                for (s, n) in rows {
                    c.add(&s, n as u64);
                }
                Ok::<_, StoreError>(c)
            }
        };
        let today = by_status(stamp(midnight)).await?;
        let week = by_status(stamp(week_start)).await?;

        let handed_off_week: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM threads t WHERE t.bot = ? AND t.created_at >= ? AND \
             (t.status = 'handed_off' OR EXISTS (SELECT 1 FROM events e WHERE e.thread_id = t.id \
              AND e.type = 'thread.handed_off'))",
        )
        .bind(bot)
        .bind(stamp(week_start))
        .fetch_one(&self.read)
        .await?;

        let feedback = self.feedback_stats(bot, &stamp(week_start)).await?;
        let failing_actions = self
            .failing(
                "SELECT action, status, error, created_at FROM action_runs \
             WHERE bot = ? AND created_at >= ? AND test = 0 ORDER BY created_at",
                bot,
                &stamp(day_ago),
            )
            .await?;
        let failing_handlers = self
            .failing(
                "SELECT handler, status, traceback, started_at FROM handler_runs \
             WHERE bot = ? AND started_at >= ? AND test = 0 ORDER BY started_at",
                bot,
                &stamp(day_ago),
            )
            .await?;

        let rows: Vec<(String, String, i64, Option<i64>)> = sqlx::query_as(
            "SELECT kind, status, count(*), min(created_at) FROM outbox \
             WHERE bot = ? AND status IN ('pending', 'failed') GROUP BY kind, status",
        )
        .bind(bot)
        .fetch_all(&self.read)
        .await?;
        let outbox = outbox_stats(rows);
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT substr(created_at, 1, 10) AS d, status, count(*) FROM threads \
             WHERE bot = ? AND created_at >= ? GROUP BY d, status",
        )
        .bind(bot)
        .bind(stamp(chart_start))
        .fetch_all(&self.read)
        .await?;
        let daily = daily_counts(chart_start, rows);
        let total = week.total();
        Ok(BotStats {
            bot: bot.to_string(),
            generated_at: stamp(now),
            today,
            handoff_rate: if total == 0 {
                0.0
            } else {
                handed_off_week as f64 / total as f64
            },
            week,
            handed_off_week: handed_off_week as u64,
            feedback,
            failing_actions,
            failing_handlers,
            outbox,
            daily,
        })
    }

    /// One vote per message (its latest); categories of every details form.
    async fn feedback_stats(&self, bot: &str, since: &str) -> Result<FeedbackStats> {
        let rows: Vec<(String, i64, String)> = sqlx::query_as(
            "SELECT f.message_id, f.is_positive, f.categories FROM feedback f \
             JOIN threads t ON t.id = f.thread_id \
             WHERE t.bot = ? AND f.created_at >= ? ORDER BY f.created_at, f.rowid",
        )
        .bind(bot)
        .bind(since)
        .fetch_all(&self.read)
        .await?;
        Ok(feedback_summary(rows))
    }

    /// Groups runs `(name, status, error, at)` oldest first into those with failures.
    async fn failing(&self, sql: &str, bot: &str, since: &str) -> Result<Vec<Failing>> {
        let rows: Vec<(String, String, Option<String>, String)> = sqlx::query_as(sql)
            .bind(bot)
            .bind(since)
            .fetch_all(&self.read)
            .await?;
        Ok(group_failing(rows))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_words_are_quoted_and_the_last_is_a_prefix() {
        assert_eq!(fts_query("where is"), Some("\"where\" \"is\"*".into()));
        assert_eq!(fts_query("a\" OR b*"), Some("\"a\" \"OR\" \"b\"*".into()));
        assert_eq!(fts_query(" -- "), None);
    }

    /// A tag or a word with more matches than [`DENSE`]: the page is still the newest ones,
    /// the counts stop at the cap and say so; a rare word and plain filters count exactly.
    #[tokio::test]
    async fn tag_and_search_counts_stop_at_the_cap() {
        use crate::store::sqlite::Durability;
        use crate::store::{EventSink, Store};
        struct NoSink;
        impl EventSink for NoSink {
            fn published(&self, _: &str, _: &[std::sync::Arc<crate::store::StoredEvent>]) {}
        }
        let dir = tempfile::tempdir().unwrap();
        let open =
            || SqliteStore::open(dir.path(), Durability::Normal, std::sync::Arc::new(NoSink));
        open().await.unwrap().close().await;
        let n = DENSE as usize + 20;
        {
            let mut c = rusqlite::Connection::open(dir.path().join("natter.db")).unwrap();
            let tx = c.transaction().unwrap();
            for i in 0..n {
                let id = format!("thr_{i:06}");
                let at = format!(
                    "2026-01-01T{:02}:{:02}:{:02}.000Z",
                    i / 3600,
                    i / 60 % 60,
                    i % 60
                );
                tx.execute(
                    "INSERT INTO threads (id, public_id, bot, status, tags, created_at, updated_at) \
                     VALUES (?1, ?2, 'b', ?3, '[\"x\"]', ?4, ?4)",
                    rusqlite::params![id, format!("P{i:06}"), ["open", "closed"][i % 2], at],
                )
                .unwrap();
                tx.execute(
                    "INSERT INTO thread_tags (id, thread_id, tag, created_at) VALUES (?1, ?2, 'x', ?3)",
                    rusqlite::params![format!("tag_{i}"), id, at],
                )
                .unwrap();
                let text = if i < 5 { "rare parcel" } else { "common word" };
                let body =
                    serde_json::json!({"content": [{"response_type": "text", "text": text}]});
                tx.execute(
                    "INSERT INTO messages (id, thread_id, seq, role, body, created_at) \
                     VALUES (?1, ?2, 1, 'user', ?3, ?4)",
                    rusqlite::params![format!("msg_{i}"), id, body.to_string(), at],
                )
                .unwrap();
            }
            tx.commit().unwrap();
        }
        // Rows written behind the store's back: it indexes them for search as it opens.
        let store = open().await.unwrap();
        let list = |f: &dyn Fn(&mut ConversationQuery)| {
            let mut q = ConversationQuery {
                limit: 10,
                ..Default::default()
            };
            f(&mut q);
            let store = &store;
            async move { store.list_conversations(&q).await.unwrap() }
        };
        let newest = format!("thr_{:06}", n - 1);
        for page in [
            list(&|q| q.tag = Some("x".into())).await,
            list(&|q| q.search = Some("common".into())).await,
        ] {
            assert_eq!(page.conversations[0].id, newest);
            assert_eq!(page.conversations.len(), 10);
            assert!(page.counts_capped);
            assert_eq!(page.counts.total(), COUNT_CAP + 1);
        }
        let rare = list(&|q| q.search = Some("parcel".into())).await;
        assert!(!rare.counts_capped);
        assert_eq!(rare.counts.total(), 5);
        assert_eq!(rare.conversations.len(), 5);
        let all = list(&|_| {}).await;
        assert!(!all.counts_capped, "plain filters count exactly");
        assert_eq!(all.counts.total(), n as u64);
    }
}
