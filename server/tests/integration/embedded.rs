//! One binary carries everything: `natter serve` started in an empty directory, with no
//! folder flags, serves the demo page, the agent console, the widget and the demo bot from
//! what is embedded in it; a folder given on the command line overrides the embedded copy.

use reqwest::header;
use serde_json::Value;

use crate::process::{natter_serve, start};

#[tokio::test]
async fn natter_started_from_an_empty_directory_serves_pages_widget_and_demo_bot() {
    let cwd = tempfile::tempdir().unwrap();
    let mut cmd = natter_serve();
    cmd.current_dir(cwd.path());
    let (_proc, base) = start(cmd).await;
    let client = reqwest::Client::new();

    let page = client.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(page.text().await.unwrap().contains("/widget/"));

    let agent = client.get(format!("{base}/agent/")).send().await.unwrap();
    assert_eq!(agent.status(), 200);
    let no_slash = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{base}/agent"))
        .send()
        .await
        .unwrap();
    assert_eq!(no_slash.status(), 308);
    assert_eq!(no_slash.headers()[header::LOCATION], "/agent/");

    let embed = client
        .get(format!("{base}/widget/embed.js"))
        .header(header::ACCEPT_ENCODING, "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(embed.status(), 200);
    assert_eq!(embed.headers()[header::CONTENT_ENCODING], "gzip");
    assert_eq!(
        embed.headers()[header::CACHE_CONTROL],
        "public, max-age=300"
    );
    let etag = embed.headers()[header::ETAG].clone();
    let wasm = client
        .get(format!("{base}/widget/natter_wasm_bg.wasm"))
        .send()
        .await
        .unwrap();
    assert_eq!(wasm.headers()[header::CONTENT_TYPE], "application/wasm");
    assert_eq!(&wasm.bytes().await.unwrap()[..4], b"\0asm");
    let again = client
        .get(format!("{base}/widget/embed.js"))
        .header(header::IF_NONE_MATCH, etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);

    for path in ["/widget/../Cargo.toml", "/nope.html", "/widget/nope.js"] {
        let r = client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }

    // The built-in demo bot answers.
    let r = client
        .post(format!("{base}/v1/bots/demo/threads"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let thread: Value = r.json().await.unwrap();
    assert!(thread["threadId"].is_string(), "{thread}");
    assert!(cwd.path().join("data/builtin-bots/demo/bot.toml").is_file());
}

#[tokio::test]
async fn a_www_folder_on_the_command_line_overrides_the_embedded_pages() {
    let cwd = tempfile::tempdir().unwrap();
    std::fs::create_dir(cwd.path().join("site")).unwrap();
    std::fs::write(cwd.path().join("site/index.html"), "<p>our own page</p>").unwrap();
    std::fs::create_dir(cwd.path().join("bots")).unwrap();
    let mut cmd = natter_serve();
    cmd.current_dir(cwd.path()).args(["--www", "site"]);
    let (_proc, base) = start(cmd).await;
    let body = reqwest::get(format!("{base}/"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "<p>our own page</p>");
    // An existing ./bots folder is used (here empty), not the demo bot.
    let r = reqwest::Client::new()
        .post(format!("{base}/v1/bots/demo/threads"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert!(!cwd.path().join("data/builtin-bots").exists());
}
