//! A real S3-compatible server on loopback for tests and benchmarks: moto's server
//! (`python3 -m moto.server`, installed by scripts/setup from scripts/requirements-test.txt)
//! on 127.0.0.1 and a free port, one per process, killed when the process exits. Each test
//! makes its own bucket ([`S3Server::bucket`]); moto accepts any credentials.

#![allow(dead_code)]

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use natter_server::attachments::s3::S3Config;

pub struct S3Server {
    pub port: u16,
    child: Mutex<Child>,
}

static SERVER: OnceLock<S3Server> = OnceLock::new();

/// The process's S3 server (started on first use).
pub fn server() -> &'static S3Server {
    SERVER.get_or_init(S3Server::start)
}

extern "C" fn kill_at_exit() {
    if let Some(mut child) = SERVER.get().and_then(|s| s.child.lock().ok()) {
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl S3Server {
    fn start() -> S3Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("python3")
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs (moto[server] is installed by scripts/setup)");
        let s = S3Server {
            port,
            child: Mutex::new(child),
        };
        unsafe { libc::atexit(kill_at_exit) };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto's S3 server did not listen on 127.0.0.1:{port} (is moto[server] installed? scripts/setup)"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        s
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Creates bucket `name` (nothing when it exists) and returns the server's config for it.
    pub async fn bucket(&self, name: &str) -> S3Config {
        let r = reqwest::Client::new()
            .put(format!("{}/{name}", self.endpoint()))
            .send()
            .await
            .expect("moto answers");
        assert!(
            r.status().is_success(),
            "creating bucket {name}: {}",
            r.status()
        );
        self.config(name)
    }

    /// The config of bucket `name` on this server (which need not exist).
    pub fn config(&self, name: &str) -> S3Config {
        S3Config {
            bucket: name.into(),
            endpoint: Some(self.endpoint()),
            region: Some("us-east-1".into()),
            prefix: "natter/files".into(),
            path_style: true,
            access_key_id: Some("testing".into()),
            secret_access_key: Some("testing".into()),
        }
    }

    /// The keys under `prefix` in `bucket` (ListObjectsV2 through moto's plain HTTP API).
    pub async fn keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let body = reqwest::Client::new()
            .get(format!("{}/{bucket}", self.endpoint()))
            .query(&[("list-type", "2"), ("prefix", prefix), ("max-keys", "1000")])
            .send()
            .await
            .expect("moto answers")
            .text()
            .await
            .unwrap();
        body.split("<Key>")
            .skip(1)
            .filter_map(|s| s.split("</Key>").next())
            .map(str::to_string)
            .collect()
    }
}
