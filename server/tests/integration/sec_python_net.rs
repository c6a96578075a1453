//! Python actions and event handlers have no network by default: a direct connection fails,
//! and their only way out is the egress proxy, which lets through a `host:port` on the bot's
//! `[python] egress` list and then only to addresses its `[network]` policy allows (the API
//! actions' check). Spy listeners on 127.0.0.1 count every connection made to them.
//!
//! Three bots run the same probes, through Run Test of an action and of a handler:
//! - `none`: no `egress` → nothing reaches the spy; `requests` gets the proxy's 403;
//! - `listed`: the spy on `egress`, default `[network]` (loopback refused) → still nothing,
//!   and the 403 says the policy refused a loopback address;
//! - `allowed`: the spy on `egress` and `[network] allow_private_network` → the request
//!   arrives; a port not on the list and the metadata address are still refused.

use natter_python_runtime::SandboxPolicy;
use serde_json::{json, Value};

use crate::common::*;
use crate::lifecycle_common::{fast, ADMIN};
use crate::sec_outbound::Spy;

fn bwrap_usable() -> bool {
    std::process::Command::new("bwrap")
        .args(["--ro-bind", "/", "/", "--unshare-user", "true"])
        .status()
        .is_ok_and(|s| s.success())
}

/// Each probe's outcome as one string: `status <code> <body>` or `error <type>: <message>`.
const PROBES: &str = r#"
import socket, requests

def attempt(f):
    try:
        r = f()
        return f"status {r.status_code} {r.text.strip()}".strip()
    except Exception as e:
        return f"error {type(e).__name__}: {e}"

def direct(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=3).close()
        return "connected"
    except OSError as e:
        return f"error {type(e).__name__}: {e}"

def probes():
    return {
        "direct": direct(SPY),
        "direct_metadata": direct_to("169.254.169.254", 80),
        "listed": attempt(lambda: requests.get(f"http://127.0.0.1:{SPY}/x", timeout=5)),
        "other_port": attempt(lambda: requests.get(f"http://127.0.0.1:{OTHER}/y", timeout=5)),
        "other_port_https": attempt(lambda: requests.get(f"https://127.0.0.1:{OTHER}/", timeout=5)),
        "metadata": attempt(lambda: requests.get("http://169.254.169.254/latest/meta-data/", timeout=5)),
    }

def direct_to(host, port):
    try:
        socket.create_connection((host, port), timeout=3).close()
        return "connected"
    except OSError as e:
        return f"error {type(e).__name__}: {e}"

def execute_action(context):
    return probes()

def handle_event(context):
    return probes()
"#;

fn bot_toml(python: &str, network: &str) -> String {
    format!(
        "name = \"net\"\nfallback = \"?\"\n[stream]\ndelay_ms = 0\n{network}\n{python}\n[[workflows]]\nname = \"w\"\ntriggers = {{ keywords = [\"ping\"] }}\nsteps = [ {{ say = \"pong\" }} ]\n"
    )
}

fn write_net_bot(bots: &std::path::Path, slug: &str, toml: &str, probes: &str) {
    write_bot(bots, slug, toml);
    write_file(bots, &format!("{slug}/probe.py"), probes);
    write_file(
        bots,
        &format!("{slug}/handlers/conversation_closed/probe.py"),
        probes,
    );
    write_file(
        bots,
        &format!("{slug}/actions/probe.toml"),
        "description = \"d\"\nkind = \"python\"\n[python]\nfile = \"probe.py\"\ntimeout_ms = 20000\n",
    );
}

/// The probes of `bot`, run as an action and as a handler (both Run Tests).
async fn run_both(s: &TestServer, bot: &str) -> [Value; 2] {
    let r = s
        .client
        .post(s.url(&format!("/admin/v1/bots/{bot}/actions/probe/test")))
        .bearer_auth(ADMIN)
        .json(&json!({ "args": {} }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let action = r.json::<Value>().await.unwrap()["run"].clone();
    let thread = s.create_thread(bot).await;
    let handler = s
        .test_handler(ADMIN, bot, "probe", &thread, "conversation_closed")
        .await;
    for run in [&action, &handler] {
        assert_eq!(run["status"], "ok", "{run:#}");
    }
    [action["result"].clone(), handler["result"].clone()]
}

fn field<'a>(r: &'a Value, k: &str) -> &'a str {
    r[k].as_str().unwrap_or_default()
}

#[tokio::test]
async fn python_has_no_network_but_the_allow_listed_hosts_the_network_policy_allows() {
    if !bwrap_usable() {
        eprintln!("PYTHON NETWORK ISOLATION NOT TESTED: bubblewrap cannot run here, so the no-network / allow-list probes were skipped for actions and handlers");
        return;
    }
    let spy = Spy::start().await;
    let other = Spy::start().await;
    let probes = PROBES
        .replace("SPY", &spy.port.to_string())
        .replace("OTHER", &other.port.to_string());
    let listed = format!(
        "[python]\negress = [\"127.0.0.1:{}\", \"169.254.169.254\"]",
        spy.port
    );
    let tmp = tempfile::tempdir().unwrap();
    let bots = tmp.path().join("bots");
    write_net_bot(&bots, "none", &bot_toml("", ""), &probes);
    write_net_bot(&bots, "listed", &bot_toml(&listed, ""), &probes);
    write_net_bot(
        &bots,
        "allowed",
        &bot_toml(&listed, "[network]\nallow_private_network = true"),
        &probes,
    );
    let mut config = test_config(&tmp.path().join("data"), &bots);
    fast(&mut config);
    config.actions.python.sandbox = SandboxPolicy::Require;
    config.lifecycle.python.sandbox = SandboxPolicy::Require;
    let s = TestServer::launch(config).await;

    // Common to every bot: no direct connection, metadata never, a port not listed refused.
    let check_common = |r: &Value| {
        assert!(field(r, "direct").starts_with("error"), "{r:#}");
        assert!(field(r, "direct_metadata").starts_with("error"), "{r:#}");
        assert!(field(r, "metadata").starts_with("status 403"), "{r:#}");
        assert!(
            field(r, "other_port").starts_with("status 403")
                && field(r, "other_port").contains("not in this bot's [python] egress"),
            "{r:#}"
        );
        // HTTPS goes through CONNECT: requests reports the refusal in its exception.
        assert!(
            field(r, "other_port_https").contains("403")
                && field(r, "other_port_https").contains("natter egress refused"),
            "{r:#}"
        );
    };

    for r in run_both(&s, "none").await {
        check_common(&r);
        assert!(
            field(&r, "listed").contains("not in this bot's [python] egress"),
            "{r:#}"
        );
        assert!(
            field(&r, "metadata").contains("not in this bot's [python] egress"),
            "{r:#}"
        );
    }
    assert_eq!(spy.hits(), 0, "no egress: nothing may reach the spy");

    for r in run_both(&s, "listed").await {
        check_common(&r);
        let listed = field(&r, "listed");
        assert!(
            listed.starts_with("status 403")
                && listed.contains("[network] policy")
                && listed.contains("loopback"),
            "{r:#}"
        );
        assert!(field(&r, "metadata").contains("metadata"), "{r:#}");
    }
    assert_eq!(
        spy.hits(),
        0,
        "listed but loopback refused: nothing may reach the spy"
    );

    for r in run_both(&s, "allowed").await {
        check_common(&r);
        assert_eq!(field(&r, "listed"), "status 200", "{r:#}");
        // Allowing private addresses never allows the metadata service.
        assert!(field(&r, "metadata").contains("metadata"), "{r:#}");
    }
    assert_eq!(
        spy.hits(),
        2,
        "the action's and the handler's request, and only those"
    );
    assert_eq!(other.hits(), 0, "a port not on the list was connected to");
    eprintln!(
        "python egress: 3 bots × (action, handler); spy connections: 0 without egress, 0 with loopback refused, 2 allowed; unlisted port 0; metadata refused"
    );
    spy.task.abort();
    other.task.abort();
    s.stop().await;
}

#[tokio::test]
async fn a_bad_egress_entry_fails_the_bot_load_naming_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let bots = tmp.path().join("bots");
    write_bot(
        &bots,
        "bad",
        &bot_toml(
            "[python]\negress = [\"api.example.com\", \"https://api.example.com/v1\"]",
            "",
        ),
    );
    let errs = natter_server::bots::load_dir(&bots)
        .err()
        .expect("the load fails");
    let text = errs
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        text.contains("python.egress")
            && text.contains("https://api.example.com/v1")
            && text.contains("bot.toml:"),
        "{text}"
    );
}
