//! The sandbox: unprivileged, read-only bot folder, nothing of the host's secrets.
mod common;
use common::*;
use natter_python_runtime::*;
use serde_json::json;
use std::path::Path;
use std::sync::Arc;

fn bwrap_expected() -> bool {
    Path::new("/usr/bin/bwrap").exists() || Path::new("/usr/local/bin/bwrap").exists()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bubblewrap_is_used_where_installed_and_named_in_the_log() {
    let bot = Bot::new();
    let s = bot.script("a.py", "def execute_action(context):\n    return 1\n");
    let rt = runtime_with(Arc::new(InMemoryHost::new())).await;
    let out = rt.run(action(&bot, &s, context(json!({}), None))).await;
    if bwrap_expected() {
        assert_eq!(rt.sandbox_mode(), SandboxMode::Bubblewrap);
        assert!(
            out.log[0].starts_with("sandbox: bubblewrap"),
            "{:?}",
            out.log
        );
    } else {
        assert!(out.log[0].contains("FALLBACK"), "{:?}", out.log);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_cannot_write_the_bot_folder_or_read_host_secrets() {
    if !bwrap_expected() {
        eprintln!("bwrap not installed: sandbox isolation not testable here");
        return;
    }
    // A secret in the server's environment and one in root's home.
    std::env::set_var("NATTER_TEST_SECRET", "s3cr3t-env");
    let secret_file = format!("/root/natter-test-secret-{}", std::process::id());
    let wrote_secret = std::fs::write(&secret_file, "s3cr3t-file").is_ok();
    // Another bot's folder, with its own secret.
    let other = Bot::new();
    other.script("keys.py", "API_KEY = 'other-bots-key'\n");
    let other_file = other.path().join("keys.py").display().to_string();
    let bot = Bot::new();
    let s = bot.script("probe.py", &format!(r##"
        import os
        def attempt(f):
            try:
                return "ALLOWED: " + repr(f())[:80]
            except Exception as e:
                return "denied: " + type(e).__name__
        def write_bot():
            with open("new.txt", "w") as f:
                f.write("x")
        def overwrite_self():
            with open("probe.py", "a") as f:
                f.write("#")
        def write_tmp():
            with open("/tmp/scratch", "w") as f:
                f.write("ok")
            return open("/tmp/scratch").read()
        def execute_action(context):
            return {{
                "uid": os.getuid(), "euid": os.geteuid(),
                "cwd": os.getcwd(),
                "write_bot": attempt(write_bot),
                "overwrite_self": attempt(overwrite_self),
                "read_secret": attempt(lambda: open({secret_file:?}).read()),
                "other_bot": attempt(lambda: open({other_file:?}).read()),
                "list_root": attempt(lambda: [n for n in os.listdir("/root") if not n.startswith(".pyenv")]),
                "shadow": attempt(lambda: open("/etc/shadow").read()),
                "env_secret": os.environ.get("NATTER_TEST_SECRET"),
                "env_keys": sorted(os.environ),
                "tmp": attempt(write_tmp),
                "host_procs": len([p for p in os.listdir("/proc") if p.isdigit()]),
            }}
    "##));
    let rt = runtime_with(Arc::new(InMemoryHost::new())).await;
    let out = rt.run(action(&bot, &s, context(json!({}), None))).await;
    if wrote_secret {
        let _ = std::fs::remove_file(&secret_file);
    }
    assert_eq!(out.status, RunStatus::Ok, "{out:#?}");
    let v = &out.value;
    assert_ne!(v["uid"], json!(0), "{v}");
    assert_ne!(v["euid"], json!(0), "{v}");
    assert_eq!(v["cwd"], json!("/bot"));
    for k in [
        "write_bot",
        "overwrite_self",
        "read_secret",
        "other_bot",
        "shadow",
    ] {
        assert!(v[k].as_str().unwrap().starts_with("denied"), "{k}: {v}");
    }
    // /root is either hidden or holds only the interpreter's bind mount point.
    let lr = v["list_root"].as_str().unwrap();
    assert!(lr.starts_with("denied") || lr == "ALLOWED: []", "{lr}");
    assert_eq!(v["env_secret"], json!(null));
    // Only what the runtime sets (PWD comes from bwrap --chdir; LC_CTYPE may be added by
    // Python's C.UTF-8 coercion; the proxy variables point at the call's egress relay).
    let keys: Vec<&str> = v["env_keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|k| k.as_str())
        .filter(|k| *k != "LC_CTYPE")
        .collect();
    assert_eq!(
        keys,
        [
            "HOME",
            "HTTPS_PROXY",
            "HTTP_PROXY",
            "LANG",
            "MALLOC_ARENA_MAX",
            "PATH",
            "PWD",
            "PYTHONIOENCODING",
            "TMPDIR",
            "http_proxy",
            "https_proxy"
        ],
        "{v}"
    );
    assert_eq!(v["tmp"], json!("ALLOWED: 'ok'"));
    assert!(
        v["host_procs"].as_u64().unwrap() < 10,
        "pid namespace: only the sandbox's processes: {v}"
    );
    assert!(!std::path::Path::new(&bot.path().join("new.txt")).exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabled_sandbox_is_reported_as_fallback() {
    let bot = Bot::new();
    let s = bot.script("a.py", "def execute_action(context):\n    return 1\n");
    let cfg = RuntimeConfig {
        sandbox: SandboxPolicy::Disable,
        ..test_config()
    };
    match Runtime::start(cfg, Arc::new(InMemoryHost::new())).await {
        Ok(rt) => {
            assert_eq!(rt.sandbox_mode(), SandboxMode::Fallback);
            let out = rt.run(action(&bot, &s, context(json!({}), None))).await;
            assert_eq!(out.value, json!(1), "{out:#?}");
            assert!(out.log[0].contains("FALLBACK"), "{:?}", out.log);
        }
        // As root with an interpreter the sandbox uid cannot read (pyenv under /root), the
        // fallback refuses to start, with a clear error.
        Err(e) => assert!(e.to_string().contains("starting a python worker"), "{e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_is_isolated_by_default_and_can_be_turned_off() {
    if !bwrap_expected() {
        return;
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let bot = Bot::new();
    let s = bot.script(
        "net.py",
        &format!(
            r#"
        import socket
        def execute_action(context):
            try:
                socket.create_connection(("127.0.0.1", {port}), timeout=2).close()
                return "connected"
            except OSError as e:
                return "refused"
    "#
        ),
    );
    for cfg in [test_config(), pool_config()] {
        let rt = Runtime::start(cfg, Arc::new(InMemoryHost::new()))
            .await
            .unwrap();
        let out = rt.run(action(&bot, &s, context(json!({}), None))).await;
        assert_eq!(out.value, json!("refused"), "{out:#?}");
        assert!(
            out.log.iter().any(|l| l.starts_with("network: isolated")),
            "{:?}",
            out.log
        );
    }
    let cfg = RuntimeConfig {
        isolate_network: false,
        ..test_config()
    };
    let rt = Runtime::start(cfg, Arc::new(InMemoryHost::new()))
        .await
        .unwrap();
    let out = rt.run(action(&bot, &s, context(json!({}), None))).await;
    assert_eq!(out.value, json!("connected"));
    assert!(
        out.log
            .iter()
            .any(|l| l.starts_with("network: NOT isolated")),
        "{:?}",
        out.log
    );
}

/// A plain-HTTP server on 127.0.0.1 that answers every request with its path and counts
/// connections.
async fn spy() -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = seen.clone();
    tokio::spawn(async move {
        loop {
            let (mut sock, _) = listener.accept().await.unwrap();
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let mut n = 0;
                while !buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf[n..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(k) => n += k,
                    }
                }
                let head = String::from_utf8_lossy(&buf[..n]).to_string();
                let path = head.split(' ').nth(1).unwrap_or("").to_string();
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{path}",
                    path.len()
                );
                let _ = sock.write_all(reply.as_bytes()).await;
            });
        }
    });
    (port, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_and_urllib_go_out_through_the_egress_proxy_only_where_the_host_allows() {
    if !bwrap_expected() {
        return;
    }
    let (open_port, open_seen) = spy().await;
    let (closed_port, closed_seen) = spy().await;
    let bot = Bot::new();
    let s = bot.script(
        "out.py",
        r#"
        import http.client, os, requests, urllib.parse, urllib.request
        def execute_action(context):
            port = context["args"]["port"]
            url = f"http://127.0.0.1:{port}/p?q=1"
            if context["args"]["lib"] == "urllib":
                return urllib.request.urlopen(url, timeout=5).read().decode()
            if context["args"]["lib"] == "tunnel":
                # What HTTPS does: CONNECT, then its own bytes through the tunnel.
                proxy = urllib.parse.urlsplit(os.environ["HTTPS_PROXY"])
                c = http.client.HTTPConnection(proxy.hostname, proxy.port, timeout=5)
                c.set_tunnel("127.0.0.1", port)
                c.request("GET", "/t")
                return c.getresponse().read().decode()
            r = requests.get(url, timeout=5)
            return [r.status_code, r.text.strip()]
    "#,
    );
    let allowed = format!("127.0.0.1:{open_port}");
    for cfg in [test_config(), pool_config()] {
        let host = InMemoryHost::new().with_egress(&[&allowed]);
        let rt = Runtime::start(cfg, Arc::new(host)).await.unwrap();
        let run = |port: u16, lib: &str| {
            rt.run(action(
                &bot,
                &s,
                context(json!({"port": port, "lib": lib}), None),
            ))
        };
        let out = run(open_port, "requests").await;
        assert_eq!(out.value, json!([200, "/p?q=1"]), "{out:#?}");
        let out = run(open_port, "urllib").await;
        assert_eq!(out.value, json!("/p?q=1"), "{out:#?}");
        let out = run(open_port, "tunnel").await;
        assert_eq!(out.value, json!("/t"), "{out:#?}");
        let out = run(closed_port, "requests").await;
        assert_eq!(out.value[0], 403, "{out:#?}");
        let why = out.value[1].as_str().unwrap();
        assert!(
            why.contains("natter egress refused") && why.contains("is not allowed"),
            "{why}"
        );
    }
    assert_eq!(open_seen.load(std::sync::atomic::Ordering::SeqCst), 6);
    assert_eq!(closed_seen.load(std::sync::atomic::Ordering::SeqCst), 0);
}
