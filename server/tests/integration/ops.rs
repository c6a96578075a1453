//! /healthz, /metrics and static assets.

use crate::common::*;

#[tokio::test]
async fn health_and_metrics() {
    let s = TestServer::start().await;
    let r = s.client.get(s.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["status"], "ok");
    let t = s.create_thread("t").await;
    s.turn(&t, "hello world").await;
    let _open = s.events(&t, None).await;
    let m = s.client.get(s.url("/metrics")).send().await.unwrap();
    assert!(m.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let m = m.text().await.unwrap();
    // The registry is process-wide and tests run in parallel: check presence and lower
    // bounds, not exact counts.
    let value = |prefix: &str| -> f64 {
        let line = m
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("missing {prefix} in\n{m}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert!(
        value(
            r#"natter_http_requests_total{method="POST",route="/v1/bots/{bot}/threads",status="201"} "#
        ) >= 1.0
    );
    assert!(value("natter_sse_streams_open ") >= 1.0);
    assert!(value("natter_runs_completed_total ") >= 1.0);
    assert!(value("natter_run_first_delta_seconds_count ") >= 1.0);
    assert!(m.contains("natter_http_request_duration_seconds_bucket{le=\"+Inf\"}"));
    s.stop().await;
}

#[tokio::test]
async fn static_files_with_types_cache_and_compression() {
    let s = TestServer::start().await;
    let root = s.bots.parent().unwrap().to_path_buf();
    std::fs::create_dir_all(root.join("www")).unwrap();
    std::fs::create_dir_all(root.join("pkg")).unwrap();
    std::fs::write(
        root.join("www/index.html"),
        "<!doctype html><title>demo</title>".repeat(50),
    )
    .unwrap();
    let wasm: Vec<u8> = b"\0asm\x01\0\0\0"
        .iter()
        .copied()
        .chain(std::iter::repeat_n(7u8, 4000))
        .collect();
    std::fs::write(root.join("pkg/natter_bg.wasm"), &wasm).unwrap();
    std::fs::write(
        root.join("pkg/embed.js"),
        "console.log('natter');\n".repeat(100),
    )
    .unwrap();

    // reqwest here has no decompression: we see the raw encoding.
    let get = |path: &str, enc: &'static str| {
        s.client
            .get(s.url(path))
            .header("accept-encoding", enc)
            .send()
    };
    let r = get("/", "identity").await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert_eq!(r.headers()["cache-control"], "no-cache");
    let r = get("/widget/natter_bg.wasm", "identity").await.unwrap();
    assert_eq!(r.headers()["content-type"], "application/wasm");
    assert_eq!(r.headers()["cache-control"], "public, max-age=300");
    assert_eq!(r.bytes().await.unwrap().as_ref(), &wasm[..]);
    let r = get("/widget/natter_bg.wasm", "br").await.unwrap();
    assert_eq!(r.headers()["content-encoding"], "br");
    assert!(r.bytes().await.unwrap().len() < wasm.len() / 4);
    let r = get("/widget/embed.js", "gzip").await.unwrap();
    assert_eq!(r.headers()["content-encoding"], "gzip");
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .contains("javascript"));
    let r = get("/widget/missing.js", "gzip").await.unwrap();
    assert_eq!(r.status(), 404);
    s.stop().await;
}
