//! A server on 127.0.0.1:0 in this process, with bots written to a temp dir, on the store
//! engine the run asks for (`NATTER_TEST_STORE=postgres`, else SQLite), and a small client of
//! the visitor API. [`TestServer::at`] wraps a server started elsewhere (a `natter` process).

use std::path::{Path, PathBuf};
use std::time::Duration;

use natter_protocol::sse::SseEvent;
use natter_server::http::limits::Rate;
use natter_server::server::{Server, ServerConfig};
use natter_server::store::sqlite::Durability;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::sse::SseReader;
use crate::wait::PATIENCE;

/// A bot used by most tests: no pacing, word chunks, every step kind.
pub const TEST_BOT: &str = r#"
name = "Test bot"
greeting = "Hello there!"
fallback = "I did not get that."

[stream]
chunk = "word"
delay_ms = 0

[feedback]
positive = ["Helpful"]
negative = ["Wrong", "Slow"]

[cors]
allowed_origins = ["https://shop.example"]

[[workflows]]
name = "human"
interrupts = true
triggers = { keywords = ["human"] }
steps = [ { handoff = "Connecting you.", reason = "asked" } ]

[[workflows]]
name = "echo"
triggers = { keywords = ["crème brûlée", "hello world"] }
steps = [ { say = "one two three four five six seven eight", feedback = true } ]

[[workflows]]
name = "order"
triggers = { regex = ['\bORDER\s+status\b'] }
steps = [
  { ask = "order", prompt = "Order number?", pattern = '\b(\d{4})\b', retry = "Four digits please.", max_attempts = 2, on_fail = "Giving up." },
  { ask = "email", prompt = "Email for {{order}}?", validate = "email", retry = "Bad email." },
  { branch = "order", cases = [ { matches = '^9', goto = "late" }, { in = ["1234", "4321"], goto = "famous" } ], default = "ok" },
  { id = "ok", say = "Order {{order}} ok, mail to {{email}}." },
  { goto = "end" },
  { id = "late", say = "Order {{order}} is late." },
  { goto = "end" },
  { id = "famous", say = "Order {{order}} is famous." },
]

[[workflows]]
name = "colors"
triggers = { keywords = ["colors"] }
steps = [
  { buttons = "Pick one", options = [ { label = "Red", value = "red" }, { label = "Blue", value = "blue" } ], save = "color", retry = "Pick a button." },
  { branch = "color", cases = [ { equals = "red", goto = "r" } ] },
  { say = "Blue it is." },
  { goto = "end" },
  { id = "r", say = "Red it is." },
]

[[workflows]]
name = "size"
triggers = { keywords = ["size"] }
steps = [ { ask = "size", prompt = "Which size?", choices = ["Small", "Large"], buttons = true }, { say = "Size {{size}}." } ]

[[workflows]]
name = "cards"
triggers = { keywords = ["cards"] }
steps = [ { carousel = "Look:", cards = [ { title = "A", description = "first", image_url = "https://x/a.png", buttons = [ { label = "Pick A", value = "a" } ] }, { title = "B" } ] } ]

[[workflows]]
name = "custom"
triggers = { keywords = ["custom"] }
steps = [ { user_defined = { kind = "map", lat = 1.5 }, text = "A map:" } ]

[[workflows]]
name = "bye"
triggers = { keywords = ["bye"] }
steps = [ { say = "Bye!" }, { close = "" } ]

[[workflows]]
name = "loop"
triggers = { keywords = ["loop forever"] }
steps = [ { id = "a", goto = "a" } ]
"#;

pub struct TestServer {
    pub base: String,
    pub data: PathBuf,
    pub bots: PathBuf,
    pub shutdown: CancellationToken,
    pub handle: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    pub client: reqwest::Client,
    pub _tmp: Option<tempfile::TempDir>,
}

pub fn write_bot(bots: &Path, slug: &str, toml: &str) {
    write_file(bots, &format!("{slug}/bot.toml"), toml);
}

/// A file of the bots folder (`rel`: e.g. `shop/actions/x.py`), its folders created.
pub fn write_file(bots: &Path, rel: &str, text: &str) {
    let p = bots.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// The store engine tests run on: `NATTER_TEST_STORE=postgres` (a throwaway cluster, one
/// database per data directory) or SQLite (the default).
pub fn on_postgres() -> bool {
    std::env::var("NATTER_TEST_STORE").is_ok_and(|v| v == "postgres")
}

/// The database URL of a data directory under `NATTER_TEST_STORE=postgres` (the same
/// directory, e.g. a restarted server, gets the same database), else `None`.
pub fn database_url(data: &Path) -> Option<String> {
    on_postgres().then(|| {
        let cluster = crate::pg_cluster::cluster();
        cluster.database(&crate::pg_cluster::database_name(data))
    })
}

/// Seconds without a heartbeat after which a test instance counts as dead (PostgreSQL).
pub const TEST_RUN_LEASE: Duration = Duration::from_secs(2);

/// Environment for a spawned `natter serve` on `data`: the engine's settings.
pub fn engine_env(data: &Path) -> Vec<(String, String)> {
    match database_url(data) {
        Some(url) => vec![
            ("DATABASE_URL".into(), url),
            ("NATTER_DB_POOL".into(), "4".into()),
            (
                "NATTER_RUN_LEASE".into(),
                TEST_RUN_LEASE.as_secs().to_string(),
            ),
        ],
        None => Vec::new(),
    }
}

/// Runs SQL statements directly on the store of `data` (either engine), as a crash or an
/// operator would leave it. On a blocking thread: a statement that waits for a row lock of the
/// server (in this test's runtime) must not stop the server from releasing it.
pub fn store_sql(data: &Path, sql: &str) -> impl std::future::Future<Output = ()> {
    let (data, sql) = (data.to_path_buf(), sql.to_string());
    async move {
        tokio::task::spawn_blocking(move || {
            if on_postgres() {
                let cluster = crate::pg_cluster::cluster();
                cluster.psql(&crate::pg_cluster::database_name(&data), &sql);
            } else {
                let conn = rusqlite::Connection::open(data.join("natter.db")).unwrap();
                conn.execute_batch(&sql).unwrap();
            }
        })
        .await
        .unwrap()
    }
}

/// The rows of a query on the store of `data` (either engine), each column as text (`""` for
/// NULL), for checks a client cannot make through the API.
pub fn store_rows(data: &Path, sql: &str) -> Vec<Vec<String>> {
    if on_postgres() {
        let cluster = crate::pg_cluster::cluster();
        let out = cluster.psql(&crate::pg_cluster::database_name(data), sql);
        return out
            .lines()
            .filter(|l| !l.is_empty())
            .map(|l| l.split('|').map(str::to_string).collect())
            .collect();
    }
    use rusqlite::types::ValueRef;
    let conn = rusqlite::Connection::open(data.join("natter.db")).unwrap();
    let mut stmt = conn.prepare(sql).unwrap();
    let n = stmt.column_count();
    let rows = stmt
        .query_map([], |r| {
            (0..n)
                .map(|i| {
                    Ok(match r.get_ref(i)? {
                        ValueRef::Null => String::new(),
                        ValueRef::Integer(v) => v.to_string(),
                        ValueRef::Real(v) => v.to_string(),
                        ValueRef::Text(t) | ValueRef::Blob(t) => {
                            String::from_utf8_lossy(t).into_owned()
                        }
                    })
                })
                .collect::<rusqlite::Result<Vec<String>>>()
        })
        .unwrap();
    rows.map(Result::unwrap).collect()
}

pub fn test_config(data: &Path, bots: &Path) -> ServerConfig {
    let mut c = ServerConfig {
        addr: "127.0.0.1:0".into(),
        data_dir: data.to_path_buf(),
        database_url: database_url(data),
        postgres: natter_server::store::postgres::PgOptions {
            pool_size: 4,
            run_lease: TEST_RUN_LEASE,
        },
        bots_dir: bots.to_path_buf(),
        durability: Durability::Normal,
        header_read_timeout: Duration::from_secs(5),
        grace: Duration::from_secs(5),
        ..ServerConfig::default()
    };
    c.http.limits.per_ip = Rate {
        per_sec: 0.0,
        burst: 0.0,
    };
    c.http.limits.per_thread = Rate {
        per_sec: 0.0,
        burst: 0.0,
    };
    c.http.www_dir = Some(bots.join("../www"));
    c.http.widget_dir = Some(bots.join("../pkg"));
    c
}

impl TestServer {
    /// A server with the test bot as `t`.
    pub async fn start() -> TestServer {
        Self::start_with(&[("t", TEST_BOT)], |_| {}).await
    }

    pub async fn start_with(
        bots: &[(&str, &str)],
        tweak: impl FnOnce(&mut ServerConfig),
    ) -> TestServer {
        Self::start_with_files(bots, &[], tweak).await
    }

    /// [`start_with`](Self::start_with), plus other files of the bots (`(path under the bots
    /// folder, text)`: actions, handlers), written before the server loads them.
    pub async fn start_with_files(
        bots: &[(&str, &str)],
        files: &[(&str, &str)],
        tweak: impl FnOnce(&mut ServerConfig),
    ) -> TestServer {
        let tmp = tempfile::tempdir().unwrap();
        let bots_dir = tmp.path().join("bots");
        for (slug, toml) in bots {
            write_bot(&bots_dir, slug, toml);
        }
        for (rel, text) in files {
            write_file(&bots_dir, rel, text);
        }
        let mut config = test_config(&tmp.path().join("data"), &bots_dir);
        tweak(&mut config);
        let mut s = Self::launch(config).await;
        s._tmp = Some(tmp);
        s
    }

    /// A client of a server already listening at `base` (e.g. a spawned `natter`) on `data`
    /// and `bots`; [`stop`](Self::stop) does nothing to it.
    pub fn at(base: String, data: &Path, bots: &Path) -> TestServer {
        TestServer {
            base,
            data: data.to_path_buf(),
            bots: bots.to_path_buf(),
            shutdown: CancellationToken::new(),
            handle: None,
            client: reqwest::Client::new(),
            _tmp: None,
        }
    }

    pub async fn launch(config: ServerConfig) -> TestServer {
        let shutdown = CancellationToken::new();
        let (data, bots) = (config.data_dir.clone(), config.bots_dir.clone());
        let server = Server::start(config, shutdown.clone())
            .await
            .expect("server starts");
        let base = format!("http://{}", server.local_addr());
        let handle = tokio::spawn(server.run());
        TestServer {
            base,
            data,
            bots,
            shutdown,
            handle: Some(handle),
            client: reqwest::Client::new(),
            _tmp: None,
        }
    }

    /// Graceful stop; returns the temp dir so a restart can reuse the data.
    pub async fn stop(mut self) -> Option<tempfile::TempDir> {
        self.shutdown.cancel();
        if let Some(h) = self.handle.take() {
            tokio::time::timeout(PATIENCE, h)
                .await
                .expect("server stops in time")
                .unwrap()
                .unwrap();
        }
        self._tmp.take()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn create_thread(&self, bot: &str) -> String {
        self.create_thread_with(bot, None).await
    }

    /// A thread created with this body (metadata, greeting, …), or none.
    pub async fn create_thread_with(&self, bot: &str, body: Option<Value>) -> String {
        let mut req = self
            .client
            .post(self.url(&format!("/v1/bots/{bot}/threads")));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 201, "{:?}", r.text().await);
        r.json::<Value>().await.unwrap()["threadId"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Run Test of an event handler through the admin API (`admin`: the admin token), for
    /// `thread` and `event`: the run, as JSON (a 200 is asserted).
    pub async fn test_handler(
        &self,
        admin: &str,
        bot: &str,
        handler: &str,
        thread: &str,
        event: &str,
    ) -> Value {
        let r = self
            .client
            .post(self.url(&format!("/admin/v1/bots/{bot}/handlers/{handler}/test")))
            .bearer_auth(admin)
            .json(&json!({"conversationId": thread, "eventType": event}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{:?}", r.text().await);
        r.json().await.unwrap()
    }

    pub async fn send(&self, thread: &str, cmid: &str, text: &str) -> (u16, Value) {
        self.post_message(thread, json!({"clientMessageId": cmid, "content": text}))
            .await
    }

    /// A visitor's message with files uploaded to the thread before (`attachments`: their ids).
    pub async fn send_files(
        &self,
        thread: &str,
        cmid: &str,
        text: &str,
        attachments: &[&Value],
    ) -> (u16, Value) {
        let body = json!({"clientMessageId": cmid, "content": text, "attachments": attachments});
        self.post_message(thread, body).await
    }

    async fn post_message(&self, thread: &str, body: Value) -> (u16, Value) {
        let r = self
            .client
            .post(self.url(&format!("/v1/threads/{thread}/messages")))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Closes the thread as its visitor (`POST …/close`), expecting 200.
    pub async fn close(&self, thread: &str) {
        let r = self
            .client
            .post(self.url(&format!("/v1/threads/{thread}/close")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "closing {thread}");
    }

    pub async fn history(&self, thread: &str) -> Value {
        let r = self
            .client
            .get(self.url(&format!("/v1/threads/{thread}/messages")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    /// Sends and waits for the run's end; returns the events of that run (from `message.created`).
    pub async fn turn(&self, thread: &str, text: &str) -> Vec<Value> {
        self.turn_with(thread, &uuid::Uuid::new_v4().to_string(), text)
            .await
    }

    /// Like [`turn`](Self::turn) with a given clientMessageId; waits for *this* run's end.
    pub async fn turn_with(&self, thread: &str, cmid: &str, text: &str) -> Vec<Value> {
        let before = self.last_seq(thread).await;
        let (status, body) = self.send(thread, cmid, text).await;
        assert_eq!(status, 202, "{body}");
        let mut sse = self.events(thread, Some(before)).await;
        let mut out = Vec::new();
        loop {
            let ev = sse.next_json().await.expect("stream continues");
            let t = ev["type"].as_str().unwrap().to_string();
            out.push(ev);
            if body["runId"].is_null() && t == "message.created" {
                return out;
            }
            if (t == "run.completed" || t == "run.failed")
                && out.last().unwrap()["runId"] == body["runId"]
            {
                return out;
            }
        }
    }

    pub async fn last_seq(&self, thread: &str) -> u64 {
        self.history(thread).await["lastSeq"].as_u64().unwrap()
    }

    pub async fn events(&self, thread: &str, after: Option<u64>) -> SseReader {
        let mut url = self.url(&format!("/v1/threads/{thread}/events"));
        if let Some(a) = after {
            url.push_str(&format!("?after={a}"));
        }
        let r = self.client.get(url).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "text/event-stream");
        SseReader::new(r)
    }

    /// Every event of the thread so far (reads until the stream idles past the last seq).
    pub async fn all_events(&self, thread: &str) -> Vec<SseEvent> {
        let last = self.last_seq(thread).await;
        let mut sse = self.events(thread, Some(0)).await;
        let mut out = Vec::new();
        while out.len() < last as usize {
            out.push(sse.next().await.expect("event"));
        }
        out
    }
}

pub async fn error_code(r: reqwest::Response) -> (u16, String) {
    let s = r.status().as_u16();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    (
        s,
        v["error"]["code"].as_str().unwrap_or("<none>").to_string(),
    )
}
