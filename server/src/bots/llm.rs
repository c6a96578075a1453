//! The `[llm]` table of an LLM bot (`agent = "llm"`): natter-llm's [`LlmConfig`] keys plus
//! the server's own — `visible_metadata` (conversation metadata keys the model may see),
//! `workflow` (the workflow active until a trigger selects another) and `accepts_images` (the
//! model takes images: the visitor's pictures are sent to it as `image_url` parts).
//!
//! Invariants: every problem is reported with the file and the line of the key it concerns
//! (the table's header line when the key can't be found); the API key is read from the
//! environment variable the table names, here at load, and never from the bot folder.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use natter_llm::LlmConfig;

use super::model::LlmBot;
use super::ConfigError;

/// Parses the table at `span` of `src`; `workflows` are the bot's workflow names.
pub(super) fn parse(
    file: &Path,
    src: &str,
    span: &Range<usize>,
    table: &toml::Table,
    workflows: &[&str],
) -> Result<LlmBot, Vec<ConfigError>> {
    let at = |key: Option<&str>, message: String| ConfigError {
        file: file.to_path_buf(),
        line: Some(key_line(src, span, key)),
        message,
    };
    let mut errors = Vec::new();
    let mut rest = table.clone();
    let mut visible_metadata = Vec::new();
    match rest.remove("visible_metadata") {
        None => {}
        Some(toml::Value::Array(items)) => {
            for v in items {
                match v {
                    toml::Value::String(k) if !k.trim().is_empty() => visible_metadata.push(k),
                    other => errors.push(at(Some("visible_metadata"), format!("llm.visible_metadata: {other} is not a metadata key (a non-empty string)"))),
                }
            }
        }
        Some(_) => errors.push(at(
            Some("visible_metadata"),
            "llm.visible_metadata: expected a list of metadata keys, e.g. [\"plan\", \"locale\"]"
                .into(),
        )),
    }
    let default_workflow = match rest.remove("workflow") {
        None => None,
        Some(toml::Value::String(w)) if workflows.contains(&w.as_str()) => Some(w),
        Some(toml::Value::String(w)) => {
            errors.push(at(
                Some("workflow"),
                format!("llm.workflow: no workflow named `{w}` in this bot"),
            ));
            None
        }
        Some(_) => {
            errors.push(at(
                Some("workflow"),
                "llm.workflow: expected a workflow name".into(),
            ));
            None
        }
    };
    let accepts_images = match rest.remove("accepts_images") {
        None => false,
        Some(toml::Value::Boolean(b)) => b,
        Some(_) => {
            errors.push(at(
                Some("accepts_images"),
                "llm.accepts_images: expected true or false".into(),
            ));
            false
        }
    };
    let config: LlmConfig = match toml::Value::Table(rest).try_into() {
        Ok(c) => c,
        Err(e) => {
            let msg = e.message().trim().to_string();
            // serde names the offending key in backquotes ("unknown field `api_key`").
            let key = msg.split('`').nth(1).map(str::to_string);
            let hint = if key.as_deref() == Some("api_key") {
                " (put the key in an environment variable and name it in api_key_env)"
            } else {
                ""
            };
            errors.push(at(key.as_deref(), format!("llm: {msg}{hint}")));
            return Err(errors);
        }
    };
    if let Err(errs) = config.validate() {
        for e in errs {
            let key = match &e {
                natter_llm::ConfigError::Invalid { field, .. } => Some(*field),
                natter_llm::ConfigError::KeyMissing(_) => Some("api_key_env"),
            };
            errors.push(at(key, e.to_string()));
        }
    }
    let api_key = match config.api_key() {
        Ok(k) => k,
        Err(e) => {
            errors.push(at(Some("api_key_env"), e.to_string()));
            None
        }
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(LlmBot {
        config: Arc::new(config),
        api_key,
        visible_metadata,
        default_workflow,
        accepts_images,
    })
}

/// The 1-based line of `key = …` inside the table at `span`, or of the table itself.
fn key_line(src: &str, span: &Range<usize>, key: Option<&str>) -> usize {
    let start = span.start.min(src.len());
    let end = span.end.clamp(start, src.len());
    let mut at = start;
    if let Some(key) = key {
        let mut offset = start;
        for line in src[start..end].split_inclusive('\n') {
            let t = line.trim_start();
            if t.strip_prefix(key)
                .is_some_and(|r| r.trim_start().starts_with('='))
            {
                at = offset;
                break;
            }
            offset += line.len();
        }
    }
    src[..at].matches('\n').count() + 1
}
