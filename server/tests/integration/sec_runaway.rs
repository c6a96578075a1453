//! Runaway Python code does not compete with the server as an equal: every sandboxed process
//! (and what it starts) runs niced below the server, and cannot raise its priority back; a
//! thread that burns CPU is moved to SCHED_IDLE (and its run throttled), and cannot leave
//! it, while a normal action is never moved.

use natter_python_runtime::SandboxPolicy;
use serde_json::{json, Value};

use crate::common::*;
use crate::lifecycle_common::{fast, ADMIN};

const NICE_PY: &str = r#"
import os, subprocess
def execute_action(context):
    try:
        os.nice(-5)
        raised = True
    except OSError:
        raised = False
    child = int(subprocess.run(["python3", "-c", "import os; print(os.nice(0))"], capture_output=True, text=True).stdout or -1)
    return {"nice": os.nice(0), "child": child, "raised": raised}
"#;

#[tokio::test]
async fn python_runs_niced_below_the_server_and_cannot_raise_it() {
    let tmp = tempfile::tempdir().unwrap();
    let bots = tmp.path().join("bots");
    write_bot(&bots, "py", "[stream]\ndelay_ms = 0\n");
    write_file(&bots, "py/nice.py", NICE_PY);
    write_file(
        &bots,
        "py/actions/nice.toml",
        "description = \"d\"\nkind = \"python\"\n[python]\nfile = \"nice.py\"\n",
    );
    let mut config = test_config(&tmp.path().join("data"), &bots);
    fast(&mut config);
    config.actions.python.sandbox = SandboxPolicy::Auto;
    let s = TestServer::launch(config).await;
    let r = s
        .client
        .post(s.url("/admin/v1/bots/py/actions/nice/test"))
        .bearer_auth(ADMIN)
        .json(&json!({ "args": {} }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let run = r.json::<Value>().await.unwrap()["run"].clone();
    assert_eq!(run["status"], "ok", "{run:#}");
    let nice = natter_python_runtime::PYTHON_NICE;
    assert_eq!(run["result"]["nice"], nice, "{run:#}");
    assert_eq!(
        run["result"]["child"], nice,
        "inherited by children: {run:#}"
    );
    assert_eq!(run["result"]["raised"], false, "{run:#}");
    s.stop().await;
}

const SPIN_PY: &str = r#"
import os, subprocess
def execute_action(context):
    if context["args"].get("spin"):
        # Burn CPU until the runtime demotes this thread (bounded by the action's limit).
        while os.sched_getscheduler(0) != os.SCHED_IDLE:
            sum(range(10000))
    try:
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
        escaped = True
    except OSError:
        escaped = False
    child = subprocess.run(["python3", "-c", "import os; print(os.sched_getscheduler(0))"],
                           capture_output=True, text=True).stdout.strip()
    return {"policy": os.sched_getscheduler(0), "child": int(child or -1), "escaped": escaped}
"#;

#[tokio::test]
async fn a_cpu_burning_script_moves_to_sched_idle_and_a_normal_one_does_not() {
    let tmp = tempfile::tempdir().unwrap();
    let bots = tmp.path().join("bots");
    write_bot(&bots, "py", "[stream]\ndelay_ms = 0\n");
    write_file(&bots, "py/spin.py", SPIN_PY);
    write_file(
        &bots,
        "py/actions/spin.toml",
        "description = \"d\"\nkind = \"python\"\n[python]\nfile = \"spin.py\"\ntimeout_ms = 30000\n[[args]]\nname = \"spin\"\ntype = \"boolean\"\n",
    );
    let mut config = test_config(&tmp.path().join("data"), &bots);
    fast(&mut config);
    let s = TestServer::launch(config).await;
    let run = |spin: bool| {
        let s = &s;
        async move {
            let r = s
                .client
                .post(s.url("/admin/v1/bots/py/actions/spin/test"))
                .bearer_auth(ADMIN)
                .json(&json!({ "args": {"spin": spin} }))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.unwrap()["run"].clone()
        }
    };
    let idle = libc_sched_idle();
    let normal = run(false).await;
    assert_eq!(normal["status"], "ok", "{normal:#}");
    assert_eq!(
        normal["result"]["policy"], 0,
        "a normal action stays SCHED_OTHER: {normal:#}"
    );
    let spun = run(true).await;
    assert_eq!(spun["status"], "ok", "{spun:#}");
    assert_eq!(spun["result"]["policy"], idle, "{spun:#}");
    assert_eq!(
        spun["result"]["escaped"], false,
        "it cannot leave SCHED_IDLE: {spun:#}"
    );
    assert_eq!(
        spun["result"]["child"], idle,
        "inherited by what it starts: {spun:#}"
    );
    let log = spun["log"].to_string();
    assert!(
        log.contains("SCHED_IDLE") && log.contains("throttled"),
        "the run log says so: {log}"
    );
    assert!(
        !normal["log"].to_string().contains("SCHED_IDLE"),
        "{normal:#}"
    );
    s.stop().await;
}

/// Linux's SCHED_IDLE policy number.
fn libc_sched_idle() -> i64 {
    5
}
