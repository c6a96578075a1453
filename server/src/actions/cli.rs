//! `natter action list <bot>` and `natter action test <bot> <action> --arg k=v … [--conversation ID]`:
//! the seed's "Run Test" from the command line. The run is logged in the store of `--data`
//! like any other (`test = true`).
//!
//! With a server running on the same data directory, prefer the admin API: helpers of a test
//! run with a conversation write to the store, and the server only learns of events it wrote.

use std::path::Path;
use std::sync::Arc;

use super::{ActionRunner, ActionsConfig};
use crate::bots::{load_bot, BotRegistry};
use crate::outbox::NoJobs;
use crate::python_host::StoreHost;
use crate::store::open::{open, NoSink, StoreLocation};

/// What a CLI command could not do (printed, exit code 1).
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Config(String),
    #[error("--arg `{0}`: expected name=value")]
    BadArg(String),
    #[error("{0}")]
    Run(String),
}

fn load(dir: &Path) -> Result<crate::bots::Bot, CliError> {
    load_bot(dir).map_err(|errs| {
        CliError::Config(
            errs.iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n"),
        )
    })
}

/// The bot's actions, one line each: name, kind, required arguments, workflows.
pub fn list(dir: &Path) -> Result<String, CliError> {
    let bot = load(dir)?;
    let mut out = String::new();
    if bot.actions.is_empty() {
        out.push_str(&format!("bot `{}` has no actions\n", bot.slug));
    }
    for a in bot.actions.iter() {
        let args: Vec<String> = a
            .args
            .iter()
            .map(|s| {
                format!(
                    "{}{}: {}",
                    s.name,
                    if s.required { "" } else { "?" },
                    s.ty.schema_type().unwrap_or("any")
                )
            })
            .collect();
        out.push_str(&format!(
            "{}  [{}]  args: {}  workflows: {}\n    {}\n",
            a.name,
            a.kind.as_str(),
            if args.is_empty() {
                "(none)".into()
            } else {
                args.join(", ")
            },
            if a.workflows.is_empty() {
                "(none)".into()
            } else {
                a.workflows.join(", ")
            },
            a.description
        ));
    }
    Ok(out)
}

/// Runs `action` once as a test; returns the report and whether it ended `ok`.
pub async fn test(
    dir: &Path,
    data: &Path,
    database_url: Option<&str>,
    action: &str,
    pairs: &[String],
    conversation: Option<&str>,
) -> Result<(String, bool), CliError> {
    let bot = load(dir)?;
    let slug = bot.slug.clone();
    let a = bot.actions.get(action).ok_or_else(|| {
        CliError::Run(format!(
            "bot `{slug}` has no action `{action}` (see `natter action list`)"
        ))
    })?;
    let mut kv = Vec::new();
    for p in pairs {
        let (k, v) = p
            .split_once('=')
            .ok_or_else(|| CliError::BadArg(p.clone()))?;
        kv.push((k, v));
    }
    let args = a
        .args_from_strings(kv.iter().map(|(k, v)| (*k, *v)))
        .map_err(|e| CliError::Run(format!("arguments: {e}")))?;
    let store = open(
        StoreLocation::for_cli(data, database_url),
        Arc::new(NoSink),
        Arc::new(NoJobs),
    )
    .await
    .map_err(|e| CliError::Run(format!("{e:#}")))?;
    let mut reg = BotRegistry::default();
    reg.insert(bot);
    let bots = Arc::new(reg);
    // A Run Test classifies with the bot's own [llm] model, like a live run.
    let llm = crate::engine::llm::LlmModels::for_bots(&bots)
        .map_err(|e| CliError::Run(format!("LLM client: {e}")))?;
    let host = Arc::new(StoreHost::new(store.clone(), bots.clone(), Arc::new(llm)));
    let runner = ActionRunner::new(store.clone(), bots, host, ActionsConfig::default())
        .map_err(|e| CliError::Run(e.to_string()))?;
    let run = runner
        .test(&slug, action, args, conversation)
        .await
        .map_err(|e| CliError::Run(e.to_string()));
    store.close().await;
    let run = run?;
    let mut out = String::new();
    out.push_str(&format!(
        "status: {} ({} ms, run {})\n",
        run.status, run.duration_ms, run.id
    ));
    out.push_str(&format!(
        "result:\n{}\n",
        serde_json::to_string_pretty(&run.result).unwrap_or_default()
    ));
    if let Some(e) = &run.error {
        out.push_str(&format!("error: {e}\n"));
    }
    out.push_str(&format!("stdout:\n{}", section(&run.stdout)));
    out.push_str(&format!("stderr:\n{}", section(&run.stderr)));
    if !run.log.is_empty() {
        out.push_str(&format!("log:\n{}", section(&run.log.join("\n"))));
    }
    Ok((out, run.status == "ok"))
}

fn section(s: &str) -> String {
    if s.is_empty() {
        "  (empty)\n".into()
    } else {
        let mut t: String = s.lines().map(|l| format!("  {l}\n")).collect();
        if t.is_empty() {
            t.push('\n');
        }
        t
    }
}
