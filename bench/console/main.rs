//! The console's conversation list with 100,000 conversations in SQLite: first page, filtered
//! page, page deep in the list (cursor), and searches (a rare word and a common one), p50/p99
//! over repeated calls of `Store::list_conversations` (the whole query the admin endpoint
//! runs, counts per status included). Baseline in the same run: a primary-key read of one
//! conversation (`Store::thread`) on the same pool.
//!
//! `cargo bench -p natter-server --bench console` (knobs: BENCH_CONVERSATIONS=100000,
//! BENCH_ITERS=200).

use std::sync::Arc;
use std::time::{Duration, Instant};

use natter_protocol::ThreadStatus;
use natter_server::store::console::{ConversationQuery, Cursor};
use natter_server::store::sqlite::{Durability, SqliteStore};
use natter_server::store::{EventSink, Store, StoredEvent};
use natter_testing::env_or;

struct NoSink;
impl EventSink for NoSink {
    fn published(&self, _: &str, _: &[Arc<StoredEvent>]) {}
}

const USER: &[&str] = &[
    "where is my order {n}",
    "what are your opening hours",
    "shipping to the EU please",
    "do you have the trail mug in stock",
    "I want to talk to a human",
    "my parcel {n} arrived damaged",
];

fn body(id: &str, role: &str, text: &str, at: &str) -> String {
    serde_json::json!({"id": id, "role": role, "content": [{"id": "c0", "response_type": "text", "text": text}],
        "message_options": {}, "created_at": at})
    .to_string()
}

/// Writes `n` conversations of three messages each straight into the database file (one
/// transaction), as the server would have stored them; the FTS trigger indexes them.
fn seed(path: &std::path::Path, n: usize) {
    let mut c = rusqlite::Connection::open(path).unwrap();
    let tx = c.transaction().unwrap();
    {
        let mut th = tx.prepare("INSERT INTO threads (id, public_id, bot, status, tags, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)").unwrap();
        let mut msg = tx.prepare("INSERT INTO messages (id, thread_id, seq, role, body, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)").unwrap();
        let mut tag = tx
            .prepare(
                "INSERT INTO thread_tags (id, thread_id, tag, created_at) VALUES (?1, ?2, ?3, ?4)",
            )
            .unwrap();
        let start = time::OffsetDateTime::now_utc() - time::Duration::days(30);
        let fmt = time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        );
        for i in 0..n {
            let at = (start + time::Duration::milliseconds((i as i64) * 25_920))
                .format(&fmt)
                .unwrap();
            let id = format!("thr_{i:012x}");
            let status = ["open", "closed", "closed", "handed_off"][i % 4];
            let bot = ["demo", "shop"][i % 2];
            let tags = if i % 10 == 0 { "[\"vip\"]" } else { "[]" };
            th.execute(rusqlite::params![
                id,
                format!("P{i:09}"),
                bot,
                status,
                tags,
                at
            ])
            .unwrap();
            if i % 10 == 0 {
                tag.execute(rusqlite::params![format!("tag_{i}"), id, "vip", at])
                    .unwrap();
            }
            let user = USER[i % USER.len()].replace("{n}", &format!("{:06}", 100_000 + i));
            for (seq, (role, text)) in [
                ("assistant", "Hi! How can I help?"),
                ("user", user.as_str()),
                ("assistant", "Let me check that for you."),
            ]
            .iter()
            .enumerate()
            {
                let mid = format!("msg_{i:012x}_{seq}");
                msg.execute(rusqlite::params![
                    mid,
                    id,
                    seq as i64 + 1,
                    role,
                    body(&mid, role, text, &at),
                    at
                ])
                .unwrap();
            }
        }
    }
    tx.commit().unwrap();
}

/// The `p` quantile of `v` in milliseconds.
fn pct(mut v: Vec<Duration>, p: f64) -> f64 {
    v.sort();
    natter_testing::stats::as_ms(natter_testing::stats::pct(&v, p))
}

fn main() {
    let n = env_or("BENCH_CONVERSATIONS", 100_000);
    let iters = env_or("BENCH_ITERS", 200);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path(), Durability::Normal, Arc::new(NoSink))
            .await
            .unwrap();
        store.close().await;
        let t = Instant::now();
        seed(&dir.path().join("natter.db"), n);
        println!(
            "seeded {n} conversations ({} messages) in {:.1} s",
            n * 3,
            t.elapsed().as_secs_f64()
        );
        let store = SqliteStore::open(dir.path(), Durability::Normal, Arc::new(NoSink))
            .await
            .unwrap();

        let q = |f: &dyn Fn(&mut ConversationQuery)| {
            let mut q = ConversationQuery {
                limit: 50,
                ..Default::default()
            };
            f(&mut q);
            q
        };
        let first = store.list_conversations(&q(&|_| {})).await.unwrap();
        let deep_cursor = {
            // The 20th page's position.
            let mut page = first.clone();
            for _ in 0..19 {
                let after = Cursor::decode(page.next_cursor.as_ref().unwrap()).unwrap();
                page = store
                    .list_conversations(&q(&|q| q.after = Some(after.clone())))
                    .await
                    .unwrap();
            }
            Cursor::decode(page.next_cursor.as_ref().unwrap()).unwrap()
        };
        let rare = format!("{:06}", 100_000 + n / 2 - (n / 2) % USER.len());
        let cases: Vec<(&str, ConversationQuery)> = vec![
            ("first page (all bots, counts)", q(&|_| {})),
            (
                "first page bot=demo status=open",
                q(&|q| {
                    q.bot = Some("demo".into());
                    q.status = Some(ThreadStatus::Open);
                }),
            ),
            (
                "page 21 (cursor)",
                q(&|q| q.after = Some(deep_cursor.clone())),
            ),
            ("tag=vip", q(&|q| q.tag = Some("vip".into()))),
            (
                "search rare (an order number)",
                q(&|q| q.search = Some(rare.clone())),
            ),
            (
                "search public id",
                q(&|q| q.search = Some(format!("P{:09}", n / 3))),
            ),
            (
                "search common word (\"shipping\", 1/6 of all)",
                q(&|q| q.search = Some("shipping".into())),
            ),
        ];
        let mut base = Vec::with_capacity(iters);
        let some_id = first.conversations[0].id.clone();
        for _ in 0..iters {
            let t = Instant::now();
            store.thread(&some_id).await.unwrap().unwrap();
            base.push(t.elapsed());
        }
        println!("\nconversations: {n}, iterations per case: {iters}");
        println!(
            "{:<48} {:>9} {:>9} {:>6}",
            "case", "p50 ms", "p99 ms", "rows"
        );
        println!(
            "{:<48} {:>9.2} {:>9.2} {:>6}",
            "baseline: one conversation by id",
            pct(base.clone(), 0.5),
            pct(base, 0.99),
            1
        );
        for (name, query) in cases {
            let mut times = Vec::with_capacity(iters);
            let mut rows = 0;
            for _ in 0..iters {
                let t = Instant::now();
                let page = store.list_conversations(&query).await.unwrap();
                times.push(t.elapsed());
                rows = page.conversations.len();
            }
            println!(
                "{:<48} {:>9.2} {:>9.2} {:>6}",
                name,
                pct(times.clone(), 0.5),
                pct(times, 0.99),
                rows
            );
        }
        store.close().await;
    });
}
