//! A throwaway PostgreSQL cluster for tests and benchmarks: `initdb` in a temp dir, `pg_ctl
//! start` on 127.0.0.1 and a free port, stopped and deleted when the process exits.
//!
//! PostgreSQL refuses to run as root, so under root the cluster runs as the system user
//! `natter-test` (created by scripts/setup, or here if missing) through `runuser`. One cluster
//! per process (test binary or bench run); each test gets its own database ([`Cluster::database`]).
//! The role `natter_pw` (password [`PASSWORD`]) must log in with its password, to test what a
//! wrong one does; everyone else is trusted on 127.0.0.1.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const USER: &str = "natter-test";
/// The password of role `natter_pw`.
pub const PASSWORD: &str = "right-horse-battery";

pub struct Cluster {
    pub port: u16,
    bin: PathBuf,
    dir: PathBuf,
    as_user: bool,
}

static CLUSTER: OnceLock<Cluster> = OnceLock::new();
static SLOW: OnceLock<Cluster> = OnceLock::new();

/// The process's test cluster (fsync off: tests need crash-of-the-process durability only).
pub fn cluster() -> &'static Cluster {
    CLUSTER.get_or_init(|| Cluster::start(false))
}

/// A cluster with PostgreSQL's default durability (fsync, synchronous commit) and
/// pg_stat_statements, for benchmarks.
pub fn durable_cluster() -> &'static Cluster {
    SLOW.get_or_init(|| Cluster::start(true))
}

/// The directory of `initdb`, `pg_ctl` and `psql`: `NATTER_PG_BIN`, else Debian's newest.
fn bin_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("NATTER_PG_BIN") {
        return dir.into();
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is installed (scripts/setup installs Debian's postgresql)")
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("pg_ctl").exists())
        .collect();
    versions.sort();
    versions
        .pop()
        .expect("a PostgreSQL version under /usr/lib/postgresql")
}

extern "C" fn stop_at_exit() {
    for c in [CLUSTER.get(), SLOW.get()].into_iter().flatten() {
        c.stop();
    }
}

impl Cluster {
    fn start(durable: bool) -> Cluster {
        let bin = bin_dir();
        let as_user = unsafe { libc::geteuid() } == 0;
        if as_user
            && !Command::new("id")
                .arg(USER)
                .output()
                .is_ok_and(|o| o.status.success())
        {
            let ok = Command::new("useradd")
                .args([
                    "--system",
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                    USER,
                ])
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "cannot create the system user {USER} for PostgreSQL");
        }
        let dir = tempfile::Builder::new()
            .prefix("natter-pg-")
            .tempdir()
            .unwrap()
            .keep();
        if as_user {
            let status = Command::new("chown").arg(USER).arg(&dir).status().unwrap();
            assert!(status.success(), "chown {}", dir.display());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let c = Cluster {
            port,
            bin,
            dir,
            as_user,
        };
        let data = c.dir.join("data");
        c.run("initdb", |cmd| {
            cmd.arg("-D").arg(&data).args([
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
            ]);
            if !durable {
                cmd.arg("--no-sync");
            }
        });
        // The password role must use its password; the rest is trusted (first match wins).
        let hba = data.join("pg_hba.conf");
        let rest = std::fs::read_to_string(&hba).unwrap();
        std::fs::write(
            &hba,
            format!("host all natter_pw 127.0.0.1/32 scram-sha-256\n{rest}"),
        )
        .unwrap();
        let mut opts = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c max_connections=600 -c shared_buffers=128MB",
            c.dir.display()
        );
        if durable {
            // Benchmarks read per-statement figures, planning included.
            opts.push_str(
                " -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track_planning=on",
            );
        } else {
            opts.push_str(" -c fsync=off -c synchronous_commit=off -c full_page_writes=off");
        }
        let log = c.dir.join("log");
        c.run("pg_ctl", |cmd| {
            cmd.args(["start", "-w", "-t", "60", "-D"])
                .arg(&data)
                .arg("-l")
                .arg(&log)
                .args(["-o", &opts]);
        });
        unsafe { libc::atexit(stop_at_exit) };
        c.psql(
            "postgres",
            &format!("CREATE ROLE natter_pw LOGIN SUPERUSER PASSWORD '{PASSWORD}'"),
        );
        c
    }

    /// Runs one of the cluster's programs (as `natter-test` under root); panics with its
    /// output when it fails.
    fn run(&self, program: &str, args: impl FnOnce(&mut Command)) -> String {
        let exe = self.bin.join(program);
        let mut cmd = if self.as_user {
            let mut c = Command::new("runuser");
            c.args(["-u", USER, "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        };
        cmd.current_dir(&self.dir);
        args(&mut cmd);
        let out = cmd.output().unwrap_or_else(|e| panic!("{program}: {e}"));
        assert!(
            out.status.success(),
            "{program} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs SQL as the superuser in database `db`; returns psql's unaligned output.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let port = self.port.to_string();
        self.run("psql", |cmd| {
            cmd.args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
                .args(["-h", "127.0.0.1", "-p", &port, "-U", "postgres", "-d", db])
                .args(["-c", sql]);
        })
    }

    /// A URL of database `name`, created empty if it does not exist.
    pub fn database(&self, name: &str) -> String {
        let exists = self.psql(
            "postgres",
            &format!("SELECT 1 FROM pg_database WHERE datname = '{name}'"),
        );
        if exists.trim().is_empty() {
            self.psql("postgres", &format!("CREATE DATABASE \"{name}\""));
        }
        self.url(name)
    }

    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    fn stop(&self) {
        let data = self.dir.join("data");
        let _ = std::panic::catch_unwind(|| {
            self.run("pg_ctl", |cmd| {
                cmd.args(["stop", "-m", "immediate", "-D"]).arg(&data);
            })
        });
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The database name of a data directory: the same directory (a restarted server) gets the
/// same database.
pub fn database_name(data: &Path) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    data.hash(&mut h);
    format!("t_{:016x}", h.finish())
}
