//! Per-worker uids for the fallback mode when the server runs as root.
//!
//! Without bubblewrap there is no user namespace, so RLIMIT_NPROC counts every process of
//! the uid, and the code's processes can leave the process group (setsid) where killpg no
//! longer reaches them. Giving each worker a uid of its own fixes both: the limit counts only
//! that worker's processes, and after the run `kill(-1, SIGKILL)` sent *as that uid* ends
//! every process it left behind. A uid goes back to the free list only after that sweep.

use std::sync::{Arc, Mutex};

/// A bounded set of uids, `base .. base + count`.
#[derive(Debug, Clone)]
pub struct UidPool {
    free: Arc<Mutex<Vec<u32>>>,
}

/// A uid lent to one worker; returned (after the sweep) on drop.
#[derive(Debug)]
pub struct LeasedUid {
    pub uid: u32,
    pool: UidPool,
}

/// Uids handed out per process, whatever the number of runtimes in it: two runtimes must
/// never lend the same uid (one's sweep would kill the other's processes).
const PER_PROCESS: u32 = 4096;
static SHARED: std::sync::OnceLock<UidPool> = std::sync::OnceLock::new();

impl UidPool {
    fn new(base: u32, count: u32) -> UidPool {
        UidPool {
            free: Arc::new(Mutex::new(
                (base..base.saturating_add(count)).rev().collect(),
            )),
        }
    }

    /// The process-wide pool, `base .. base + 4096`; `base` of the first caller wins. Two
    /// server processes on one host need different bases.
    pub fn shared(base: u32) -> UidPool {
        SHARED
            .get_or_init(|| UidPool::new(base, PER_PROCESS))
            .clone()
    }

    /// A free uid, if any.
    pub fn lease(&self) -> Option<LeasedUid> {
        let uid = self.free.lock().unwrap().pop()?;
        Some(LeasedUid {
            uid,
            pool: self.clone(),
        })
    }
}

impl Drop for LeasedUid {
    fn drop(&mut self) {
        sweep(self.uid);
        self.pool.free.lock().unwrap().push(self.uid);
    }
}

/// SIGKILL every process of `uid` (a short-lived helper process that becomes `uid` and sends
/// kill(-1), which reaches exactly the processes that uid may signal: its own).
fn sweep(uid: u32) {
    use std::os::unix::process::CommandExt;
    let mut cmd = std::process::Command::new("/bin/true");
    cmd.env_clear().current_dir("/");
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setgroups(0, std::ptr::null()) != 0
                || libc::setgid(uid) != 0
                || libc::setuid(uid) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            // Twice: a process forked while the first signal was being delivered.
            libc::kill(-1, libc::SIGKILL);
            libc::kill(-1, libc::SIGKILL);
            Ok(())
        });
    }
    if let Err(e) = cmd.status() {
        tracing::warn!(uid, error = %e, "could not sweep the processes of a sandbox uid");
    }
}
