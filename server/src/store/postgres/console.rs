//! PostgreSQL side of [`crate::store::console`]: the console's reads, with the same results as
//! the SQLite side (same ordering, cursors, counts and figures; the pure parts are shared in
//! `store/console.rs`).
//!
//! Search: each message row carries `search_text` (its text items' words, lower case, accents
//! removed — what SQLite's `unicode61 remove_diacritics` tokenizer does) under a GIN index on
//! `to_tsvector('simple', search_text)`; a query needs every word, the last as a prefix.

use natter_protocol::Message;
use sqlx::postgres::PgArguments;
use sqlx::{Arguments, Row};
use time::{Duration, OffsetDateTime};
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

use super::super::console::*;
use super::super::{Result, StoreError};
use super::{corrupt, PgStore};

/// Words of `text` as the index holds them: lower case, no accents.
fn words(text: &str) -> Vec<String> {
    let plain: String = text.nfd().filter(|c| !is_combining_mark(*c)).collect();
    plain
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// What a message row's `search_text` holds: the words of its text items.
pub(super) fn search_text(m: &Message) -> String {
    let text: Vec<&str> = m.content.iter().filter_map(|c| c.text.as_deref()).collect();
    words(&text.join(" ")).join(" ")
}

/// The `to_tsquery('simple', …)` text for what a person typed: each word quoted, all required,
/// the last one as a prefix. `None` when there is no word.
pub fn ts_query(text: &str) -> Option<String> {
    let words: Vec<String> = words(text).into_iter().take(16).collect();
    let last = words.len().checked_sub(1)?;
    Some(
        words
            .iter()
            .enumerate()
            .map(|(i, w)| {
                if i == last {
                    format!("'{w}':*")
                } else {
                    format!("'{w}'")
                }
            })
            .collect::<Vec<_>>()
            .join(" & "),
    )
}

fn bind_err(e: sqlx::error::BoxDynError) -> StoreError {
    StoreError::Corrupt(format!("bind: {e}"))
}

/// Numbered placeholders and their arguments.
struct Params {
    args: PgArguments,
    n: usize,
}

impl Params {
    fn new() -> Self {
        Params {
            args: PgArguments::default(),
            n: 0,
        }
    }

    fn add(&mut self, v: String) -> Result<String> {
        self.args.add(v).map_err(bind_err)?;
        self.n += 1;
        Ok(format!("${}", self.n))
    }
}

/// WHERE conditions for a query, with or without the status filter and the cursor.
fn conditions(
    q: &ConversationQuery,
    with_status: bool,
    with_cursor: bool,
    p: &mut Params,
) -> Result<String> {
    let mut sql = vec!["TRUE".to_string()];
    if let Some(bot) = &q.bot {
        sql.push(format!("t.bot = {}", p.add(bot.clone())?));
    }
    if let (true, Some(status)) = (with_status, q.status) {
        sql.push(format!("t.status = {}", p.add(status.as_str().into())?));
    }
    if let Some(tag) = &q.tag {
        sql.push(format!(
            "EXISTS (SELECT 1 FROM thread_tags g WHERE g.thread_id = t.id AND g.tag = {})",
            p.add(tag.clone())?
        ));
    }
    if let Some(from) = &q.from {
        sql.push(format!("t.created_at >= {}", p.add(from.clone())?));
    }
    if let Some(to) = &q.to {
        sql.push(format!("t.created_at < {}", p.add(to.clone())?));
    }
    if let Some(search) = q.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        let exact = p.add(search.to_string())?;
        match ts_query(search) {
            Some(ts) => sql.push(format!(
                "(t.public_id = {exact} OR t.id = {exact} OR t.id IN (SELECT m.thread_id FROM messages m \
                 WHERE to_tsvector('simple', m.search_text) @@ to_tsquery('simple', {})))",
                p.add(ts)?
            )),
            None => sql.push(format!("(t.public_id = {exact} OR t.id = {exact})")),
        }
    }
    if let (true, Some(c)) = (with_cursor, &q.after) {
        let at = p.add(c.created_at.clone())?;
        let id = p.add(c.id.clone())?;
        sql.push(format!("(t.created_at, t.id) < ({at}, {id})"));
    }
    Ok(sql.join(" AND "))
}

impl PgStore {
    pub(super) async fn do_list_conversations(
        &self,
        q: &ConversationQuery,
    ) -> Result<ConversationPage> {
        let limit = q.limit.clamp(1, 200);
        let mut p = Params::new();
        let cond = conditions(q, true, true, &mut p)?;
        p.args.add(limit as i64 + 1).map_err(bind_err)?;
        let sql = format!(
            "SELECT t.id, t.public_id, t.bot, t.subject, t.status, t.tags, t.created_at, t.updated_at, \
             (SELECT count(*) FROM messages m WHERE m.thread_id = t.id) AS n, \
             (SELECT body FROM messages m WHERE m.thread_id = t.id ORDER BY m.seq DESC LIMIT 1) AS last \
             FROM (SELECT t.* FROM threads t WHERE {cond} ORDER BY t.created_at DESC, t.id DESC LIMIT ${}) t \
             ORDER BY t.created_at DESC, t.id DESC",
            p.n + 1
        );
        let rows = sqlx::query_with(&sql, p.args).fetch_all(&self.pool).await?;
        let (conversations, next_cursor) = conversation_page(&rows, limit as usize)?;
        let mut p = Params::new();
        let cond = conditions(q, false, false, &mut p)?;
        let sql =
            format!("SELECT t.status, count(*) FROM threads t WHERE {cond} GROUP BY t.status");
        let mut counts = StatusCounts::default();
        for r in sqlx::query_with(&sql, p.args).fetch_all(&self.pool).await? {
            counts.add(r.get::<&str, _>(0), r.get::<i64, _>(1) as u64);
        }
        Ok(ConversationPage {
            conversations,
            next_cursor,
            counts,
            // Counts here are exact: the GIN index gives a word's threads directly.
            counts_capped: false,
        })
    }

    pub(super) async fn do_conversation_extras(
        &self,
        thread_id: &str,
    ) -> Result<ConversationExtras> {
        let feedback = sqlx::query(
            "SELECT id, message_id, is_positive, interaction_type, text, categories, created_at \
             FROM feedback WHERE thread_id = $1 ORDER BY created_at, ord",
        )
        .bind(thread_id)
        .fetch_all(&self.pool)
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
            "SELECT seq, type, data, created_at FROM events WHERE thread_id = $1 \
             AND type NOT IN ('message.delta', 'message.started') ORDER BY seq LIMIT $2",
        )
        .bind(thread_id)
        .bind(TIMELINE_MAX as i64)
        .fetch_all(&self.pool)
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
            "SELECT * FROM handler_runs WHERE thread_id = $1 ORDER BY started_at DESC LIMIT 200",
        )
        .bind(thread_id)
        .fetch_all(&self.pool)
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

    async fn by_status(&self, bot: &str, since: String) -> Result<StatusCounts> {
        let mut c = StatusCounts::default();
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT status, count(*) FROM threads WHERE bot = $1 AND created_at >= $2 GROUP BY status",
        )
        .bind(bot)
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        for (s, n) in rows {
            c.add(&s, n as u64);
        }
        Ok(c)
    }

    pub(super) async fn do_bot_stats(&self, bot: &str, now: OffsetDateTime) -> Result<BotStats> {
        let midnight = now.replace_time(time::Time::MIDNIGHT);
        let week_start = now - Duration::days(7);
        let day_ago = now - Duration::hours(24);
        let chart_start = midnight - Duration::days(13);
        let today = self.by_status(bot, stamp(midnight)).await?;
        let week = self.by_status(bot, stamp(week_start)).await?;
        let handed_off_week: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM threads t WHERE t.bot = $1 AND t.created_at >= $2 AND \
             (t.status = 'handed_off' OR EXISTS (SELECT 1 FROM events e WHERE e.thread_id = t.id \
              AND e.type = 'thread.handed_off'))",
        )
        .bind(bot)
        .bind(stamp(week_start))
        .fetch_one(&self.pool)
        .await?;
        let votes: Vec<(String, i64, String)> = sqlx::query_as(
            "SELECT f.message_id, f.is_positive, f.categories FROM feedback f \
             JOIN threads t ON t.id = f.thread_id \
             WHERE t.bot = $1 AND f.created_at >= $2 ORDER BY f.created_at, f.ord",
        )
        .bind(bot)
        .bind(stamp(week_start))
        .fetch_all(&self.pool)
        .await?;
        let failing = |sql: &'static str| {
            let since = stamp(day_ago);
            async move {
                let rows: Vec<(String, String, Option<String>, String)> = sqlx::query_as(sql)
                    .bind(bot)
                    .bind(since)
                    .fetch_all(&self.pool)
                    .await?;
                Ok::<_, StoreError>(group_failing(rows))
            }
        };
        let failing_actions = failing(
            "SELECT action, status, error, created_at FROM action_runs \
             WHERE bot = $1 AND created_at >= $2 AND NOT test ORDER BY created_at",
        )
        .await?;
        let failing_handlers = failing(
            "SELECT handler, status, traceback, started_at FROM handler_runs \
             WHERE bot = $1 AND started_at >= $2 AND test = 0 ORDER BY started_at",
        )
        .await?;
        let rows: Vec<(String, String, i64, Option<i64>)> = sqlx::query_as(
            "SELECT kind, status, count(*), min(created_at) FROM outbox \
             WHERE bot = $1 AND status IN ('pending', 'failed') GROUP BY kind, status",
        )
        .bind(bot)
        .fetch_all(&self.pool)
        .await?;
        let outbox = outbox_stats(rows);
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT substr(created_at, 1, 10) AS d, status, count(*) FROM threads \
             WHERE bot = $1 AND created_at >= $2 GROUP BY d, status",
        )
        .bind(bot)
        .bind(stamp(chart_start))
        .fetch_all(&self.pool)
        .await?;
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
            feedback: feedback_summary(votes),
            failing_actions,
            failing_handlers,
            outbox,
            daily: daily_counts(chart_start, rows),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_quote_words_drop_accents_and_prefix_the_last() {
        assert_eq!(
            ts_query("Crème brûlée"),
            Some("'creme' & 'brulee':*".into())
        );
        assert_eq!(ts_query("a' | b:*"), Some("'a' & 'b':*".into()));
        assert_eq!(ts_query(" -- "), None);
    }
}
