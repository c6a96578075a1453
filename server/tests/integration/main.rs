//! Integration tests over real HTTP on 127.0.0.1 (one test binary, many modules, so the
//! server is linked once). Servers run in-process on an ephemeral port, except the kill -9
//! test, which spawns the built `natter` binary.

mod common;

mod actions;
mod actions_admin;
mod actions_bot;
mod actions_limits;
mod actions_standin;
mod attachments;
mod attachments_info;
mod auth;
mod cli_store;
mod config_errors;
mod console;
mod console_sessions;
mod crash;
mod crm_webhooks;
mod embedded;
mod instances;
mod lifecycle;
mod lifecycle_common;
mod lifecycle_crash;
mod limits;
mod live;
mod llm;
mod llm_failures;
mod ops;
mod pg_cluster;
mod process;
mod resume;
mod sec_json;
mod sec_jwt;
mod sec_kills;
mod sec_limits;
mod sec_logs;
mod sec_origins;
mod sec_outbound;
mod sec_sandbox;
mod send;
mod steps;
