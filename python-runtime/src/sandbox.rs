//! Building the command that starts one sandboxed python process: a worker (one call) or
//! a zygote (one bot folder; it forks the calls, see `zygote`).
//!
//! Two modes, chosen once at start and named in every run's log:
//! - `Bubblewrap`: new user, pid, ipc, uts and cgroup namespaces; a root filesystem made of
//!   read-only binds of /usr, the interpreter's folders and a few /etc files, a private /tmp,
//!   and the bot folder read-only at /bot (the working directory). `--die-with-parent` and
//!   the pid namespace mean killing bwrap kills every process the code started, even ones
//!   that left the process group. RLIMIT_NPROC is set by the worker *inside* the new user
//!   namespace, where the kernel counts only that sandbox's processes (so the other
//!   pre-started workers of the same uid do not eat into it). A zygote gets the same
//!   sandbox (plus its own read-only code file) and sets no process limit itself: each call
//!   it forks sets its own, in a user namespace of the call's own.
//! - `Fallback` (no usable bwrap): setsid + rlimits, setuid to the sandbox uid when root,
//!   the bot folder as working directory. Weaker: the code sees the host filesystem as that
//!   uid sees it. As root each worker gets a uid of its own (`uids`), so RLIMIT_NPROC counts
//!   only its processes and a sweep as that uid ends any it left behind; not as root, the
//!   code runs as the server's uid and RLIMIT_NPROC counts all of that uid's processes.
//!
//! As root, bwrap itself runs as the sandbox uid, which may not be able to walk to the
//! folders it must bind (pyenv under /root, a bot folder under /root). So the child first
//! bind-mounts them, in a private mount namespace of its own (never visible on the host),
//! onto empty mount points in the runtime's temp folder, and bwrap binds those.
//!
//! Network: under bubblewrap with `isolate_network` (the default) the sandbox has a network
//! namespace of its own, loopback only, and the bot folder's egress folder (its proxy's unix
//! socket, see `egress`) bound read-only at `/natter/egress`; the fallback has the host's
//! network.
//!
//! In both modes, before exec: a new session (so killpg reaches the tree), RLIMIT_AS,
//! RLIMIT_FSIZE, RLIMIT_CORE=0, RLIMIT_NOFILE, dropping root, PR_SET_PDEATHSIG, and the
//! channel pipes (a zygote: its control socket, on both) moved to fds 3 (in) and 4 (out). The environment is emptied and rebuilt
//! with nothing secret in it.

use crate::config::RuntimeConfig;
use crate::interpreter::Interpreter;
use std::os::fd::RawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

/// Which isolation the runs get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SandboxMode {
    Bubblewrap,
    Fallback,
}

impl SandboxMode {
    /// How the mode is named in run logs.
    pub fn describe(self) -> &'static str {
        match self {
            SandboxMode::Bubblewrap => "bubblewrap (user+pid namespaces, read-only filesystem)",
            SandboxMode::Fallback => "FALLBACK without bubblewrap (setsid + rlimits + uid only)",
        }
    }
}

/// Where the bot folder appears inside the bubblewrap sandbox.
pub const SANDBOX_BOT_DIR: &str = "/bot";
const SANDBOX_RUNTIME_FILE: &str = "/natter/natter_runtime.py";
const SANDBOX_ZYGOTE_FILE: &str = "/natter/natter_zygote.py";

/// What the started python process is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessKind {
    /// Runs one job, then exits (the warm pool, cold starts).
    Worker,
    /// Forks one process per job (bubblewrap only); its fds 3 and 4 are both the control
    /// socket.
    Zygote,
}

/// Everything needed to start workers; cheap to share.
#[derive(Debug)]
pub struct Launcher {
    pub mode: SandboxMode,
    pub interpreter: Interpreter,
    pub runtime_file: PathBuf,
    pub cfg: RuntimeConfig,
    pub is_root: bool,
    /// Fallback mode as root: one uid per worker (see `uids`).
    pub uids: Option<crate::uids::UidPool>,
    /// Bubblewrap without network: the per-folder egress proxies (see `egress`).
    pub egress: Option<std::sync::Arc<crate::egress::Egress>>,
}
/// Most folders staged (interpreter folders + the bot folder).
pub const MAX_STAGED: usize = 16;

/// The limits applied in the child before exec.
#[derive(Clone, Copy)]
struct ChildSetup {
    chan_in: RawFd,
    chan_out: RawFd,
    /// (source, stage target) C strings, bind-mounted in a private mount namespace before
    /// dropping root, so that bwrap (running as the sandbox uid) can reach folders that uid
    /// may not walk to (pyenv under /root, a bot folder under /root). Pointers into
    /// `Staging`, which the closure owns.
    staged: [(*const libc::c_char, *const libc::c_char); MAX_STAGED],
    n_staged: usize,
    memory: u64,
    fsize: u64,
    nproc: Option<u64>,
    drop_to: Option<(u32, u32)>,
}

// SAFETY: the pointers refer to CStrings owned by the same closure as the ChildSetup.
unsafe impl Send for ChildSetup {}
unsafe impl Sync for ChildSetup {}

/// Owner of the C strings `ChildSetup.staged` points into.
struct Staging {
    _strings: Vec<std::ffi::CString>,
    setup: ChildSetup,
}

fn cstring(p: &Path) -> std::ffi::CString {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::CString::new(p.as_os_str().as_bytes()).unwrap_or_default()
}

impl Launcher {
    /// The run log's line on the network the code has.
    pub fn network_note(&self) -> &'static str {
        match (self.mode, self.cfg.isolate_network, self.egress.is_some()) {
            (SandboxMode::Bubblewrap, true, true) => {
                "network: isolated; connections only through the egress proxy, where the host allows them"
            }
            (SandboxMode::Bubblewrap, true, false) => "network: isolated; no egress proxy",
            (SandboxMode::Bubblewrap, false, _) => {
                "network: NOT isolated (isolate_network is off): the code connects anywhere the server can"
            }
            (SandboxMode::Fallback, _, _) => {
                "network: NOT isolated (no bubblewrap): the code connects anywhere the server can, egress allow-list not enforced"
            }
        }
    }

    /// Folders the sandbox binds besides the public system ones: (host path, sandbox path).
    fn private_binds(&self, bot_dir: &Path) -> Vec<(PathBuf, String)> {
        let mut v: Vec<(PathBuf, String)> = self
            .interpreter
            .paths
            .iter()
            .filter(|p| !p.starts_with("/usr"))
            .take(MAX_STAGED - 1)
            .map(|p| (p.clone(), p.to_string_lossy().into_owned()))
            .collect();
        v.push((bot_dir.to_path_buf(), SANDBOX_BOT_DIR.to_string()));
        v
    }

    /// Where a staged folder appears (in the child's private mount namespace) for bwrap.
    fn stage_path(&self, i: usize) -> PathBuf {
        self.stage_dir().join(i.to_string())
    }

    /// The folder holding the (empty) stage mount points; created at start.
    pub fn stage_dir(&self) -> PathBuf {
        self.runtime_file.with_file_name("stage")
    }

    /// Create the stage mount points (at start, as the server's user).
    pub fn prepare_stage(&self) -> std::io::Result<()> {
        for i in 0..MAX_STAGED {
            std::fs::create_dir_all(self.stage_path(i))?;
        }
        Ok(())
    }

    /// The command for one worker serving `bot_dir`; `chan_in`/`chan_out` are the child's
    /// ends of the channel pipes (they become fds 3 and 4).
    pub fn command(
        &self,
        kind: ProcessKind,
        bot_dir: &Path,
        chan_in: RawFd,
        chan_out: RawFd,
        own_uid: Option<u32>,
    ) -> tokio::process::Command {
        let uid_gid = match own_uid {
            Some(uid) => Some((uid, uid)),
            None => self
                .is_root
                .then_some((self.cfg.sandbox_uid, self.cfg.sandbox_gid)),
        };
        let exe = self.interpreter.executable.as_os_str();
        let stage = self.is_root && self.mode == SandboxMode::Bubblewrap;
        let mut strings = Vec::new();
        let mut cmd = match self.mode {
            SandboxMode::Bubblewrap => {
                let mut binds = Vec::new();
                for (i, (host, dest)) in self.private_binds(bot_dir).into_iter().enumerate() {
                    let src = if stage {
                        strings.push(cstring(&host));
                        strings.push(cstring(&self.stage_path(i)));
                        self.stage_path(i)
                    } else {
                        host
                    };
                    binds.push((src.to_string_lossy().into_owned(), dest));
                }
                let egress = self.egress.as_ref().and_then(|e| match e.folder(bot_dir) {
                    Ok(f) => Some(f),
                    Err(err) => {
                        tracing::warn!(dir = %bot_dir.display(), error = %err, "python egress proxy could not start; this process has no way out");
                        None
                    }
                });
                if let Some(f) = &egress {
                    binds.push((
                        f.to_string_lossy().into_owned(),
                        crate::egress::SANDBOX_EGRESS_DIR.to_string(),
                    ));
                }
                let mut c = std::process::Command::new(&self.cfg.bwrap);
                c.args(self.bwrap_args(&binds));
                c.arg("--")
                    .arg(exe)
                    .args(["-u", "-B", "-E", "-s", SANDBOX_RUNTIME_FILE]);
                c.arg(self.process_config(kind, SANDBOX_BOT_DIR, true, egress.is_some()));
                c.current_dir("/");
                c
            }
            SandboxMode::Fallback => {
                let mut c = std::process::Command::new(exe);
                c.args(["-u", "-B", "-E", "-s"]).arg(&self.runtime_file);
                c.arg(self.process_config(kind, &bot_dir.to_string_lossy(), false, false));
                c.current_dir(bot_dir);
                c
            }
        };
        cmd.env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOME", "/tmp")
            .env("TMPDIR", "/tmp")
            .env("LANG", "C.UTF-8")
            .env("PYTHONIOENCODING", "utf-8")
            // glibc reserves 64 MiB of address space per thread arena; under RLIMIT_AS that
            // would make a handful of threads fail to start.
            .env("MALLOC_ARENA_MAX", "2");
        let mut staged = [(std::ptr::null(), std::ptr::null()); MAX_STAGED];
        for (i, pair) in strings.chunks(2).enumerate() {
            staged[i] = (pair[0].as_ptr(), pair[1].as_ptr());
        }
        let setup = ChildSetup {
            chan_in,
            chan_out,
            staged,
            n_staged: strings.len() / 2,
            memory: self.cfg.memory_limit,
            fsize: self.cfg.max_file_size,
            nproc: (self.mode == SandboxMode::Fallback).then_some(self.cfg.max_processes),
            drop_to: uid_gid,
        };
        let owned = Staging {
            _strings: strings,
            setup,
        };
        // SAFETY: the closure only makes async-signal-safe libc calls (dup/fcntl/setsid/
        // unshare/mount/setpriority/setrlimit/setgroups/setgid/setuid/prctl) and allocates nothing.
        unsafe {
            // `&owned` (not `owned.setup`) so the closure owns the C strings too: edition-2021
            // closures would otherwise capture only the Copy field and drop the strings.
            cmd.pre_exec(move || {
                let o = &owned;
                child_setup(o.setup)
            });
        }
        let mut cmd = tokio::process::Command::from(cmd);
        cmd.stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        cmd
    }

    fn process_config(
        &self,
        kind: ProcessKind,
        bot_dir: &str,
        set_nproc: bool,
        egress: bool,
    ) -> String {
        let mut sys_path = vec![bot_dir.to_string()];
        sys_path.extend(self.interpreter.sys_path.iter().cloned());
        let cfg = &self.cfg;
        // Where the egress relay of each call connects (absent: no proxy).
        let egress = egress.then(crate::egress::sandbox_socket);
        match kind {
            ProcessKind::Worker => serde_json::json!({
                "mode": "worker",
                "nproc": if set_nproc { Some(cfg.max_processes) } else { None },
                "sys_path": sys_path,
                "egress": egress,
            }),
            // No process limit on the zygote itself: each call sets its own, inside its own
            // user namespace, and a limit here would cap all calls together.
            ProcessKind::Zygote => serde_json::json!({
                "mode": "zygote",
                "sys_path": sys_path,
                "egress": egress,
                "zygote": {
                    "limits": {
                        "memory": cfg.memory_limit,
                        "fsize": cfg.max_file_size,
                        "nproc": cfg.max_processes,
                        "tmp_size": cfg.max_file_size,
                    },
                    "isolate_network": cfg.isolate_network,
                },
            }),
        }
        .to_string()
    }

    fn bwrap_args(&self, binds: &[(String, String)]) -> Vec<String> {
        let mut a: Vec<String> = Vec::new();
        let mut push = |xs: &[&str]| a.extend(xs.iter().map(|s| s.to_string()));
        push(&[
            "--unshare-user",
            "--unshare-pid",
            "--unshare-ipc",
            "--unshare-uts",
            "--unshare-cgroup-try",
        ]);
        if self.cfg.isolate_network {
            push(&["--unshare-net"]);
        }
        let (uid, gid) = (
            self.cfg.sandbox_uid.to_string(),
            self.cfg.sandbox_gid.to_string(),
        );
        push(&[
            "--die-with-parent",
            "--uid",
            &uid,
            "--gid",
            &gid,
            "--hostname",
            "natter-sandbox",
        ]);
        push(&["--ro-bind", "/usr", "/usr"]);
        for top in ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"] {
            let p = Path::new(top);
            match std::fs::read_link(p) {
                Ok(target) => push(&["--symlink", &target.to_string_lossy(), top]),
                Err(_) if p.is_dir() => push(&["--ro-bind", top, top]),
                Err(_) => {}
            }
        }
        // Name resolution, TLS roots, time zone, the loader cache; nothing else of /etc.
        for f in [
            "/etc/resolv.conf",
            "/etc/hosts",
            "/etc/nsswitch.conf",
            "/etc/host.conf",
            "/etc/gai.conf",
            "/etc/ssl",
            "/etc/ca-certificates",
            "/etc/pki",
            "/etc/localtime",
            "/etc/passwd",
            "/etc/group",
            "/etc/ld.so.cache",
            "/etc/ld.so.conf",
            "/etc/ld.so.conf.d",
            "/etc/mime.types",
        ] {
            push(&["--ro-bind-try", f, f]);
        }
        let tmp_size = self.cfg.max_file_size.to_string();
        push(&[
            "--proc", "/proc", "--dev", "/dev", "--size", &tmp_size, "--tmpfs", "/tmp",
        ]);
        let rt = self.runtime_file.to_string_lossy();
        push(&["--ro-bind", &rt, SANDBOX_RUNTIME_FILE]);
        let zygote = self.runtime_file.with_file_name("natter_zygote.py");
        push(&["--ro-bind", &zygote.to_string_lossy(), SANDBOX_ZYGOTE_FILE]);
        for (src, dest) in binds {
            push(&["--ro-bind", src, dest]);
        }
        push(&["--chdir", SANDBOX_BOT_DIR]);
        a
    }
}

/// The nice value of sandboxed Python processes (the server runs at 0).
pub const PYTHON_NICE: libc::c_int = 10;

fn child_setup(s: ChildSetup) -> std::io::Result<()> {
    fn check(r: libc::c_int) -> std::io::Result<libc::c_int> {
        if r < 0 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(r)
        }
    }
    fn limit(res: libc::__rlimit_resource_t, v: u64) -> std::io::Result<()> {
        let rl = libc::rlimit {
            rlim_cur: v as libc::rlim_t,
            rlim_max: v as libc::rlim_t,
        };
        // SAFETY: plain syscall with a valid pointer.
        check(unsafe { libc::setrlimit(res, &rl) }).map(|_| ())
    }
    // SAFETY: async-signal-safe syscalls on fds we own in this freshly forked child.
    unsafe {
        // Move both ends high first, so placing them on 3 and 4 cannot clobber each other.
        const HIGH: libc::c_int = 64;
        let hi_in = check(libc::fcntl(s.chan_in, libc::F_DUPFD_CLOEXEC, HIGH))?;
        let hi_out = check(libc::fcntl(s.chan_out, libc::F_DUPFD_CLOEXEC, HIGH))?;
        // dup2 clears close-on-exec on the target: these, and only these, survive exec.
        check(libc::dup2(hi_in, 3))?;
        check(libc::dup2(hi_out, 4))?;
        if s.n_staged > 0 {
            // A private mount namespace of this child only: the binds never reach the host.
            check(libc::unshare(libc::CLONE_NEWNS))?;
            check(libc::mount(
                std::ptr::null(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ))?;
            for &(src, dst) in s.staged.iter().take(s.n_staged) {
                check(libc::mount(
                    src,
                    dst,
                    std::ptr::null(),
                    libc::MS_BIND | libc::MS_REC,
                    std::ptr::null(),
                ))?;
            }
        }
        check(libc::setsid())?;
    }
    // Below the server's CPU priority: runaway scripts (a busy loop until their time limit)
    // share what the chat leaves instead of competing with it as equals. Inherited by every
    // process the code starts; unprivileged code cannot raise it back.
    // SAFETY: plain syscall on this process.
    check(unsafe { libc::setpriority(libc::PRIO_PROCESS as _, 0, PYTHON_NICE) })?;
    limit(libc::RLIMIT_AS, s.memory)?;
    limit(libc::RLIMIT_FSIZE, s.fsize)?;
    limit(libc::RLIMIT_CORE, 0)?;
    // No headroom to raise the priority again: keeps the nice value, and keeps a thread that
    // `demote` moved to SCHED_IDLE from switching back.
    limit(libc::RLIMIT_NICE, 0)?;
    limit(libc::RLIMIT_NOFILE, 256)?;
    if let Some(n) = s.nproc {
        limit(libc::RLIMIT_NPROC, n)?;
    }
    // SAFETY: as above.
    unsafe {
        if let Some((uid, gid)) = s.drop_to {
            check(libc::setgroups(0, std::ptr::null()))?;
            check(libc::setgid(gid))?;
            check(libc::setuid(uid))?;
        }
        // After setuid (which clears it): die with the server rather than outlive it. The
        // signal fires when the *spawning thread* exits, which is why workers are only
        // spawned from tokio tasks (runtime worker threads live as long as the runtime).
        check(libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        ))?;
    }
    Ok(())
}
