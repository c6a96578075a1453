//! What the console and the admin API read beyond single conversations: the conversation list
//! (filters, full-text search, keyset paging, counts per status), the extras of a
//! conversation's detail view (feedback, timeline, handler runs, browser session) and a bot's
//! overview figures. Read-only: nothing here writes.
//!
//! Invariants: a list is ordered newest first by `(created_at, id)`, and a cursor is the
//! position of the last row of a page, so paging never skips or repeats a conversation even
//! while new ones arrive (they sort before the first page). Counts per status apply every
//! filter but the status itself, so the numbers beside a status filter say what picking it
//! would show.

use std::collections::HashMap;

use natter_protocol::ThreadStatus;
use serde::Serialize;
use serde_json::Value;
use time::{Duration, OffsetDateTime};

/// Which conversations to list.
/// A console sign-in session as stored: the hash of its id, never the id.
#[derive(Debug, Clone)]
pub struct ConsoleSession {
    pub id_hash: String,
    pub csrf: String,
    pub created_at: i64,
    pub expires_at: i64,
}

#[derive(Debug, Clone, Default)]
pub struct ConversationQuery {
    pub bot: Option<String>,
    pub status: Option<ThreadStatus>,
    pub tag: Option<String>,
    /// Created at or after this RFC 3339 UTC time.
    pub from: Option<String>,
    /// Created before this RFC 3339 UTC time.
    pub to: Option<String>,
    /// Matches a public id or id exactly, or words of the messages' text.
    pub search: Option<String>,
    /// Continue after this position (the previous page's `nextCursor`).
    pub after: Option<Cursor>,
    /// Rows per page (1..=200).
    pub limit: u32,
}

/// A position in the newest-first order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: String,
    pub id: String,
}

impl Cursor {
    /// Opaque text for clients: `created_at` and `id` joined, hex-encoded (URL-safe).
    pub fn encode(&self) -> String {
        let raw = format!("{}|{}", self.created_at, self.id);
        raw.bytes().map(|b| format!("{b:02x}")).collect()
    }

    pub fn decode(text: &str) -> Option<Cursor> {
        if !text.len().is_multiple_of(2) || text.len() > 512 {
            return None;
        }
        let bytes: Option<Vec<u8>> = (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
            .collect();
        let raw = String::from_utf8(bytes?).ok()?;
        let (created_at, id) = raw.split_once('|')?;
        Some(Cursor {
            created_at: created_at.into(),
            id: id.into(),
        })
    }
}

/// One row of the conversation list.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConversationSummary {
    pub id: String,
    pub public_id: String,
    pub bot: String,
    pub subject: Option<String>,
    /// `open`, `handed_off` or `closed`.
    pub status: String,
    pub tags: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
    pub message_count: u64,
    /// The text of the last message, cut to 160 characters.
    pub last_message: Option<String>,
}

/// Conversations per status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct StatusCounts {
    pub open: u64,
    pub handed_off: u64,
    pub closed: u64,
}

impl StatusCounts {
    pub fn add(&mut self, status: &str, n: u64) {
        match status {
            "open" => self.open += n,
            "handed_off" => self.handed_off += n,
            "closed" => self.closed += n,
            _ => {}
        }
    }

    pub fn total(&self) -> u64 {
        self.open + self.handed_off + self.closed
    }
}

/// One page of the list.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConversationPage {
    pub conversations: Vec<ConversationSummary>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
    /// Counts per status under every filter but `status`.
    pub counts: StatusCounts,
    /// With a tag or a search that matches very many rows (a common word), counting stops past
    /// [`COUNT_CAP`] conversations (the newest): then `true`, and `counts` covers only those —
    /// show the total as "1000+".
    pub counts_capped: bool,
}

/// How many conversations matching a tag or a search are counted at most.
pub const COUNT_CAP: u64 = 1000;

/// One feedback given on a bot message (a thumb click, then possibly the details form).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FeedbackRow {
    pub id: String,
    pub message_id: String,
    pub is_positive: bool,
    /// `button` (thumb) or `details` (the form, with text and categories).
    pub interaction_type: String,
    pub text: Option<String>,
    pub categories: Vec<String>,
    pub created_at: String,
}

/// One event of a conversation's log, as the timeline shows it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TimelineEvent {
    pub seq: u64,
    #[serde(rename = "type")]
    pub event_type: String,
    pub created_at: String,
    /// The event envelope as the widget receives it.
    #[schema(value_type = Object)]
    pub data: Value,
}

/// What a conversation's detail view needs besides the thread, its messages and its action
/// runs and outbox jobs (which have their own store methods).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConversationExtras {
    pub feedback: Vec<FeedbackRow>,
    /// Every event but the streaming deltas, oldest first (at most [`TIMELINE_MAX`]).
    pub timeline: Vec<TimelineEvent>,
    pub handler_runs: Vec<crate::outbox::HandlerRun>,
}

/// Timeline events returned per conversation.
pub const TIMELINE_MAX: u32 = 2000;

/// A category and how often it was picked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CategoryCount {
    pub category: String,
    pub count: u64,
}

/// Feedback over a period: one vote per message (its latest), categories from the forms.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FeedbackStats {
    pub positive: u64,
    pub negative: u64,
    pub top_positive: Vec<CategoryCount>,
    pub top_negative: Vec<CategoryCount>,
}

/// An action or handler that failed at least once in the period.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Failing {
    /// The action's or handler's name.
    pub name: String,
    pub failures: u64,
    pub runs: u64,
    pub last_status: String,
    pub last_error: Option<String>,
    pub last_at: String,
}

/// The bot's outbox: what still has to happen.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutboxStats {
    pub pending_handlers: u64,
    pub pending_webhooks: u64,
    /// Jobs given up (webhooks after their last attempt).
    pub failed: u64,
    /// When the oldest webhook still pending was queued (RFC 3339), if any.
    pub oldest_pending_webhook_at: Option<String>,
}

/// Conversations created on one UTC day, by current status.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DayCounts {
    /// `YYYY-MM-DD`.
    pub day: String,
    #[serde(flatten)]
    pub counts: StatusCounts,
}

/// A bot's overview.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BotStats {
    pub bot: String,
    pub generated_at: String,
    /// Created since 00:00 UTC today, by current status.
    pub today: StatusCounts,
    /// Created in the last 7 days, by current status.
    pub week: StatusCounts,
    /// Of the last 7 days' conversations, how many were handed off at some point.
    pub handed_off_week: u64,
    /// `handed_off_week / week total` (0 when there were none).
    pub handoff_rate: f64,
    /// Last 7 days.
    pub feedback: FeedbackStats,
    /// Actions with failed runs in the last 24 hours (tests excluded).
    pub failing_actions: Vec<Failing>,
    /// Handlers with failed runs in the last 24 hours (tests excluded).
    pub failing_handlers: Vec<Failing>,
    pub outbox: OutboxStats,
    /// The last 14 days, oldest first, every day present.
    pub daily: Vec<DayCounts>,
}

/// A console list page from its rows (at most `limit + 1`: one more than the page says there
/// is a next one), for either engine's rows (same columns, same text encodings): the page's
/// summaries and the cursor of the next page.
pub(crate) fn conversation_page<'r, R>(
    rows: &'r [R],
    limit: usize,
) -> super::Result<(Vec<ConversationSummary>, Option<String>)>
where
    R: sqlx::Row,
    &'static str: sqlx::ColumnIndex<R>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    &'r str: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<&'r str>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let mut conversations = Vec::with_capacity(rows.len().min(limit));
    for r in rows.iter().take(limit) {
        conversations.push(ConversationSummary {
            id: r.get("id"),
            public_id: r.get("public_id"),
            bot: r.get("bot"),
            subject: r.get("subject"),
            status: r.get("status"),
            tags: serde_json::from_str(r.get::<&str, _>("tags"))
                .map_err(|e| super::StoreError::Corrupt(e.to_string()))?,
            created_at: r.get("created_at"),
            updated_at: r.get("updated_at"),
            message_count: r.get::<i64, _>("n") as u64,
            last_message: r
                .get::<Option<&str>, _>("last")
                .and_then(|b| message_text(b, 160)),
        });
    }
    let next_cursor = (rows.len() > limit)
        .then(|| conversations.last())
        .flatten()
        .map(|c| {
            Cursor {
                created_at: c.created_at.clone(),
                id: c.id.clone(),
            }
            .encode()
        });
    Ok((conversations, next_cursor))
}

/// A `handler_runs` row as a [`HandlerRun`], for either engine's rows (same columns, same
/// text encodings).
pub(crate) fn handler_run<'r, R>(r: &'r R) -> super::Result<crate::outbox::HandlerRun>
where
    R: sqlx::Row,
    &'static str: sqlx::ColumnIndex<R>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<&'r str>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(crate::outbox::HandlerRun {
        id: r.get("id"),
        job_id: r.get("job_id"),
        bot: r.get("bot"),
        handler: r.get("handler"),
        event_type: r.get("event_type"),
        thread_id: r.get("thread_id"),
        test: r.get::<i64, _>("test") != 0,
        status: r.get("status"),
        result: r
            .get::<Option<&str>, _>("result")
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| super::StoreError::Corrupt(e.to_string()))?,
        stdout: r.get("stdout"),
        stderr: r.get("stderr"),
        traceback: r.get("traceback"),
        duration_ms: r.get::<i64, _>("duration_ms") as u64,
        started_at: r.get("started_at"),
    })
}

/// The text of a stored message body: its text items joined, cut to `max` characters.
pub(crate) fn message_text(body: &str, max: usize) -> Option<String> {
    let v: Value = serde_json::from_str(body).ok()?;
    let mut text = String::new();
    for item in v.get("content")?.as_array()? {
        let part = item
            .get("text")
            .and_then(Value::as_str)
            .or_else(|| item.get("response_type").and_then(Value::as_str))
            .unwrap_or("");
        if !text.is_empty() && !part.is_empty() {
            text.push(' ');
        }
        text.push_str(part);
    }
    Some(if text.chars().count() > max {
        let mut cut: String = text.chars().take(max).collect();
        cut.push('…');
        cut
    } else {
        text
    })
}

/// RFC 3339 with milliseconds, UTC, as every stored timestamp is written.
pub(crate) fn stamp(t: OffsetDateTime) -> String {
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    t.format(&fmt).unwrap_or_default()
}

fn day(t: OffsetDateTime) -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    t.format(&fmt).unwrap_or_default()
}

/// Runs `(name, status, error, at)`, oldest first, grouped into those with failures (most
/// failures first).
pub(crate) fn group_failing(rows: Vec<(String, String, Option<String>, String)>) -> Vec<Failing> {
    let mut by_name: Vec<Failing> = Vec::new();
    for (name, status, error, at) in rows {
        let i = match by_name.iter().position(|f| f.name == name) {
            Some(i) => i,
            None => {
                by_name.push(Failing {
                    name,
                    failures: 0,
                    runs: 0,
                    last_status: String::new(),
                    last_error: None,
                    last_at: String::new(),
                });
                by_name.len() - 1
            }
        };
        let f = &mut by_name[i];
        f.runs += 1;
        if status != "ok" {
            f.failures += 1;
            f.last_status = status;
            // A traceback's last line says what went wrong.
            f.last_error = error.map(|e| e.trim().lines().last().unwrap_or("").to_string());
            f.last_at = at;
        }
    }
    by_name.retain(|f| f.failures > 0);
    by_name.sort_by(|a, b| b.failures.cmp(&a.failures).then(a.name.cmp(&b.name)));
    by_name
}

/// Feedback rows `(message id, is_positive, categories JSON)` oldest first: one vote per
/// message (its latest), categories of every details form.
pub(crate) fn feedback_summary(rows: Vec<(String, i64, String)>) -> FeedbackStats {
    let mut votes: HashMap<String, bool> = HashMap::new();
    let mut cats: [HashMap<String, u64>; 2] = Default::default();
    for (message, positive, categories) in rows {
        let positive = positive != 0;
        votes.insert(message, positive);
        let list: Vec<String> = serde_json::from_str(&categories).unwrap_or_default();
        for c in list {
            *cats[positive as usize].entry(c).or_default() += 1;
        }
    }
    let top = |m: &HashMap<String, u64>| {
        let mut v: Vec<CategoryCount> = m
            .iter()
            .map(|(c, n)| CategoryCount {
                category: c.clone(),
                count: *n,
            })
            .collect();
        v.sort_by(|a, b| b.count.cmp(&a.count).then(a.category.cmp(&b.category)));
        v.truncate(5);
        v
    };
    let positive = votes.values().filter(|p| **p).count() as u64;
    FeedbackStats {
        positive,
        negative: votes.len() as u64 - positive,
        top_positive: top(&cats[1]),
        top_negative: top(&cats[0]),
    }
}

/// Outbox counts `(kind, status, count, oldest created_at ms)` of pending and failed jobs.
pub(crate) fn outbox_stats(rows: Vec<(String, String, i64, Option<i64>)>) -> OutboxStats {
    let mut outbox = OutboxStats::default();
    for (kind, status, n, oldest) in rows {
        match (kind.as_str(), status.as_str()) {
            ("handler", "pending") => outbox.pending_handlers = n as u64,
            ("webhook", "pending") => {
                outbox.pending_webhooks = n as u64;
                outbox.oldest_pending_webhook_at = oldest
                    .and_then(|ms| {
                        OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000).ok()
                    })
                    .map(stamp);
            }
            (_, "failed") => outbox.failed += n as u64,
            _ => {}
        }
    }
    outbox
}

/// 14 days from `chart_start`, each present, from rows `(YYYY-MM-DD, status, count)`.
pub(crate) fn daily_counts(
    chart_start: OffsetDateTime,
    rows: Vec<(String, String, i64)>,
) -> Vec<DayCounts> {
    let mut daily: Vec<DayCounts> = (0..14)
        .map(|i| DayCounts {
            day: day(chart_start + Duration::days(i)),
            counts: StatusCounts::default(),
        })
        .collect();
    for (d, status, n) in rows {
        if let Some(slot) = daily.iter_mut().find(|x| x.day == d) {
            slot.counts.add(&status, n as u64);
        }
    }
    daily
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_refuses_garbage() {
        let c = Cursor {
            created_at: "2026-01-02T03:04:05.678Z".into(),
            id: "thr_ab|c".into(),
        };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        assert_eq!(Cursor::decode("zz"), None);
        assert_eq!(Cursor::decode("abc"), None);
        assert_eq!(Cursor::decode("6162"), None, "no separator");
    }

    #[test]
    fn message_text_joins_items_and_cuts() {
        let body = r#"{"content":[{"text":"hello"},{"response_type":"carousel"}]}"#;
        assert_eq!(message_text(body, 100).as_deref(), Some("hello carousel"));
        assert_eq!(message_text(body, 3).as_deref(), Some("hel…"));
    }
}
