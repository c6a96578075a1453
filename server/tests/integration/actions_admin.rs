//! Run Test (admin API and `natter action test`), action listings, the run log, the admin
//! token, load-time checks (`natter check`), the workflow gate, and the hand-off host's
//! idempotence.

use std::process::Command;
use std::sync::Arc;

use natter_python_runtime::{ConversationRef, HandOffOutcome, HandOffRequest, Host};
use natter_server::actions::{ActionRunner, ActionsConfig, CallSite};
use natter_server::bots::{load_bot, BotRegistry};
use natter_server::python_host::{NoLlm, StoreHost};
use natter_server::store::sqlite::{Durability, SqliteStore};
use natter_server::store::{EventSink, NewThread, Store, StoredEvent};
use serde_json::{json, Value};

use super::actions::{admin_get, admin_post, shop, ADMIN_TOKEN};
use super::actions_bot;
use super::common::*;

const NATTER: &str = env!("CARGO_BIN_EXE_natter");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_test_through_the_admin_api_and_the_cli() {
    let (s, apis) = shop().await;

    // Listing: every action with its required arguments.
    let (st, list) = admin_get(&s, "/bots/shop/actions").await;
    assert_eq!(st, 200, "{list}");
    let stock = list["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "checkProductStock")
        .unwrap();
    assert_eq!(stock["requiredArgs"], json!(["productId"]));
    assert_eq!(stock["kind"], "api");
    assert!(!stock.to_string().contains("your-api-key") || stock["base_url"].is_string());

    // Without a conversation: context["conversation"] is None; stdout and stderr come back apart.
    let (st, body) = admin_post(
        &s,
        "/bots/shop/actions/contextProbe/test",
        json!({"args": {"note": "hi"}}),
    )
    .await;
    assert_eq!(st, 200, "{body}");
    let run = &body["run"];
    assert_eq!(run["status"], "ok", "{run:#}");
    assert_eq!(run["result"]["hasConversation"], false);
    assert_eq!(run["stdout"], "probe says hi\n");
    assert_eq!(run["stderr"], "to stderr\n");
    assert_eq!(run["test"], true);
    assert!(run["durationMs"].is_u64());

    // With a conversation, by id or public id.
    let t = s.create_thread("shop").await;
    s.turn(&t, "ping").await;
    let (_, thread) = admin_get(&s, &format!("/threads/{t}")).await;
    let public = thread["publicId"].as_str().unwrap().to_string();
    for id in [t.as_str(), public.as_str()] {
        let (st, body) = admin_post(
            &s,
            "/bots/shop/actions/contextProbe/test",
            json!({"args": {"note": "x"}, "conversationId": id}),
        )
        .await;
        assert_eq!(st, 200, "{body}");
        assert_eq!(
            body["run"]["result"],
            json!({"hasConversation": true, "id": t, "publicId": public, "messages": 2})
        );
    }

    // An API action through Run Test makes the real request.
    let (_, body) = admin_post(
        &s,
        "/bots/shop/actions/checkProductStock/test",
        json!({"args": {"productId": "SKU-1"}}),
    )
    .await;
    assert_eq!(
        body["run"]["result"],
        json!({"inStock": true, "productId": "SKU-1"})
    );
    assert_eq!(apis.seen("stock").len(), 1);

    // Bad input: 400, nothing runs, nothing is logged.
    let (_, before) = admin_get(&s, "/action-runs?bot=shop&limit=500").await;
    let n = before["runs"].as_array().unwrap().len();
    let (st, body) = admin_post(
        &s,
        "/bots/shop/actions/checkProductStock/test",
        json!({"args": {"sku": "SKU-1"}}),
    )
    .await;
    assert_eq!(st, 400, "{body}");
    assert_eq!(body["error"]["code"], "invalid_request");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("missing argument `productId`"),
        "{body}"
    );
    let (st, body) = admin_post(&s, "/bots/shop/actions/nope/test", json!({})).await;
    assert_eq!(
        (st, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let (st, _) = admin_post(
        &s,
        "/bots/shop/actions/contextProbe/test",
        json!({"args": {"note": "x"}, "conversationId": "thr_missing"}),
    )
    .await;
    assert_eq!(st, 404);
    let r = s
        .client
        .post(s.url("/admin/v1/bots/shop/actions/contextProbe/test"))
        .bearer_auth(ADMIN_TOKEN)
        .body("{not json")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(apis.seen("stock").len(), 1, "no request for refused input");
    let (_, after) = admin_get(&s, "/action-runs?bot=shop&limit=500").await;
    assert_eq!(after["runs"].as_array().unwrap().len(), n);

    // The run log: newest first, filtered, with arguments, result, logs, duration and status.
    let (_, runs) = admin_get(&s, "/action-runs?action=contextProbe").await;
    let runs = runs["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 3);
    assert_eq!(runs[0]["args"], json!({"note": "x"}));
    assert_eq!(runs[2]["args"], json!({"note": "hi"}));
    assert!(runs[0]["log"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l.as_str().unwrap().starts_with("sandbox:")));
    let (_, by_thread) = admin_get(&s, &format!("/action-runs?conversationId={t}")).await;
    assert_eq!(by_thread["runs"].as_array().unwrap().len(), 2);

    // The token: missing or wrong is 401.
    let r = s
        .client
        .get(s.url("/admin/v1/action-runs"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, (401, "invalid_token".into()));
    let r = s
        .client
        .get(s.url("/admin/v1/action-runs"))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, (401, "invalid_token".into()));

    // The CLI: list, then a test run logged in its own data directory.
    let bot_dir = s.bots.join("shop");
    let out = Command::new(NATTER)
        .args(["action", "list"])
        .arg(&bot_dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("checkProductStock  [api]  args: productId: string"),
        "{text}"
    );
    assert!(
        text.contains("getOrderWithTracking  [python]  args: orderId: string, email: string"),
        "{text}"
    );
    let data = tempfile::tempdir().unwrap();
    let out = Command::new(NATTER)
        .args(["action", "test"])
        .arg(&bot_dir)
        .args(["contextProbe", "--arg", "note=from the cli", "--data"])
        .arg(data.path())
        .envs(engine_env(data.path()))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.starts_with("status: ok"), "{text}");
    assert!(text.contains("\"hasConversation\": false"), "{text}");
    assert!(
        text.contains("stdout:\n  probe says from the cli\n"),
        "{text}"
    );
    assert!(text.contains("stderr:\n  to stderr\n"), "{text}");
    let out = Command::new(NATTER)
        .args(["action", "test"])
        .arg(&bot_dir)
        .args(["contextProbe", "--arg", "nonote"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected name=value"));
    s.stop().await;

    // A server without an admin token refuses the admin API.
    let plain = TestServer::start().await;
    let r = plain
        .client
        .get(plain.url("/admin/v1/action-runs"))
        .bearer_auth("anything")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, (403, "admin_disabled".into()));
    plain.stop().await;
}

fn write(dir: &std::path::Path, file: &str, text: &str) {
    std::fs::create_dir_all(dir.join(file).parent().unwrap()).unwrap();
    std::fs::write(dir.join(file), text).unwrap();
}

const GATED: &str = r#"
[[workflows]]
name = "a"
triggers = { keywords = ["a"] }
steps = [ { say = "hi" }, { action = "lookup", args = { q = "$x" } } ]

[[workflows]]
name = "b"
triggers = { keywords = ["b"] }
steps = [ { say = "b" } ]
"#;

#[test]
fn natter_check_reports_actions_with_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let bot = tmp.path().join("gated");
    write(&bot, "bot.toml", GATED);
    // Enabled only in `b` (and in a workflow that doesn't exist), called from `a`.
    write(&bot, "actions/lookup.toml", "description = \"d\"\nkind = \"python\"\nworkflows = [\"b\", \"nowhere\"]\n[python]\nfile = \"l.py\"\n[[args]]\nname = \"q\"\n");
    write(
        &bot,
        "l.py",
        "def execute_action(context):\n    return {}\n",
    );
    // Malformed: a method that doesn't exist.
    write(&bot, "actions/broken.toml", "description = \"d\"\nkind = \"api\"\n[api]\nbase_url = \"https://api.example.com\"\nmethod = \"PATCH\"\n");
    // Loopback, but the bot has no `[network]` allowing it.
    write(&bot, "actions/local.toml", "description = \"d\"\nkind = \"api\"\nworkflows = [\"b\"]\n[api]\nbase_url = \"http://127.0.0.1:9\"\nmethod = \"GET\"\n");
    let errs: Vec<String> = load_bot(&bot)
        .unwrap_err()
        .iter()
        .map(|e| e.to_string())
        .collect();
    assert!(
        errs.iter().any(|e| e
            .starts_with(&format!("{}/local.toml:5:", bot.join("actions").display()))
            && e.contains("base_url")),
        "{errs:#?}"
    );
    let bot_toml = bot.join("bot.toml").display().to_string();
    let actions = bot.join("actions").display().to_string();
    assert!(
        errs.iter()
            .any(|e| e.starts_with(&format!("{actions}/broken.toml:5:")) && e.contains("PATCH")),
        "{errs:#?}"
    );
    assert!(
        errs.iter()
            .any(|e| e.starts_with(&format!("{actions}/lookup.toml:3:"))
                && e.contains("workflow `nowhere` does not exist")),
        "{errs:#?}"
    );
    assert!(
        errs.iter().any(|e| e.starts_with(&format!("{bot_toml}:5:"))
            && e.contains("action `lookup` is not enabled in workflow `a`")),
        "{errs:#?}"
    );
    // The same through the binary: exit 1, one line per problem.
    let out = Command::new(NATTER)
        .arg("check")
        .arg(&bot)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), errs.len(), "{stderr}");
    assert!(
        stderr.contains("is not enabled in workflow `a`"),
        "{stderr}"
    );
    // Fixed: enabled in `a`, the bot loads and `natter check` says so.
    write(&bot, "actions/lookup.toml", "description = \"d\"\nkind = \"python\"\nworkflows = [\"a\"]\n[python]\nfile = \"l.py\"\n[[args]]\nname = \"q\"\n");
    std::fs::remove_file(bot.join("actions/broken.toml")).unwrap();
    std::fs::remove_file(bot.join("actions/local.toml")).unwrap();
    let out = Command::new(NATTER)
        .arg("check")
        .arg(&bot)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok (2 workflows, 1 actions)"));
}

struct NoSink;
impl EventSink for NoSink {
    fn published(&self, _: &str, _: &[Arc<StoredEvent>]) {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_workflow_gate_and_idempotent_hand_off_on_the_store() {
    let apis = super::actions_standin::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let bots = tmp.path().join("bots");
    actions_bot::write(&bots, &apis.base);
    let bot = load_bot(&bots.join("shop")).unwrap();
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(
            &tmp.path().join("data"),
            Durability::Normal,
            Arc::new(NoSink),
        )
        .await
        .unwrap(),
    );
    let mut reg = BotRegistry::default();
    reg.insert(bot);
    let reg = Arc::new(reg);
    let host = Arc::new(StoreHost::new(store.clone(), reg.clone(), Arc::new(NoLlm)));
    let runner = ActionRunner::new(
        store.clone(),
        reg.clone(),
        host.clone(),
        ActionsConfig::default(),
    )
    .unwrap();
    let bot = reg.get("shop").unwrap();

    // checkProductStock is enabled in `stock` only: from `ping` it is refused, nothing is sent.
    let refused = runner
        .call_in_workflow(
            bot,
            "ping",
            "checkProductStock",
            json!({"productId": "SKU-1"}),
            CallSite::default(),
            None,
        )
        .await;
    assert_eq!(
        refused.value,
        json!({"error": "action `checkProductStock` is not enabled in workflow `ping`"})
    );
    assert!(apis.seen("stock").is_empty());
    let ok = runner
        .call_in_workflow(
            bot,
            "stock",
            "checkProductStock",
            json!({"productId": "SKU-1"}),
            CallSite::default(),
            None,
        )
        .await;
    assert_eq!(ok.value["inStock"], true);

    // Hand-off through the host: once, then idempotent; one event.
    let thread = store
        .create_thread(
            NewThread {
                id: "thr_h".into(),
                public_id: "PUBH".into(),
                bot: "shop".into(),
                sub: None,
                subject: None,
                metadata: Default::default(),
                channel: "web".into(),
                browser_session: None,
            },
            None,
        )
        .await
        .unwrap();
    let conv = ConversationRef {
        bot: "shop".into(),
        conversation_id: thread.id.clone(),
        channel: "web".into(),
    };
    let req = HandOffRequest {
        reason: Some("why".into()),
        phone_destination: None,
    };
    assert_eq!(
        host.hand_off(&conv, req.clone()).await.unwrap(),
        HandOffOutcome::HandedOff
    );
    assert_eq!(
        host.hand_off(&conv, req).await.unwrap(),
        HandOffOutcome::AlreadyHandedOff
    );
    let events = store.events_after(&thread.id, 0, 100).await.unwrap();
    assert_eq!(
        events
            .iter()
            .filter(|e| e.event_type == "thread.handed_off")
            .count(),
        1
    );
    let v: Value = serde_json::from_str(&events.last().unwrap().json).unwrap();
    assert_eq!(v["reason"], "why");
    store.close().await;
}
