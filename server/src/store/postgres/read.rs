//! The PostgreSQL store's reads of conversations: threads, history, the event log. Each is one
//! statement on the pool (READ COMMITTED: it sees every commit before it started).

use std::sync::Arc;

use natter_protocol::{FeedbackChoice, Message};
use sqlx::Row;

use super::super::{Result, SendOutcome, StoredEvent, Thread};
use super::{corrupt, thread_from_row, PgStore};

impl PgStore {
    /// The thread whose `column` (`id` or `public_id`) is `value`.
    pub(super) async fn do_thread(&self, column: &str, value: &str) -> Result<Option<Thread>> {
        let sql = match column {
            "public_id" => "SELECT * FROM threads WHERE public_id = $1",
            _ => "SELECT * FROM threads WHERE id = $1",
        };
        let row = sqlx::query(sql)
            .bind(value)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(thread_from_row).transpose()
    }

    pub(super) async fn do_last_seq(&self, thread_id: &str) -> Result<u64> {
        let v: Option<i64> = sqlx::query_scalar("SELECT last_seq FROM threads WHERE id = $1")
            .bind(thread_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(v.unwrap_or(0) as u64)
    }

    pub(super) async fn do_history(&self, thread_id: &str) -> Result<(Vec<Message>, u64)> {
        // Seq first, then only messages at or below it: a message committed in between shows
        // up in the stream after `lastSeq`, not twice.
        let last = self.do_last_seq(thread_id).await?;
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT body FROM messages WHERE thread_id = $1 AND seq <= $2 ORDER BY seq",
        )
        .bind(thread_id)
        .bind(last as i64)
        .fetch_all(&self.pool)
        .await?;
        let messages = rows
            .iter()
            .map(|b| serde_json::from_str(b).map_err(corrupt))
            .collect::<Result<_>>()?;
        Ok((messages, last))
    }

    pub(super) async fn do_feedback_choices(&self, thread_id: &str) -> Result<Vec<FeedbackChoice>> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT message_id, is_positive FROM feedback WHERE thread_id = $1 ORDER BY created_at, ord",
        )
        .bind(thread_id)
        .fetch_all(&self.pool)
        .await?;
        let mut out: Vec<FeedbackChoice> = Vec::new();
        for (message_id, positive) in rows {
            match out.iter_mut().find(|c| c.message_id == message_id) {
                Some(c) => c.is_positive = positive != 0,
                None => out.push(FeedbackChoice {
                    message_id,
                    is_positive: positive != 0,
                }),
            }
        }
        Ok(out)
    }

    pub(super) async fn do_find_client_message(
        &self,
        thread_id: &str,
        cmid: &str,
    ) -> Result<Option<SendOutcome>> {
        let row: Option<(String, String)> = sqlx::query_as(
            "SELECT id, body FROM messages WHERE thread_id = $1 AND client_message_id = $2",
        )
        .bind(thread_id)
        .bind(cmid)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|(id, body)| {
            let m: Message = serde_json::from_str(&body).map_err(corrupt)?;
            Ok(SendOutcome::Duplicate {
                message_id: id,
                run_id: m.run_id,
            })
        })
        .transpose()
    }

    pub(super) async fn do_message(
        &self,
        thread_id: &str,
        message_id: &str,
    ) -> Result<Option<Message>> {
        let row: Option<String> =
            sqlx::query_scalar("SELECT body FROM messages WHERE thread_id = $1 AND id = $2")
                .bind(thread_id)
                .bind(message_id)
                .fetch_optional(&self.pool)
                .await?;
        row.map(|b| serde_json::from_str(&b).map_err(corrupt))
            .transpose()
    }

    pub(super) async fn do_events_after(
        &self,
        thread_id: &str,
        after: u64,
        limit: u32,
    ) -> Result<Vec<Arc<StoredEvent>>> {
        self.events_between(thread_id, after, u64::MAX, limit).await
    }

    /// Committed events with `after < seq ≤ upto`, in order, at most `limit`.
    pub(super) async fn events_between(
        &self,
        thread_id: &str,
        after: u64,
        upto: u64,
        limit: u32,
    ) -> Result<Vec<Arc<StoredEvent>>> {
        let rows = sqlx::query(
            "SELECT seq, type, data FROM events WHERE thread_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq LIMIT $4",
        )
        .bind(thread_id)
        .bind(after as i64)
        .bind(upto.min(i64::MAX as u64) as i64)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                Arc::new(StoredEvent {
                    seq: r.get::<i64, _>(0) as u64,
                    event_type: r.get(1),
                    json: r.get(2),
                })
            })
            .collect())
    }

    pub(super) async fn do_idle_threads(
        &self,
        bot: &str,
        idle_before: &str,
        limit: u32,
    ) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT t.id FROM threads t WHERE t.bot = $1 AND t.status != 'closed' \
             AND (SELECT e.created_at FROM events e WHERE e.thread_id = t.id ORDER BY e.seq DESC LIMIT 1) < $2 LIMIT $3",
        )
        .bind(bot)
        .bind(idle_before)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?)
    }
}
