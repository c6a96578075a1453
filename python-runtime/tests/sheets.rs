//! add_google_sheets_row against a stand-in Google (token endpoint + Sheets API) on
//! 127.0.0.1 that verifies the JWT assertion's RS256 signature and the append request.
mod common;
use common::*;
use natter_python_runtime::*;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const PRIVATE_KEY: &str = include_str!("fixtures/test-service-account.key.pem");
const PUBLIC_KEY: &str = include_str!("fixtures/test-service-account.pub.pem");
const EMAIL: &str = "natter-test@project.iam.gserviceaccount.com";

#[derive(Debug, Clone)]
struct Req {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Req {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

async fn read_request(sock: &mut tokio::net::TcpStream) -> Option<Req> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, target) = (first.next()?.to_string(), first.next()?.to_string());
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Req {
        method,
        target,
        headers,
        body,
    })
}

/// The stand-in: checks everything it can and answers like Google does.
async fn stand_in(seen: Arc<Mutex<Vec<Req>>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let token_url = format!("{base}/token");
    tokio::spawn(async move {
        loop {
            let (mut sock, _) = listener.accept().await.unwrap();
            let seen = seen.clone();
            let token_url = token_url.clone();
            tokio::spawn(async move {
                let Some(req) = read_request(&mut sock).await else {
                    return;
                };
                seen.lock().unwrap().push(req.clone());
                let (status, body) = answer(&req, &token_url);
                let resp = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(resp.as_bytes()).await;
            });
        }
    });
    base
}

fn answer(req: &Req, token_url: &str) -> (&'static str, String) {
    if req.method == "POST" && req.target == "/token" {
        let form = String::from_utf8_lossy(&req.body).to_string();
        let grant_ok =
            form.contains("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer");
        let Some(jwt) = form.split('&').find_map(|kv| kv.strip_prefix("assertion=")) else {
            return (
                "400 Bad Request",
                json!({"error": "invalid_request"}).to_string(),
            );
        };
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        v.set_audience(&[token_url]);
        v.set_issuer(&[EMAIL]);
        let key = jsonwebtoken::DecodingKey::from_rsa_pem(PUBLIC_KEY.as_bytes()).unwrap();
        match jsonwebtoken::decode::<Value>(jwt, &key, &v) {
            Ok(t) if grant_ok && t.claims["scope"] == "https://www.googleapis.com/auth/spreadsheets" => {
                ("200 OK", json!({"access_token": "ya29.test-token", "expires_in": 3599, "token_type": "Bearer"}).to_string())
            }
            other => ("400 Bad Request", json!({"error": "invalid_grant", "error_description": format!("{other:?}")}).to_string()),
        }
    } else if req.method == "POST" && req.target.starts_with("/v4/spreadsheets/") {
        if req.header("authorization") != Some("Bearer ya29.test-token") {
            return (
                "401 Unauthorized",
                json!({"error": {"code": 401, "message": "bad token"}}).to_string(),
            );
        }
        let sheet = req
            .target
            .trim_start_matches("/v4/spreadsheets/")
            .split('/')
            .next()
            .unwrap_or("");
        if sheet == "missing-sheet" {
            return (
                "404 Not Found",
                json!({"error": {"code": 404, "message": "Requested entity was not found."}})
                    .to_string(),
            );
        }
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let rows = body["values"].as_array().map(|a| a.len()).unwrap_or(0);
        ("200 OK", json!({"spreadsheetId": sheet, "updates": {"updatedRange": "Sheet1!A2:E2", "updatedRows": rows}}).to_string())
    } else {
        ("404 Not Found", "{}".to_string())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_a_row_with_a_signed_service_account_assertion() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let base = stand_in(seen.clone()).await;
    let key = ServiceAccountKey::from_json(
        &json!({"type": "service_account", "client_email": EMAIL, "private_key": PRIVATE_KEY, "private_key_id": "k1",
                "token_uri": "https://oauth2.googleapis.com/token"}).to_string(),
    )
    .unwrap();
    let cfg = SheetsConfig {
        token_url: Some(format!("{base}/token")),
        api_base: base.clone(),
        ..SheetsConfig::default()
    };
    let host = InMemoryHost::new().with_sheets(GoogleSheets::new(key, cfg).unwrap());
    let bot = Bot::new();
    // The seed's handler example.
    let s = bot.script(
        "log_closed.py",
        r#"
        def handle_event(context):
            conversation = context["conversation"]
            messages = conversation["messages"]
            r = add_google_sheets_row("SHEET_id-123", {
                "Conversation ID": conversation["publicId"],
                "Subject": conversation["subject"],
                "Messages": len(messages),
                "Closed At": messages[-1]["timestamp"] if messages else "",
                "Business": conversation["businessSlug"],
            })
            second = add_google_sheets_row("SHEET_id-123", ["list", 2, True, None])
            try:
                add_google_sheets_row("missing-sheet", ["x"])
            except HelperError as e:
                missing = str(e)
            return {"r": r, "second": second, "missing": missing}
    "#,
    );
    let rt = runtime_with(Arc::new(host)).await;
    let ctx = context(json!({}), Some(conversation("conv-s", "web")));
    let out = rt
        .run(RunRequest::event_handler(
            "acme",
            bot.path(),
            &s,
            "conversation_closed",
            ctx,
        ))
        .await;
    assert_eq!(out.status, RunStatus::Ok, "{out:#?}");
    assert_eq!(
        out.value["r"],
        json!({"success": true, "updatedRange": "Sheet1!A2:E2", "updatedRows": 1})
    );
    assert_eq!(out.value["second"]["success"], json!(true));
    assert!(
        out.value["missing"].as_str().unwrap().contains("404"),
        "{}",
        out.value
    );

    let seen = seen.lock().unwrap();
    // One token request (then cached), three appends.
    let tokens: Vec<_> = seen.iter().filter(|r| r.target == "/token").collect();
    assert_eq!(tokens.len(), 1, "{seen:#?}");
    let appends: Vec<_> = seen
        .iter()
        .filter(|r| r.target.starts_with("/v4/"))
        .collect();
    assert_eq!(appends.len(), 3);
    assert_eq!(
        appends[0].target,
        "/v4/spreadsheets/SHEET_id-123/values/A1:append?valueInputOption=USER_ENTERED&insertDataOption=INSERT_ROWS"
    );
    let body: Value = serde_json::from_slice(&appends[0].body).unwrap();
    assert_eq!(
        body,
        json!({"majorDimension": "ROWS", "values": [["ABC123XYZ", "Where is my order?", 2, "2026-01-02T10:00:01Z", "acme"]]})
    );
    let body: Value = serde_json::from_slice(&appends[1].body).unwrap();
    assert_eq!(body["values"], json!([["list", 2, true, null]]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_is_refused_by_the_token_endpoint_and_reported() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let base = stand_in(seen.clone()).await;
    // Another key: the stand-in's signature check must fail.
    let other = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ])
        .output();
    let Ok(other) = other else {
        eprintln!("openssl not available; skipping");
        return;
    };
    let pem = String::from_utf8(other.stdout).unwrap();
    let key = ServiceAccountKey {
        client_email: EMAIL.into(),
        private_key: pem,
        private_key_id: None,
        token_uri: None,
    };
    let cfg = SheetsConfig {
        token_url: Some(format!("{base}/token")),
        api_base: base,
        ..SheetsConfig::default()
    };
    let sheets = GoogleSheets::new(key, cfg).unwrap();
    let err = sheets.append_row("abc", vec![json!(1)]).await.unwrap_err();
    assert!(
        err.to_string().contains("token endpoint refused (400"),
        "{err}"
    );
    assert!(err.to_string().contains("InvalidSignature"), "{err}");
    assert!(
        seen.lock().unwrap().iter().all(|r| r.target == "/token"),
        "no append without a token"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_sheets_configured_the_helper_raises() {
    let bot = Bot::new();
    let s = bot.script("a.py", "def execute_action(context):\n    try:\n        add_google_sheets_row('abc', {'a': 1})\n    except HelperError as e:\n        return str(e)\n");
    let rt = runtime_with(Arc::new(InMemoryHost::new())).await;
    let out = rt.run(action(&bot, &s, context(json!({}), None))).await;
    assert_eq!(
        out.value,
        json!("Google Sheets is not configured for this bot")
    );
}
