//! `llm_classify_binary` / `llm_classify_category`: ask the bot's model to pick one option.
//!
//! Same client and retry policy as turns, `temperature = 0`, a short answer. The answer is
//! parsed leniently — case, quotes, punctuation and a surrounding sentence are tolerated as
//! long as exactly one option is named; "yes"/"no" for `true`/`false` options — and anything else is
//! [`ClassifyError::Unrecognized`]. The `*_or` forms return the caller's fallback on any
//! failure, as the Python helpers do when given one.
//!
//! Invariant: a successful result is always exactly one of the given options.

use serde_json::Value;

use crate::assemble::StreamEvent;
use crate::client::{ApiError, Model};
use crate::config::LlmConfig;
use crate::retry::RetryPolicy;
use crate::wire::{ChatMessage, ChatRequest};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClassifyError {
    #[error("at least one option is needed, and options must be distinct and non-empty")]
    BadOptions,
    #[error("the model call failed: {0}")]
    Model(ApiError),
    #[error("the model answered {0:?}, which is not one of the options")]
    Unrecognized(String),
    #[error("classification took longer than {0:?}")]
    Deadline(std::time::Duration),
}

const MAX_ANSWER_TOKENS: u32 = 20;

/// Picks one of `options` for `input` as `prompt` asks. Returns the option as given.
pub async fn classify_category(
    model: &dyn Model,
    cfg: &LlmConfig,
    prompt: &str,
    input: &str,
    options: &[String],
) -> Result<String, ClassifyError> {
    let mut seen = std::collections::HashSet::new();
    if options.is_empty()
        || options
            .iter()
            .any(|o| o.trim().is_empty() || !seen.insert(norm(o)))
    {
        return Err(ClassifyError::BadOptions);
    }
    let listed: Vec<String> = options.iter().map(|o| format!("- {o}")).collect();
    let system = format!(
        "You are a classifier. Read the task and the input, then answer with exactly one of these options, \
         written exactly as listed, and nothing else:\n{}",
        listed.join("\n")
    );
    let user = format!("Task: {prompt}\n\nInput:\n{input}");
    let answer = ask(model, cfg, system, user).await?;
    pick(&answer, options)
        .map(|i| options[i].clone())
        .ok_or(ClassifyError::Unrecognized(answer))
}

/// For true/false options, "yes"/"no" (what models say when they ignore the format).
fn yes_no(answer: &str, options: &[String]) -> Option<usize> {
    let t = options.iter().position(|o| norm(o) == "true")?;
    let f = options.iter().position(|o| norm(o) == "false")?;
    match norm(answer).as_str() {
        "yes" | "y" => Some(t),
        "no" | "n" => Some(f),
        _ => None,
    }
}

/// True or false for `input` as `prompt` asks (options `["true", "false"]`, as the Python
/// runtime sends them).
pub async fn classify_binary(
    model: &dyn Model,
    cfg: &LlmConfig,
    prompt: &str,
    input: &str,
) -> Result<bool, ClassifyError> {
    let options = ["true".to_string(), "false".to_string()];
    Ok(classify_category(model, cfg, prompt, input, &options).await? == "true")
}

/// [`classify_category`], or `fallback` on any failure (when one is given).
pub async fn classify_category_or(
    model: &dyn Model,
    cfg: &LlmConfig,
    prompt: &str,
    input: &str,
    options: &[String],
    fallback: Option<&str>,
) -> Result<String, ClassifyError> {
    match (
        classify_category(model, cfg, prompt, input, options).await,
        fallback,
    ) {
        (Ok(v), _) => Ok(v),
        (Err(_), Some(f)) => Ok(f.to_string()),
        (Err(e), None) => Err(e),
    }
}

/// [`classify_binary`], or `fallback` on any failure (when one is given).
pub async fn classify_binary_or(
    model: &dyn Model,
    cfg: &LlmConfig,
    prompt: &str,
    input: &str,
    fallback: Option<bool>,
) -> Result<bool, ClassifyError> {
    match (classify_binary(model, cfg, prompt, input).await, fallback) {
        (Ok(v), _) => Ok(v),
        (Err(_), Some(f)) => Ok(f),
        (Err(e), None) => Err(e),
    }
}

/// One short completion, retried like a turn's round, within `request_timeout` per attempt
/// and `turn_timeout` overall.
async fn ask(
    model: &dyn Model,
    cfg: &LlmConfig,
    system: String,
    user: String,
) -> Result<String, ClassifyError> {
    let req = ChatRequest {
        model: cfg.model.clone(),
        messages: vec![ChatMessage::system(system), ChatMessage::user(user)],
        tools: Vec::new(),
        temperature: Some(0.0),
        max_tokens: Some(MAX_ANSWER_TOKENS),
    };
    let policy = RetryPolicy::from_config(cfg);
    let attempts = async {
        let mut retry = 0;
        loop {
            let err = match once(model, &req).await {
                Ok(text) => return Ok(text),
                Err(e) => e,
            };
            retry += 1;
            match policy.delay(retry, &err) {
                Some(d) => tokio::time::sleep(d).await,
                None => return Err(ClassifyError::Model(err)),
            }
        }
    };
    tokio::time::timeout(cfg.turn_timeout, attempts)
        .await
        .map_err(|_| ClassifyError::Deadline(cfg.turn_timeout))?
}

async fn once(model: &dyn Model, req: &ChatRequest) -> Result<String, ApiError> {
    let mut stream = model.start(req).await?;
    let mut text = String::new();
    let mut finished = false;
    while let Some(ev) = stream.next_event().await {
        match ev? {
            StreamEvent::Content(t) => text.push_str(&t),
            StreamEvent::Finish(_) => finished = true,
            StreamEvent::ToolCall(_) | StreamEvent::Usage(_) => {}
        }
    }
    if !finished {
        return Err(ApiError::Truncated);
    }
    Ok(text)
}

fn norm(s: &str) -> String {
    s.trim()
        .trim_matches(|c: char| !c.is_alphanumeric())
        .to_lowercase()
}

/// The index of the one option the answer names: exactly (after normalising), or else as the
/// only option appearing as whole words in it. A JSON string answer is unwrapped first.
pub fn pick(answer: &str, options: &[String]) -> Option<usize> {
    let answer = match serde_json::from_str::<Value>(answer.trim()) {
        Ok(Value::String(s)) => s,
        _ => answer.to_string(),
    };
    let a = norm(&answer);
    if let Some(i) = options
        .iter()
        .position(|o| norm(o) == a)
        .or_else(|| yes_no(&answer, options))
    {
        return Some(i);
    }
    let words = |s: &str| -> Vec<String> {
        s.split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect()
    };
    let aw = words(&answer);
    let named: Vec<usize> = options
        .iter()
        .enumerate()
        .filter(|(_, o)| {
            let ow = words(o);
            !ow.is_empty() && aw.windows(ow.len()).any(|w| w == ow.as_slice())
        })
        .map(|(i, _)| i)
        .collect();
    match named.as_slice() {
        [one] => Some(*one),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn answers_are_parsed_leniently_but_never_guessed() {
        let o = opts(&["shipping", "billing", "order status"]);
        assert_eq!(pick("Billing.", &o), Some(1));
        assert_eq!(pick("\"shipping\"", &o), Some(0));
        assert_eq!(pick("The category is: order status", &o), Some(2));
        assert_eq!(pick("shipping or billing", &o), None);
        assert_eq!(pick("refunds", &o), None);
        assert_eq!(pick("TRUE", &opts(&["true", "false"])), Some(0));
        assert_eq!(pick("No.", &opts(&["true", "false"])), Some(1));
        assert_eq!(pick("no", &o), None);
    }
}
