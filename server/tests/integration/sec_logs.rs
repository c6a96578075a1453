//! Secrets never reach the log. `natter serve` (the binary) runs at `debug` with JSON logs
//! through a scenario that handles every kind of secret: JWTs (good, forged, expired), the JWT
//! secret, the admin token (right and wrong, bearer and console sign-in), the console session
//! and CSRF tokens, the CRM API key (right and wrong) and webhook signing secret (signed
//! webhooks to a stand-in CRM), values the CRM marks `sanitize` (a CRM action's result that a
//! later API action sends in its URL and a header; a channel conversation's `metaData`), the
//! LLM API key (a turn against the stand-in model). Every log
//! line is scanned for each of them: 0 hits. User input with CR/LF cannot forge a log line:
//! in JSON every line still parses and none is the forged one; in text no line starts with the
//! forged text. (Today no user text reaches the log at all: requests are logged by route
//! template, not path; the check keeps it that way.)

use std::process::Stdio;
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use natter_crm::standin::{StandIn as CrmStandIn, StandInConfig};
use natter_crm::SigningSecret;
use serde_json::{json, Value};

use crate::common::*;
use crate::llm::standin::{chunks, Reply, StandIn as ModelStandIn};
use crate::process::spawn_natter_logging;

const JWT_SECRET: &str = "jwt-secret-Zq8v1mN4kT0pW7rYx2Lc9Hs5Df3Gb6Ja";
const ADMIN: &str = "admin-token-Pk3nV8qR1sT6wY0zB4cE7gJ2mL5xH9uD";
const CRM_KEY: &str = "crm-key-Ux7Wq2Rt5Yb8Nm1Kc4Vf0Hs3";
const LLM_KEY: &str = "sk-llm-key-Jd6Fg9Hk2Lm5Np8Qr1St4Vw7";
const FORGED: &str = "FORGED-LINE-7f3a";
/// A CRM action result the CRM marks `sanitize`, later passed to an API action.
const SANITIZED: &str = "sanitized-action-value-Rk4Wp9Zt2Qm7";
/// A value the CRM sends marked `sanitize` in a channel conversation's `metaData`.
const SANITIZED_META: &str = "sanitized-meta-value-Hv3Lc8Nd1Xs6";

fn bots(
    dir: &std::path::Path,
    crm_url: &str,
    crm_actions_url: &str,
    api_base: &str,
    whsec: &str,
    model: &str,
) {
    write_bot(
        dir,
        "j",
        &format!(
            r#"
[auth]
mode = "jwt"
algorithm = "HS256"
secret = "{JWT_SECRET}"
[stream]
delay_ms = 0
[[workflows]]
name = "w"
triggers = {{ keywords = ["hi"] }}
steps = [ {{ say = "hey" }} ]
"#
        ),
    );
    write_bot(
        dir,
        "c",
        &format!(
            r#"
fallback = "?"
[stream]
delay_ms = 0
[network]
allow_private_network = true
[crm]
bot_id = "BOT"
chat_webhook_url = "{crm_url}"
actions_webhook_url = "{crm_actions_url}"
signing_secret = "{whsec}"
api_key = "{CRM_KEY}"
[[workflows]]
name = "human"
triggers = {{ keywords = ["human"] }}
steps = [ {{ handoff = "Connecting you.", reason = "asked" }} ]
[[workflows]]
name = "balance"
triggers = {{ keywords = ["balance"] }}
steps = [
  {{ action = "updateCustomerBalance", args = {{ userId = "7", balance = "100" }}, save_as = "r" }},
  {{ action = "useToken", args = {{ productId = "$secret.token" }}, save_as = "u" }},
  {{ say = "Done {{{{r.results.token}}}}." }},
]
"#
        ),
    );
    write_file(
        dir,
        "c/actions/updateCustomerBalance.toml",
        "description = \"d\"\nkind = \"crm\"\nworkflows = [\"balance\"]\n[[args]]\nname = \"userId\"\n[[args]]\nname = \"balance\"\n",
    );
    // The sanitized value goes into the URL's path and a header: where a debug log of the
    // outbound request would show it.
    write_file(
        dir,
        "c/actions/useToken.toml",
        &format!(
            "description = \"d\"\nkind = \"api\"\nworkflows = [\"balance\"]\n[[args]]\nname = \"productId\"\n[api]\nbase_url = \"{api_base}\"\npath = \"/stock/$productId\"\nmethod = \"GET\"\nheaders = {{ \"x-api-key\" = \"$productId\" }}\ntimeout_ms = 5000\n"
        ),
    );
    write_bot(
        dir,
        "l",
        &format!(
            r#"
agent = "llm"
fallback = "Sorry."
[network]
allow_private_network = true
[llm]
base_url = "{model}"
model = "m"
api_key_env = "NATTER_TEST_LLM_KEY"
max_retries = 0
"#
        ),
    );
}

fn jwt(claims: Value, key: &str) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(key.as_bytes()),
    )
    .unwrap()
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// User input that tries to start a log line of its own.
fn forging(prefix: &str) -> String {
    format!(
        "{prefix}\n{{\"timestamp\":\"2026-01-01T00:00:00Z\",\"level\":\"ERROR\",\"fields\":{{\"message\":\"{FORGED}\"}}}}\r\n2026-01-01T00:00:00Z ERROR {FORGED}\r\n"
    )
}

/// Runs the scenario against a server logging in `format`; returns the log and the secrets
/// that were in play.
async fn scenario(format: &str) -> (String, Vec<String>) {
    let tmp = tempfile::tempdir().unwrap();
    let secret = SigningSecret::generate();
    let whsec = secret.expose_whsec();
    let mut crm_config = StandInConfig::new(secret.clone());
    crm_config.action_answer = json!({"results": [
        {"key": "newBalance", "value": 210},
        {"key": "token", "value": SANITIZED, "sanitize": true},
    ]})
    .to_string();
    let crm = CrmStandIn::start(crm_config).await.unwrap();
    let apis = crate::actions_standin::start().await;
    let model = ModelStandIn::start(true).await;
    model.set_default(Reply::fast(chunks::text(&["Hello from the model."])));
    bots(
        &tmp.path().join("bots"),
        &crm.chat_url(),
        &crm.actions_url(),
        &apis.base,
        &whsec,
        &model.base_url,
    );
    let log_path = tmp.path().join("natter.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let (proc, base) = spawn_natter_logging(
        &tmp.path().join("data"),
        &tmp.path().join("bots"),
        &[
            ("NATTER_LOG", "debug"),
            ("NATTER_LOG_FORMAT", format),
            ("NATTER_ADMIN_TOKEN", ADMIN),
            ("NATTER_TEST_LLM_KEY", LLM_KEY),
        ],
        Stdio::from(log),
    )
    .await;
    let c = reqwest::Client::new();
    let url = |p: &str| format!("{base}{p}");
    let api = TestServer::at(
        base.clone(),
        &tmp.path().join("data"),
        &tmp.path().join("bots"),
    );
    let good = jwt(json!({"sub": "u1", "exp": now() + 600}), JWT_SECRET);
    let forged = jwt(
        json!({"sub": "u1", "exp": now() + 600}),
        "not-the-secret-0123456789abcdef",
    );
    let expired = jwt(json!({"sub": "u1", "exp": now() - 3600}), JWT_SECRET);
    let mut secrets = vec![
        JWT_SECRET.to_string(),
        ADMIN.to_string(),
        CRM_KEY.to_string(),
        LLM_KEY.to_string(),
        whsec.clone(),
        whsec.trim_start_matches("whsec_").to_string(),
        SANITIZED.to_string(),
        SANITIZED_META.to_string(),
    ];
    for t in [&good, &forged, &expired] {
        secrets.push(t.clone());
        secrets.push(t.rsplit('.').next().unwrap().to_string());
    }

    // JWT bot: good, forged and expired tokens; user text with CR/LF everywhere it can go.
    for t in [&forged, &expired] {
        let r = c
            .post(url("/v1/bots/j/threads"))
            .bearer_auth(t)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    let r = c
        .post(url("/v1/bots/j/threads"))
        .bearer_auth(&good)
        .json(&json!({"subject": forging("subject"), "metadata": {"k": forging("meta")}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let thread = r.json::<Value>().await.unwrap()["threadId"]
        .as_str()
        .unwrap()
        .to_string();
    for (cmid, text) in [
        (forging("cmid"), "hi".to_string()),
        ("m1".to_string(), forging("hi")),
        ("m2".to_string(), "hi".to_string()),
    ] {
        let r = c
            .post(url(&format!("/v1/threads/{thread}/messages")))
            .bearer_auth(&good)
            .json(&json!({"clientMessageId": cmid, "content": text}))
            .send()
            .await
            .unwrap();
        assert!(
            r.status().is_success() || r.status() == 400,
            "{}",
            r.status()
        );
    }
    let _ = c
        .post(url(&format!(
            "/v1/bots/{}/threads",
            urlencode(&forging("nobot"))
        )))
        .send()
        .await
        .unwrap();

    // Admin API and console: right and wrong tokens, a session, its CSRF token.
    assert_eq!(
        c.get(url("/admin/v1/bots"))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let wrong_admin = "wrong-admin-Qm4Zt8Xc1Vb5Nn9Lk2Jh6Gf3Ds7Aa0P";
    secrets.push(wrong_admin.into());
    c.get(url("/admin/v1/bots"))
        .bearer_auth(wrong_admin)
        .send()
        .await
        .unwrap();
    c.post(url("/console/session"))
        .json(&json!({"token": wrong_admin}))
        .send()
        .await
        .unwrap();
    let r = c
        .post(url("/console/session"))
        .json(&json!({"token": ADMIN}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    let session = cookie
        .split(';')
        .next()
        .unwrap()
        .split('=')
        .nth(1)
        .unwrap()
        .to_string();
    let csrf = r.json::<Value>().await.unwrap()["csrfToken"]
        .as_str()
        .unwrap()
        .to_string();
    secrets.push(session.clone());
    secrets.push(csrf.clone());
    let r = c
        .get(url("/admin/v1/bots"))
        .header("cookie", format!("natter_console={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // CRM: a hand-off (signed webhooks), the agent's answer with the key, a wrong key.
    let ct = api.create_thread("c").await;
    c.post(url(&format!("/v1/threads/{ct}/messages")))
        .json(&json!({"clientMessageId": "h", "content": "human please"}))
        .send()
        .await
        .unwrap();
    crm.wait_for(1, PATIENCE).await;
    let wrong_key = "crm-guess-Bn5Vc8Xz1Lk4Jh7Gf0Ds3Aq6";
    secrets.push(wrong_key.into());
    for key in [CRM_KEY, wrong_key] {
        c.post(url("/agent/converse/send-message-to-widget"))
            .header("authorization", key)
            .json(&json!({"eventType": "escalationSuccess", "platformConversationId": ct}))
            .send()
            .await
            .unwrap();
        c.post(url("/agent/converse/send-message-to-widget"))
            .header("authorization", key)
            .json(&json!({"eventType": "message", "platformConversationId": ct, "text": forging("agent")}))
            .send()
            .await
            .unwrap();
    }
    c.post(url(&format!("/v1/threads/{ct}/close")))
        .send()
        .await
        .unwrap();
    crm.wait_for(3, PATIENCE).await;

    // CRM values marked `sanitize`: an action result passed on to an API action (URL path and
    // header), and a channel conversation's metaData.
    let st = api.create_thread("c").await;
    c.post(url(&format!("/v1/threads/{st}/messages")))
        .json(&json!({"clientMessageId": "b", "content": "balance please"}))
        .send()
        .await
        .unwrap();
    crate::lifecycle_common::until("the API action got the sanitized value", || async {
        (!apis.seen("stock").is_empty()).then_some(())
    })
    .await;
    assert_eq!(apis.seen("stock")[0]["id"], SANITIZED, "the value was used");
    for event in [
        json!({"platformConversationId": "sec-logs-chan", "eventType": "startSession",
               "metaData": [{"key": "email", "value": "ana@example.com"},
                            {"key": "card", "value": SANITIZED_META, "sanitize": true}]}),
        json!({"platformConversationId": "sec-logs-chan", "eventType": "metadata",
               "metaData": [{"key": "card2", "value": SANITIZED_META, "sanitize": true}]}),
        json!({"platformConversationId": "sec-logs-chan", "eventType": "message", "text": "balance"}),
    ] {
        let r = c
            .post(url("/converse/chat"))
            .header("authorization", CRM_KEY)
            .json(&event)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{event}: {}", r.status());
    }
    crate::lifecycle_common::until("the channel's balance ran", || async {
        (apis.seen("stock").len() >= 2).then_some(())
    })
    .await;

    // LLM: one turn with the key.
    let lt = c
        .post(url("/v1/bots/l/threads"))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["threadId"]
        .as_str()
        .unwrap()
        .to_string();
    c.post(url(&format!("/v1/threads/{lt}/messages")))
        .json(&json!({"clientMessageId": "l1", "content": forging("question")}))
        .send()
        .await
        .unwrap();
    crate::lifecycle_common::until("the model was called", || async {
        (!model.seen().is_empty()).then_some(())
    })
    .await;
    assert_eq!(
        model.seen()[0].headers["authorization"],
        format!("Bearer {LLM_KEY}"),
        "the key was used"
    );
    // Let the turn finish and its log lines be written.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    drop(proc);
    (std::fs::read_to_string(&log_path).unwrap(), secrets)
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn scan(log: &str, secrets: &[String]) -> Vec<String> {
    let mut hits = Vec::new();
    for (n, line) in log.lines().enumerate() {
        for s in secrets {
            if line.contains(s.as_str()) {
                hits.push(format!(
                    "line {}: `{}…` in {line}",
                    n + 1,
                    &s[..8.min(s.len())]
                ));
            }
        }
    }
    hits
}

#[tokio::test]
async fn debug_json_logs_hold_no_secret_and_no_forged_line() {
    let (log, secrets) = scenario("json").await;
    let lines: Vec<&str> = log.lines().collect();
    assert!(lines.len() > 20, "debug logging ran: {} lines", lines.len());
    let hits = scan(&log, &secrets);
    assert!(
        hits.is_empty(),
        "{} secret(s) in the log:\n{}",
        hits.len(),
        hits.join("\n")
    );
    for line in &lines {
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("a log line is not JSON ({e}): {line}"));
        assert_ne!(v["fields"]["message"], FORGED, "forged line: {line}");
    }
    eprintln!(
        "logs (json, debug): {} lines scanned for {} secrets: 0 hits; {} lines carry the CR/LF input, escaped, 0 forged lines",
        lines.len(),
        secrets.len(),
        lines.iter().filter(|l| l.contains(FORGED)).count()
    );
    if std::env::var_os("SEC_LOGS_DUMP").is_some() {
        eprintln!("{log}");
    }
}

#[tokio::test]
async fn text_logs_hold_no_secret_and_user_text_cannot_start_a_line() {
    let (log, secrets) = scenario("text").await;
    let hits = scan(&log, &secrets);
    assert!(
        hits.is_empty(),
        "{} secret(s) in the log:\n{}",
        hits.len(),
        hits.join("\n")
    );
    for line in log.lines() {
        assert!(
            !line.contains(FORGED)
                || !line.trim_start().starts_with("2026-01-01T00:00:00Z")
                    && !line.trim_start().starts_with('{'),
            "forged line: {line}"
        );
    }
}
