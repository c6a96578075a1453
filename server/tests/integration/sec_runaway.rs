//! Runaway Python code does not compete with the server as an equal: every sandboxed process
//! (and what it starts) runs niced below the server, and cannot raise its priority back.

use natter_python_runtime::SandboxPolicy;
use serde_json::{json, Value};

use crate::common::*;
use crate::lifecycle_common::{fast, write_file, ADMIN};

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
