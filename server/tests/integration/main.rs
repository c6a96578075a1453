//! Integration tests over real HTTP on 127.0.0.1 (one test binary, many modules, so the
//! server is linked once). Servers run in-process on an ephemeral port, except the kill -9
//! tests, which spawn the built `natter` binary. The harness is the natter-testing crate.

/// The harness under the name the test modules use: servers, bots, SSE, bounded waits.
mod common {
    pub use natter_testing::server::*;
    pub use natter_testing::sse::*;
    pub use natter_testing::wait::PATIENCE;
}
use natter_testing::{pg_cluster, process};

mod actions;
mod actions_admin;
mod actions_bot;
mod actions_limits;
mod actions_standin;
mod attachments;
mod attachments_info;
mod attachments_s3;
mod auth;
mod browser_session;
mod cli_store;
mod config_errors;
mod console;
mod console_sessions;
mod crash;
mod crm_webhooks;
mod embedded;
mod instances;
mod instances_outbox;
mod lifecycle;
mod lifecycle_common;
mod lifecycle_crash;
mod limits;
mod live;
mod llm;
mod llm_failures;
mod local_crm;
mod ops;
mod resume;
mod retention;
mod sec_json;
mod sec_jwt;
mod sec_kills;
mod sec_limits;
mod sec_logs;
mod sec_origins;
mod sec_outbound;
mod sec_outbox_kills;
mod sec_python_net;
mod sec_runaway;
mod sec_sandbox;
mod sec_stream_cuts;
mod send;
mod steps;
mod thread_greeting;
