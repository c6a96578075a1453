//! `natter handler list <bot>`, `natter handler runs <bot>` and
//! `natter handler test <bot> <handler> --conversation ID [--event E]` (the seed's Run Test:
//! runs one handler against a real conversation without the event firing; logged as a test).
//! `<bot>` is the bot's folder. With a server running on the same data directory, prefer the
//! admin API (the server only streams events it wrote itself).

use std::path::Path;
use std::sync::Arc;

use natter_python_runtime::RuntimeConfig;

use super::handlers::{Catalog, HandlerRunner};
use crate::bots::{load_bot, BotRegistry};
use crate::outbox::HandlerRun;
use crate::outbox::NoJobs;
use crate::python_host::StoreHost;
use crate::store::open::{open, NoSink, StoreLocation};
use crate::store::Store;

fn registry(dir: &Path) -> Result<(Arc<BotRegistry>, String), String> {
    let bot = load_bot(dir).map_err(|errs| {
        errs.iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    let slug = bot.slug.clone();
    let mut reg = BotRegistry::default();
    reg.insert(bot);
    Ok((Arc::new(reg), slug))
}

async fn open_store(data: &Path, database_url: Option<&str>) -> Result<Arc<dyn Store>, String> {
    open(
        StoreLocation::for_cli(data, database_url),
        Arc::new(NoSink),
        Arc::new(NoJobs),
    )
    .await
    .map_err(|e| format!("{e:#}"))
}

/// One line per handler: event and name.
pub fn list(dir: &Path) -> Result<String, String> {
    let (bots, slug) = registry(dir)?;
    let cat = Catalog::discover(&bots).map_err(|e| e.join("\n"))?;
    let mut out = String::new();
    for h in cat.list(&slug) {
        out.push_str(&format!(
            "{}  {}  ({})\n",
            h.event,
            h.name,
            h.script.display()
        ));
    }
    if out.is_empty() {
        out = format!(
            "bot `{slug}` has no event handlers (bots/{slug}/handlers/<event_type>/*.py)\n"
        );
    }
    Ok(out)
}

pub fn render(r: &HandlerRun) -> String {
    let mut s = format!(
        "{}  {}  {}  {}  {} ms  conversation {}{}\n",
        r.started_at,
        r.event_type,
        r.handler,
        r.status,
        r.duration_ms,
        r.thread_id,
        if r.test { "  (test)" } else { "" }
    );
    if let Some(v) = &r.result {
        s.push_str(&format!("  result: {v}\n"));
    }
    for (name, text) in [("stdout", &r.stdout), ("stderr", &r.stderr)] {
        if !text.is_empty() {
            s.push_str(&format!("  {name}:\n{}\n", indent(text)));
        }
    }
    if let Some(tb) = &r.traceback {
        s.push_str(&format!("  traceback:\n{}\n", indent(tb)));
    }
    s
}

fn indent(t: &str) -> String {
    t.trim_end()
        .lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The bot's latest handler runs, newest first.
pub async fn runs(
    dir: &Path,
    data: &Path,
    database_url: Option<&str>,
    limit: u32,
) -> Result<String, String> {
    let slug = dir
        .file_name()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_string();
    let store = open_store(data, database_url).await?;
    let runs = store
        .handler_runs(&slug, limit)
        .await
        .map_err(|e| e.to_string())?;
    store.close().await;
    if runs.is_empty() {
        return Ok(format!("no handler runs for bot `{slug}`\n"));
    }
    Ok(runs.iter().map(render).collect())
}

/// Runs one handler as a test; returns the report and whether it ended `ok`.
pub async fn test(
    dir: &Path,
    data: &Path,
    database_url: Option<&str>,
    handler: &str,
    conversation: &str,
    event: Option<&str>,
) -> Result<(String, bool), String> {
    let (bots, slug) = registry(dir)?;
    let cat = Catalog::discover(&bots).map_err(|e| e.join("\n"))?;
    if let Some(e) = event.filter(|e| !super::handlers::EVENTS.contains(e)) {
        return Err(format!(
            "--event `{e}`: expected one of {}",
            super::handlers::EVENTS.join(", ")
        ));
    }
    let def = cat.find(&slug, handler, event).ok_or_else(|| {
        format!("bot `{slug}` has no handler `{handler}` (see `natter handler list`)")
    })?;
    // The form's event type is what the handler sees (the seed's Run Test), defaulting to its own.
    let event = event.unwrap_or(def.event);
    let store = open_store(data, database_url).await?;
    // A Run Test classifies with the bot's own [llm] model, like a live run.
    let llm =
        crate::engine::llm::LlmModels::for_bots(&bots).map_err(|e| format!("LLM client: {e}"))?;
    let host = Arc::new(StoreHost::new(store.clone(), bots.clone(), Arc::new(llm)));
    let runner = HandlerRunner::new(store.clone(), bots, host, RuntimeConfig::default());
    let result = runner
        .run(&slug, def, conversation, event, None, true)
        .await;
    runner.shutdown();
    let out = match result {
        Ok(run) => {
            store
                .record_handler_run(run.clone())
                .await
                .map_err(|e| e.to_string())?;
            Ok((render(&run), run.status == "ok"))
        }
        Err(e) => Err(e.to_string()),
    };
    store.close().await;
    out
}
