//! What running one job needs from its process, however the process was made: started
//! fresh ahead of need by the warm pool ([`crate::worker::Worker`]) or forked for the call
//! by the bot's zygote ([`crate::zygote::Forked`]).
//!
//! Invariant: after `kill_and_reap` nothing the run started is left running.

use crate::channel::Channel;
use crate::logbuf::Capture;
use std::future::Future;
use std::time::Duration;

/// One call's process, as `run::run_job` drives it.
pub trait RunProcess: Send + 'static {
    /// The private job/helper channel.
    fn channel(&mut self) -> &mut Channel;
    /// The stdout and stderr captures (there once; taken when the run is collected).
    fn take_output(&mut self) -> (Option<Capture>, Option<Capture>);
    /// After the channel closed without a result: wait up to `wait` for the process to end
    /// on its own and say how it ended, for the run log (`None`: not known).
    fn exit_reason(&mut self, wait: Duration) -> impl Future<Output = Option<String>> + Send;
    /// The root of the run's process tree as the server sees it, while it is alive and its
    /// pid cannot name another process (for `demote`); `None` otherwise.
    fn pid(&self) -> Option<libc::pid_t>;
    /// Kill the process and everything it started; wait (bounded) until they are gone.
    fn kill_and_reap(&mut self) -> impl Future<Output = ()> + Send;
}

/// How a python process ended, in the run log's words: `Ok(exit code)` or `Err(signal)`.
pub fn describe_exit(exit: Result<i32, i32>) -> String {
    match exit {
        Ok(code) => format!("python exited with code {code} before returning a result"),
        Err(libc::SIGKILL) => "python was killed (SIGKILL) before returning a result; the memory limit is the usual cause".to_string(),
        Err(sig) => format!("python was killed by signal {sig} before returning a result"),
    }
}
