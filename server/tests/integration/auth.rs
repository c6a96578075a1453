//! JWT auth per bot (HS256 and RS256), thread ownership, and CORS.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use crate::common::*;

const SECRET: &str = "0123456789abcdef0123456789abcdef-test";

fn hs_bot() -> String {
    format!(
        r#"
[auth]
mode = "jwt"
algorithm = "HS256"
secret = "{SECRET}"
issuer = "https://id.example"
audience = "natter"
leeway_secs = 5
[stream]
delay_ms = 0
[[workflows]]
name = "w"
triggers = {{ keywords = ["hi"] }}
steps = [ {{ say = "hey" }} ]
"#
    )
}

fn rs_bot(key_path: &str) -> String {
    format!(
        r#"
[auth]
mode = "jwt"
algorithm = "RS256"
public_key_file = "{key_path}"
"#
    )
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn hs(claims: Value) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

fn good(sub: &str) -> Value {
    json!({"sub": sub, "exp": now() + 600, "iss": "https://id.example", "aud": "natter"})
}

async fn create(s: &TestServer, bot: &str, token: Option<&str>) -> reqwest::Response {
    let mut r = s.client.post(s.url(&format!("/v1/bots/{bot}/threads")));
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    r.send().await.unwrap()
}

#[tokio::test]
async fn hs256_cases() {
    let s = TestServer::start_with(&[("h", &hs_bot())], |_| {}).await;
    assert_eq!(
        error_code(create(&s, "h", None).await).await,
        (401, "auth_required".into())
    );
    let mut expired = good("u1");
    expired["exp"] = json!(now() - 60);
    assert_eq!(
        error_code(create(&s, "h", Some(&hs(expired))).await).await,
        (401, "token_expired".into())
    );
    // Within the leeway is still fine.
    let mut barely = good("u1");
    barely["exp"] = json!(now() - 1);
    assert_eq!(create(&s, "h", Some(&hs(barely))).await.status(), 201);
    let mut future = good("u1");
    future["nbf"] = json!(now() + 600);
    assert_eq!(
        error_code(create(&s, "h", Some(&hs(future))).await).await,
        (401, "invalid_token".into())
    );
    let mut iss = good("u1");
    iss["iss"] = json!("https://evil.example");
    assert_eq!(
        error_code(create(&s, "h", Some(&hs(iss))).await).await,
        (401, "invalid_token".into())
    );
    let mut aud = good("u1");
    aud["aud"] = json!("other");
    assert_eq!(
        error_code(create(&s, "h", Some(&hs(aud))).await).await,
        (401, "invalid_token".into())
    );
    let mut no_exp = good("u1");
    no_exp.as_object_mut().unwrap().remove("exp");
    assert_eq!(
        error_code(create(&s, "h", Some(&hs(no_exp))).await).await,
        (401, "invalid_token".into())
    );
    let wrong_key = encode(
        &Header::new(Algorithm::HS256),
        &good("u1"),
        &EncodingKey::from_secret(b"another secret of at least 32 bytes!!"),
    )
    .unwrap();
    assert_eq!(
        error_code(create(&s, "h", Some(&wrong_key)).await).await,
        (401, "invalid_token".into())
    );
    // alg is pinned: HS384 with the right secret, and unsigned `none`, are refused.
    let hs384 = encode(
        &Header::new(Algorithm::HS384),
        &good("u1"),
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    assert_eq!(
        error_code(create(&s, "h", Some(&hs384)).await).await,
        (401, "invalid_token".into())
    );
    let none = {
        use base64_url as b;
        format!(
            "{}.{}.",
            b::enc(br#"{"alg":"none","typ":"JWT"}"#),
            b::enc(good("u1").to_string().as_bytes())
        )
    };
    assert_eq!(
        error_code(create(&s, "h", Some(&none)).await).await,
        (401, "invalid_token".into())
    );
    assert_eq!(
        error_code(create(&s, "h", Some("garbage")).await).await,
        (401, "invalid_token".into())
    );
    let r = s
        .client
        .post(s.url("/v1/bots/h/threads"))
        .header("authorization", "Basic abc")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    assert_eq!(error_code(r).await, (401, "invalid_token".into()));
    s.stop().await;
}

#[tokio::test]
async fn a_thread_belongs_to_its_sub() {
    let s = TestServer::start_with(&[("h", &hs_bot())], |_| {}).await;
    let (alice, bob) = (hs(good("alice")), hs(good("bob")));
    let r = create(&s, "h", Some(&alice)).await;
    let t = r.json::<Value>().await.unwrap()["threadId"]
        .as_str()
        .unwrap()
        .to_string();
    let get = |tok: Option<String>, path: String| {
        let mut r = s.client.get(s.url(&path));
        if let Some(t) = tok {
            r = r.bearer_auth(t);
        }
        r.send()
    };
    assert_eq!(
        get(Some(alice.clone()), format!("/v1/threads/{t}/messages"))
            .await
            .unwrap()
            .status(),
        200
    );
    for path in [
        format!("/v1/threads/{t}/messages"),
        format!("/v1/threads/{t}/events"),
    ] {
        assert_eq!(
            error_code(get(Some(bob.clone()), path.clone()).await.unwrap()).await,
            (404, "thread_not_found".into())
        );
        assert_eq!(
            error_code(get(None, path).await.unwrap()).await,
            (401, "auth_required".into())
        );
    }
    let send = s
        .client
        .post(s.url(&format!("/v1/threads/{t}/messages")))
        .bearer_auth(&bob)
        .json(&json!({"clientMessageId": "x", "content": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(send).await, (404, "thread_not_found".into()));
    let close = s
        .client
        .post(s.url(&format!("/v1/threads/{t}/close")))
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(close).await, (404, "thread_not_found".into()));
    let send = s
        .client
        .post(s.url(&format!("/v1/threads/{t}/messages")))
        .bearer_auth(&alice)
        .json(&json!({"clientMessageId": "x", "content": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(send.status(), 202);
    s.stop().await;
}

#[tokio::test]
async fn rs256_and_algorithm_confusion() {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let public = format!("{fixtures}/jwt_rs256_public.pem");
    let s = TestServer::start_with(&[("r", &rs_bot(&public))], |_| {}).await;
    let private = std::fs::read(format!("{fixtures}/jwt_rs256_private.pem")).unwrap();
    let claims = json!({"sub": "u", "exp": now() + 600});
    let rs = encode(
        &Header::new(Algorithm::RS256),
        &claims,
        &EncodingKey::from_rsa_pem(&private).unwrap(),
    )
    .unwrap();
    assert_eq!(create(&s, "r", Some(&rs)).await.status(), 201);
    // The classic confusion attack: HS256 signed with the public key's PEM as the secret.
    let pem = std::fs::read(&public).unwrap();
    let forged = encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(&pem),
    )
    .unwrap();
    assert_eq!(
        error_code(create(&s, "r", Some(&forged)).await).await,
        (401, "invalid_token".into())
    );
    let mut expired = claims.clone();
    expired["exp"] = json!(now() - 3600);
    let rs_expired = encode(
        &Header::new(Algorithm::RS256),
        &expired,
        &EncodingKey::from_rsa_pem(&private).unwrap(),
    )
    .unwrap();
    assert_eq!(
        error_code(create(&s, "r", Some(&rs_expired)).await).await,
        (401, "token_expired".into())
    );
    s.stop().await;
}

#[tokio::test]
async fn cors_exact_origin_per_bot() {
    let s = TestServer::start().await;
    let pre = |origin: &'static str, path: String| {
        s.client
            .request(reqwest::Method::OPTIONS, s.url(&path))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let ok = pre("https://shop.example", "/v1/bots/t/threads".into())
        .await
        .unwrap();
    assert_eq!(ok.status(), 204);
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://shop.example"
    );
    assert!(ok.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .contains("content-type"));
    for bad in [
        "https://shop.example.evil",
        "http://shop.example",
        "https://evil.example",
    ] {
        let r = pre(bad, "/v1/bots/t/threads".into()).await.unwrap();
        assert!(r.headers().get("access-control-allow-origin").is_none());
        assert_eq!(
            error_code(r).await,
            (403, "origin_not_allowed".into()),
            "{bad}"
        );
    }
    // Thread paths resolve the thread's bot.
    let t = s.create_thread("t").await;
    let r = s
        .client
        .get(s.url(&format!("/v1/threads/{t}/messages")))
        .header("origin", "https://shop.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://shop.example"
    );
    assert_eq!(r.headers()["vary"], "Origin");
    // A disallowed cross-origin POST is refused before anything is written.
    let r = s
        .client
        .post(s.url(&format!("/v1/threads/{t}/messages")))
        .header("origin", "https://evil.example")
        .json(&json!({"clientMessageId": "e", "content": "hello world"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(s.history(&t).await["lastSeq"], 1);
    // Same-origin (Origin host = Host) passes without CORS headers.
    let host = s.base.trim_start_matches("http://").to_string();
    let r = s
        .client
        .get(s.url(&format!("/v1/threads/{t}/messages")))
        .header("origin", format!("http://{host}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    s.stop().await;
}

/// Tiny base64url (no padding) for the hand-made `alg: none` token.
mod base64_url {
    pub fn enc(data: &[u8]) -> String {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for chunk in data.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
            for i in 0..=chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            }
        }
        out
    }
}
