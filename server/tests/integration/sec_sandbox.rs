//! The Python sandbox from the server's side. `sandbox = required` (NATTER_PYTHON_SANDBOX)
//! refuses to start without a usable bubblewrap, naming the setting. Through Run Test of a
//! bot's Python action and of its event handler alike: the store's database, another bot's
//! files and the server's environment cannot be read; `sleep(120)` is killed at the limit;
//! 100 MB written to stdout is capped; the server keeps serving. Where bubblewrap cannot run
//! (some containers), the isolation checks say so on one line and are skipped.

use natter_python_runtime::SandboxPolicy;
use serde_json::{json, Value};

use crate::common::*;
use crate::lifecycle_common::{fast, ADMIN};

fn bwrap_usable() -> bool {
    std::process::Command::new("bwrap")
        .args(["--ro-bind", "/", "/", "--unshare-user", "true"])
        .status()
        .is_ok_and(|s| s.success())
}

#[tokio::test]
async fn required_sandbox_refuses_to_start_without_bubblewrap() {
    let tmp = tempfile::tempdir().unwrap();
    let bots = tmp.path().join("bots");
    write_bot(&bots, "t", TEST_BOT);
    let mut config = test_config(&tmp.path().join("data"), &bots);
    config.actions.python.sandbox = SandboxPolicy::Require;
    config.actions.python.bwrap = "/nonexistent/bwrap".into();
    let err = natter_server::server::Server::start(config, Default::default())
        .await
        .err()
        .expect("no bubblewrap, sandbox required: the start is refused");
    let msg = format!("{err:#}");
    assert!(
        msg.contains("NATTER_PYTHON_SANDBOX=required") && msg.contains("bubblewrap"),
        "{msg}"
    );
    if bwrap_usable() {
        let s = TestServer::start_with(&[("t", TEST_BOT)], |c| {
            c.actions.python.sandbox = SandboxPolicy::Require;
        })
        .await;
        s.stop().await;
    }
}

/// The probes, as an action (`args`) and as a handler (the conversation's metadata).
const PROBE: &str = r#"
import os, sys, time

def attempt(f):
    try:
        return "ALLOWED: " + repr(f())[:60]
    except Exception as e:
        return "denied: " + type(e).__name__

def holds_secret(path):
    try:
        with open(path, "rb") as f:
            return b"s3cr3t-env" in f.read()
    except Exception:
        return False

def probe(what, path):
    if what == "sleep":
        time.sleep(120)
        return "woke"
    if what == "flood":
        chunk = "x" * (1 << 20)
        for _ in range(100):
            sys.stdout.write(chunk)
        sys.stdout.flush()
        return "flooded"
    return {
        "file": attempt(lambda: open(path, "rb").read(64)),
        "leak": holds_secret(path) or any("s3cr3t-env" in v for v in os.environ.values()),
        "env": sorted(k for k in os.environ if k.startswith("NATTER")),
    }

def execute_action(context):
    return probe(context["args"]["what"], context["args"].get("path", ""))

def handle_event(context):
    meta = context["conversation"]["metadata"]
    return probe(meta["what"], meta.get("path", ""))
"#;

/// Runs the probe as an action and as a handler; returns both runs.
async fn run_both(s: &TestServer, what: &str, path: &str) -> [Value; 2] {
    let r = s
        .client
        .post(s.url("/admin/v1/bots/py/actions/probe/test"))
        .bearer_auth(ADMIN)
        .json(&json!({ "args": {"what": what, "path": path} }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let action = r.json::<Value>().await.unwrap()["run"].clone();
    let thread = s
        .create_thread_with(
            "py",
            Some(json!({"metadata": {"what": what, "path": path}})),
        )
        .await;
    let handler = s
        .test_handler(ADMIN, "py", "probe", &thread, "conversation_closed")
        .await;
    [action, handler]
}

#[tokio::test]
async fn python_actions_and_handlers_cannot_read_the_store_other_bots_or_the_environment_and_runaways_stop(
) {
    if !bwrap_usable() {
        eprintln!("SANDBOX ISOLATION NOT TESTED: bubblewrap cannot run here, so the store / other bot / server environment / sleep / output probes were skipped for actions and handlers");
        return;
    }
    std::env::set_var("NATTER_SEC_TEST_SECRET", "s3cr3t-env");
    let tmp = tempfile::tempdir().unwrap();
    let bots = tmp.path().join("bots");
    write_bot(&bots, "py", "[stream]\ndelay_ms = 0\n");
    write_file(&bots, "py/probe.py", PROBE);
    write_file(&bots, "py/handlers/conversation_closed/probe.py", PROBE);
    write_file(
        &bots,
        "py/actions/probe.toml",
        "description = \"d\"\nkind = \"python\"\n[python]\nfile = \"probe.py\"\ntimeout_ms = 1500\n[[args]]\nname = \"what\"\n[[args]]\nname = \"path\"\nrequired = false\n",
    );
    write_bot(&bots, "other", "[stream]\ndelay_ms = 0\n");
    write_file(&bots, "other/keys.py", "API_KEY = 'other-bots-key'\n");
    let data = tmp.path().join("data");
    let mut config = test_config(&data, &bots);
    fast(&mut config);
    // Actions and handlers each have their runtime (`natter serve` sets both from
    // NATTER_PYTHON_SANDBOX).
    config.actions.python.sandbox = SandboxPolicy::Require;
    config.lifecycle.python.sandbox = SandboxPolicy::Require;
    config.lifecycle.python.handler_timeout = std::time::Duration::from_millis(1500);
    let s = TestServer::launch(config).await;

    // The store's files exist on SQLite; on PostgreSQL there are none, and the paths below are
    // simply absent (still denied).
    let db = data.join("natter.db");
    assert_eq!(db.exists(), !on_postgres());
    // Not there at all (denied), or there but without the server's secret (the sandbox's own
    // pid 1 is the sandbox's process, not the server).
    let mut probes = 0;
    for (path, must_deny) in [
        (db.display().to_string(), true),
        (data.join("natter.db-wal").display().to_string(), true),
        (bots.join("other/keys.py").display().to_string(), true),
        (format!("/proc/{}/environ", std::process::id()), true),
        ("/proc/1/environ".to_string(), false),
        ("/proc/self/environ".to_string(), false),
    ] {
        for (kind, run) in ["action", "handler"]
            .iter()
            .zip(run_both(&s, "read", &path).await)
        {
            let file = run["result"]["file"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            assert_eq!(run["status"], "ok", "{kind} {path}: {run:#}");
            assert!(
                !must_deny || file.starts_with("denied"),
                "{kind} {path}: {run:#}"
            );
            assert_eq!(run["result"]["leak"], false, "{kind} {path}: {run:#}");
            assert_eq!(run["result"]["env"], json!([]), "{kind}: {run:#}");
            probes += 1;
        }
    }
    for (kind, run) in ["action", "handler"]
        .iter()
        .zip(run_both(&s, "sleep", "").await)
    {
        assert_eq!(run["status"], "timeout", "{kind}: {run:#}");
        probes += 1;
    }
    let mut kept = Vec::new();
    for (kind, run) in ["action", "handler"]
        .iter()
        .zip(run_both(&s, "flood", "").await)
    {
        let n = run["stdout"].as_str().unwrap_or_default().len();
        assert!(n <= 128 * 1024, "{kind}: stdout kept {n} bytes");
        kept.push(n);
        probes += 1;
    }
    // Still serving.
    for (kind, run) in ["action", "handler"]
        .iter()
        .zip(run_both(&s, "read", "/nonexistent").await)
    {
        assert_eq!(run["status"], "ok", "{kind}: {run:#}");
    }
    eprintln!("sandbox: {probes} probes (actions and handlers): db, other bot, host env denied; sleep(120) stopped at 1.5 s; 100 MB of stdout kept as {kept:?} bytes");
    s.stop().await;
}
