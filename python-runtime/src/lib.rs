//! natter-python-runtime: runs bot owners' Python actions (`execute_action(context)`) and
//! event handlers (`handle_event(context)`) in sandboxed, resource-limited python3 processes.
//!
//! How the server uses it:
//! ```no_run
//! # async fn demo() -> Result<(), natter_python_runtime::Error> {
//! use natter_python_runtime::*;
//! use std::sync::Arc;
//! let host: Arc<dyn Host> = Arc::new(InMemoryHost::new()); // the server: its store-backed Host
//! let rt = Runtime::start(RuntimeConfig::default(), host).await?;
//! rt.prewarm("bots/acme".as_ref()).await?;                  // optional: the bot's zygote
//! let out = rt.run(RunRequest::action("acme", "bots/acme", "refund.py", Context::default())).await;
//! println!("{} {:?} {}", out.value, out.status, out.stdout); // value for the bot; logs to store
//! rt.shutdown();
//! # Ok(()) }
//! ```
//!
//! Invariants kept across the crate:
//! - one fresh process per call: forked by the bot folder's zygote (`zygote`; bubblewrap),
//!   into namespaces of its own, or a fresh interpreter (`pool`, started ahead of need);
//!   no process ever runs a second call, and a zygote never runs bot code;
//! - the result and helper calls travel over a private pipe pair, never stdout/stderr, which
//!   are captured (bounded) for the run log;
//! - helpers act through the [`Host`] at once, always on the run's own conversation;
//! - every run ends with its whole process tree killed (bubblewrap: its pid namespace goes;
//!   fallback as root: a sweep of the worker's own uid; fallback otherwise: the process group
//!   only); threads that burn more than 200 ms of CPU are moved to SCHED_IDLE (`demote`);
//!   limits: wall clock, RLIMIT_AS, RLIMIT_NPROC (counted per sandbox), RLIMIT_FSIZE;
//! - no secret reaches Python: the environment is rebuilt from scratch, credentials stay in
//!   the Host / [`GoogleSheets`];
//! - under bubblewrap the code has no network (`isolate_network`, on by default): each
//!   connection goes through the folder's egress proxy (`egress`) and only where
//!   [`Host::egress`] allows; the fallback cannot isolate it and says so in every run's log.

mod channel;
mod config;
mod context;
mod demote;
mod egress;
mod error;
mod helpers;
mod host;
mod interpreter;
mod logbuf;
mod memory_host;
mod outcome;
mod pool;
mod process;
mod run;
mod runtime;
mod sandbox;
mod sheets;
mod uids;
mod worker;
mod zygote;

pub use config::{RuntimeConfig, SandboxPolicy};
pub use context::{Context, Conversation, Message, RunKind, RunRequest};
pub use error::Error;
pub use helpers::is_e164;
pub use host::{
    ClassifyRequest, ConversationEvent, ConversationRef, HandOffOutcome, HandOffRequest, Host,
    TagAdded,
};
pub use memory_host::{InMemoryHost, MemConversation};
pub use outcome::{RunOutcome, RunStatus};
pub use runtime::{Runtime, RuntimeStats, RUNTIME_PY};
pub use sandbox::{SandboxMode, PYTHON_NICE, SANDBOX_BOT_DIR};
pub use sheets::{GoogleSheets, ServiceAccountKey, SheetsConfig};
