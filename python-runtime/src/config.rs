//! Runtime settings: interpreter, limits, sandbox choice and pool sizes.

use std::path::PathBuf;
use std::time::Duration;

/// Whether to use bubblewrap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SandboxPolicy {
    /// bubblewrap if `bwrap` exists and works here, else the fallback (logged on every run).
    Auto,
    /// bubblewrap or refuse to start.
    Require,
    /// Never bubblewrap: setsid + rlimits (+ setuid when root) only.
    Disable,
}

/// Settings of a [`crate::Runtime`]. `Default` gives the production values.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// The interpreter to probe (`python3` on PATH by default); the runtime resolves it to
    /// the real executable once, so shims (pyenv) are not paid per call.
    pub python: PathBuf,
    /// `bwrap` binary.
    pub bwrap: PathBuf,
    pub sandbox: SandboxPolicy,
    /// Default wall-clock limit of an action.
    pub action_timeout: Duration,
    /// Default wall-clock limit of an event handler.
    pub handler_timeout: Duration,
    /// RLIMIT_AS of each sandboxed process (bytes). Per process: a run's processes together
    /// may use up to `max_processes` times this (no cgroup limit yet).
    pub memory_limit: u64,
    /// RLIMIT_NPROC inside the sandbox (processes and threads the code may have at once).
    pub max_processes: u64,
    /// RLIMIT_FSIZE: largest file the code may write (in its private /tmp).
    pub max_file_size: u64,
    /// Bytes of stdout and of stderr kept per run; the rest is counted and dropped.
    pub max_output: usize,
    /// Largest result or helper message on the channel (bytes).
    pub max_message: usize,
    /// Uid/gid the code runs as when the server runs as root.
    pub sandbox_uid: u32,
    pub sandbox_gid: u32,
    /// Fallback mode as root: workers run as uids `fallback_uid_base .. + 4096` (one each,
    /// never shared while in use; one range per process, the first runtime's base wins).
    /// Pick a range no real user or subuid mapping uses; two servers on one host need two.
    pub fallback_uid_base: u32,
    /// Fork each call from a per-bot-folder zygote that has imported the runtime and the
    /// common packages once (bubblewrap only; without bubblewrap, or when false, each call
    /// gets a fresh interpreter from the warm pool). See docs/actions.md.
    pub zygote: bool,
    /// Zygotes kept at once (one per bot folder); the least recently used folder's goes
    /// first. A zygote holds about 25 MB (interpreter + requests imported).
    pub max_zygotes: usize,
    /// Warm processes kept per bot folder (the pool: no zygote).
    pub warm_per_folder: usize,
    /// Warm (and starting) processes in total; the least recently used folder gives way.
    /// A warm process holds about 25 MB of memory (interpreter + requests imported).
    pub max_warm_total: usize,
    /// Runs at once; further calls wait (the wait counts against their time limit, as does
    /// starting a process when none was ready).
    pub max_concurrent_runs: usize,
    /// How long a process may take to start and import before it counts as failed.
    pub startup_timeout: Duration,
    /// Give the sandbox no network (a private network namespace with loopback only); the
    /// code's connections then go through the egress proxy, where the [`crate::Host`]
    /// decides each one (the server: the bot's `[python] egress` allow-list and `[network]`
    /// policy). On by default. Bubblewrap only: the fallback cannot isolate the network, and
    /// says so in every run's log.
    pub isolate_network: bool,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            python: PathBuf::from("python3"),
            bwrap: PathBuf::from("bwrap"),
            sandbox: SandboxPolicy::Auto,
            action_timeout: Duration::from_secs(30),
            handler_timeout: Duration::from_secs(60),
            memory_limit: 512 << 20,
            max_processes: 32,
            max_file_size: 64 << 20,
            max_output: 64 << 10,
            max_message: 4 << 20,
            sandbox_uid: 65534,
            sandbox_gid: 65534,
            fallback_uid_base: 1_000_000_000,
            zygote: true,
            max_zygotes: 32,
            warm_per_folder: 2,
            max_warm_total: 8,
            max_concurrent_runs: 16,
            startup_timeout: Duration::from_secs(15),
            isolate_network: true,
        }
    }
}
