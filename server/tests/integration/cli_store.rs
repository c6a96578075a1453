//! The `natter handler` and `natter action` commands read and log to the store the server
//! uses: on PostgreSQL through the same DATABASE_URL, on SQLite through --data.

use std::process::Command;

use crate::common::*;
use crate::lifecycle_common::*;

const NATTER: &str = env!("CARGO_BIN_EXE_natter");

const BOT: &str = r#"
name = "CLI bot"
greeting = "Hi!"
[stream]
delay_ms = 0
[[workflows]]
name = "human"
triggers = { keywords = ["human"] }
steps = [ { handoff = "Connecting you.", reason = "asked" } ]
"#;

const NOTIFY_PY: &str = r#"
def handle_event(context):
    print("notified", context["conversation"]["id"])
    return {"event": context["args"]["event_type"]}
"#;

fn natter(args: &[&str], data: &std::path::Path) -> (bool, String, String) {
    let out = Command::new(NATTER)
        .args(args)
        .arg("--data")
        .arg(data)
        .envs(engine_env(data))
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn handler_runs_and_test_read_and_log_to_the_servers_store() {
    let tmp = tempfile::tempdir().unwrap();
    let bots = tmp.path().join("bots");
    let data = tmp.path().join("data");
    write_bot(&bots, "cli", BOT);
    write_file(
        &bots,
        "cli/handlers/conversation_handed_off/notify.py",
        NOTIFY_PY,
    );
    let mut config = test_config(&data, &bots);
    fast(&mut config);
    let s = TestServer::launch(config).await;
    let thread = s.create_thread("cli").await;
    s.turn(&thread, "human please").await;
    handler_runs(&s.client, &s.base, "cli", 1).await;
    s.stop().await;

    let bot = bots.join("cli");
    let bot = bot.to_str().unwrap();
    let (ok, out, err) = natter(&["handler", "runs", bot], &data);
    assert!(ok, "{out}{err}");
    assert_eq!(
        out.lines().filter(|l| l.contains("notify")).count(),
        1,
        "{out}"
    );
    assert!(out.contains("conversation_handed_off  notify  ok"), "{out}");
    assert!(out.contains(&format!("notified {thread}")), "{out}");
    assert!(!out.contains("(test)"), "{out}");

    let (ok, out, err) = natter(
        &["handler", "test", bot, "notify", "--conversation", &thread],
        &data,
    );
    assert!(ok, "{out}{err}");
    let (ok, out, err) = natter(&["handler", "runs", bot], &data);
    assert!(ok, "{out}{err}");
    assert_eq!(
        out.lines().filter(|l| l.contains("(test)")).count(),
        1,
        "{out}"
    );

    // A conversation the store does not hold: a clear error, nothing logged.
    let (ok, out, err) = natter(
        &["handler", "test", bot, "notify", "--conversation", "nope"],
        &data,
    );
    assert!(!ok, "{out}");
    assert!(err.starts_with("natter: "), "{err}");
    let (_, out, _) = natter(&["handler", "runs", bot], &data);
    assert_eq!(
        out.lines().filter(|l| l.contains("(test)")).count(),
        1,
        "{out}"
    );
    // The commands used the server's engine: no SQLite file appears beside a PostgreSQL store.
    assert_eq!(data.join("natter.db").exists(), !on_postgres());
}
