//! Turns the `data` payloads of a chat-completions stream into [`StreamEvent`]s.
//!
//! Tool calls arrive as deltas keyed by `index`: the first delta of a call carries `id` and
//! `function.name`, later ones append to `function.arguments`. They are held back and emitted
//! whole, in index order, when the choice finishes — the only point at which their arguments
//! are known to be complete. Content deltas pass through at once.
//!
//! Invariants: events come out in stream order; [`StreamEvent::Finish`] comes after every
//! content delta and tool call of the choice; after `[DONE]` nothing more is accepted.
//! Only choice 0 is read (Natter never asks for `n > 1`).

use crate::wire::{Chunk, FinishReason, ToolCall, Usage};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEvent {
    /// Text to show the user, as it arrives.
    Content(String),
    /// A tool call with its complete arguments.
    ToolCall(ToolCall),
    Finish(FinishReason),
    /// Token counts (`stream_options.include_usage`), usually after `Finish`.
    Usage(Usage),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssembleError {
    #[error("malformed chunk: {0}")]
    Malformed(String),
    #[error("the model reported an error in the stream: {0}")]
    Upstream(String),
    #[error("a tool call delta had no name for call #{0}")]
    NamelessToolCall(usize),
}

#[derive(Debug, Default)]
pub struct Assembler {
    calls: Vec<PartialCall>,
    finished: bool,
    done: bool,
}

#[derive(Debug, Default)]
struct PartialCall {
    id: String,
    name: String,
    arguments: String,
}

impl Assembler {
    /// Whether `[DONE]` was seen.
    pub fn is_done(&self) -> bool {
        self.done
    }
    /// Whether a `finish_reason` was seen.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// One SSE `data` payload.
    pub fn push(&mut self, data: &str, out: &mut Vec<StreamEvent>) -> Result<(), AssembleError> {
        let data = data.trim();
        if data == "[DONE]" {
            self.done = true;
            return Ok(());
        }
        if self.done || data.is_empty() {
            return Ok(());
        }
        let chunk: Chunk = serde_json::from_str(data).map_err(|e| {
            let mut shown: String = data.chars().take(120).collect();
            if shown.len() < data.len() {
                shown.push('…');
            }
            AssembleError::Malformed(format!("{e} in {shown}"))
        })?;
        if let Some(err) = chunk.error {
            let msg = err
                .get("message")
                .and_then(|m| m.as_str())
                .map(str::to_string)
                .unwrap_or_else(|| err.to_string());
            return Err(AssembleError::Upstream(msg));
        }
        for choice in chunk.choices.into_iter().filter(|c| c.index == 0) {
            if let Some(delta) = choice.delta {
                if let Some(text) = delta.content.filter(|t| !t.is_empty()) {
                    out.push(StreamEvent::Content(text));
                }
                for d in delta.tool_calls.unwrap_or_default() {
                    // Without `index` (some servers), a new id starts a new call, else it
                    // continues the last one.
                    let idx = match d.index {
                        Some(i) => i,
                        None => match (&d.id, self.calls.last()) {
                            (Some(id), Some(last)) if *id != last.id => self.calls.len(),
                            (_, Some(_)) => self.calls.len() - 1,
                            (_, None) => 0,
                        },
                    };
                    if idx > 128 {
                        return Err(AssembleError::Malformed(format!("tool call index {idx}")));
                    }
                    if self.calls.len() <= idx {
                        self.calls.resize_with(idx + 1, PartialCall::default);
                    }
                    let call = &mut self.calls[idx];
                    if let Some(id) = d.id.filter(|s| !s.is_empty()) {
                        call.id = id;
                    }
                    if let Some(f) = d.function {
                        if let Some(n) = f.name.filter(|s| !s.is_empty()) {
                            // Some servers repeat the name in every delta; others send it once.
                            if call.name != n {
                                call.name.push_str(&n);
                            }
                        }
                        if let Some(a) = f.arguments {
                            call.arguments.push_str(&a);
                        }
                    }
                }
            }
            if let Some(reason) = choice.finish_reason {
                self.finish(FinishReason::parse(&reason), out)?;
            }
        }
        if let Some(u) = chunk.usage {
            out.push(StreamEvent::Usage(u));
        }
        Ok(())
    }

    fn finish(
        &mut self,
        reason: FinishReason,
        out: &mut Vec<StreamEvent>,
    ) -> Result<(), AssembleError> {
        if self.finished {
            return Ok(());
        }
        self.finished = true;
        // Calls are emitted whatever the reason: Ollama and others say "stop" with tool calls.
        for (i, c) in std::mem::take(&mut self.calls).into_iter().enumerate() {
            if c.name.is_empty() && c.id.is_empty() && c.arguments.is_empty() {
                continue; // a gap in the indexes
            }
            if c.name.is_empty() {
                return Err(AssembleError::NamelessToolCall(i));
            }
            let id = if c.id.is_empty() {
                format!("call_{i}")
            } else {
                c.id
            };
            out.push(StreamEvent::ToolCall(ToolCall {
                id,
                name: c.name,
                arguments: c.arguments,
            }));
        }
        out.push(StreamEvent::Finish(reason));
        Ok(())
    }
}

/// The events of a non-streamed completion (`{"choices":[{"message":…}]}`), for servers or
/// proxies that answer `stream: true` with one JSON body.
pub fn from_completion(body: &[u8]) -> Result<Vec<StreamEvent>, AssembleError> {
    #[derive(serde::Deserialize)]
    struct Completion {
        #[serde(default)]
        choices: Vec<Choice>,
        #[serde(default)]
        usage: Option<Usage>,
        #[serde(default)]
        error: Option<serde_json::Value>,
    }
    #[derive(serde::Deserialize)]
    struct Choice {
        #[serde(default)]
        index: u32,
        #[serde(default)]
        message: Option<Message>,
        #[serde(default)]
        finish_reason: Option<String>,
    }
    #[derive(serde::Deserialize)]
    struct Message {
        #[serde(default)]
        content: Option<String>,
        #[serde(default)]
        tool_calls: Vec<ToolCall>,
    }
    let c: Completion = serde_json::from_slice(body)
        .map_err(|e| AssembleError::Malformed(format!("{e} in a JSON completion")))?;
    if let Some(err) = c.error {
        let msg = err
            .get("message")
            .and_then(|m| m.as_str())
            .map(str::to_string)
            .unwrap_or_else(|| err.to_string());
        return Err(AssembleError::Upstream(msg));
    }
    let choice = c
        .choices
        .into_iter()
        .find(|ch| ch.index == 0)
        .ok_or_else(|| AssembleError::Malformed("a JSON completion without choices".into()))?;
    let mut out = Vec::new();
    if let Some(m) = choice.message {
        out.extend(
            m.content
                .filter(|t| !t.is_empty())
                .map(StreamEvent::Content),
        );
        out.extend(m.tool_calls.into_iter().map(StreamEvent::ToolCall));
    }
    out.push(StreamEvent::Finish(FinishReason::parse(
        choice.finish_reason.as_deref().unwrap_or("stop"),
    )));
    out.extend(c.usage.map(StreamEvent::Usage));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(datas: &[&str]) -> Vec<StreamEvent> {
        let mut a = Assembler::default();
        let mut out = Vec::new();
        for d in datas {
            a.push(d, &mut out).unwrap();
        }
        assert!(a.is_done());
        out
    }

    #[test]
    fn split_tool_calls_are_reassembled_by_index() {
        let ev = run(&[
            r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"getOrder","arguments":""}}]},"finish_reason":null}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_b","type":"function","function":{"name":"getStock","arguments":"{\"sku\""}}]},"finish_reason":null}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"orderId\":"}}]},"finish_reason":null}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"A1\"}"}}]},"finish_reason":null}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":":\"S\"}"}}]},"finish_reason":null}]}"#,
            r#"{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12}}"#,
            "[DONE]",
        ]);
        assert_eq!(
            ev,
            vec![
                StreamEvent::ToolCall(ToolCall {
                    id: "call_a".into(),
                    name: "getOrder".into(),
                    arguments: r#"{"orderId":"A1"}"#.into()
                }),
                StreamEvent::ToolCall(ToolCall {
                    id: "call_b".into(),
                    name: "getStock".into(),
                    arguments: r#"{"sku":"S"}"#.into()
                }),
                StreamEvent::Finish(FinishReason::ToolCalls),
                StreamEvent::Usage(Usage {
                    prompt_tokens: 5,
                    completion_tokens: 7,
                    total_tokens: 12
                }),
            ]
        );
    }

    #[test]
    fn a_plain_json_completion_gives_the_same_events() {
        let body = br#"{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":null,
            "tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},"finish_reason":"tool_calls"}],
            "usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}"#;
        assert_eq!(
            from_completion(body).unwrap(),
            vec![
                StreamEvent::ToolCall(ToolCall {
                    id: "c1".into(),
                    name: "f".into(),
                    arguments: "{}".into()
                }),
                StreamEvent::Finish(FinishReason::ToolCalls),
                StreamEvent::Usage(Usage {
                    prompt_tokens: 1,
                    completion_tokens: 2,
                    total_tokens: 3
                }),
            ]
        );
        assert!(matches!(
            from_completion(b"{\"choices\":[]}"),
            Err(AssembleError::Malformed(_))
        ));
    }

    #[test]
    fn content_passes_through_and_errors_are_typed() {
        let ev = run(&[
            r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}"#,
            r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
            "[DONE]",
        ]);
        assert_eq!(
            ev,
            vec![
                StreamEvent::Content("Hi".into()),
                StreamEvent::Finish(FinishReason::Stop)
            ]
        );
        let mut a = Assembler::default();
        let mut out = Vec::new();
        assert!(matches!(
            a.push("{\"choices\":[", &mut out),
            Err(AssembleError::Malformed(_))
        ));
        assert_eq!(
            a.push(r#"{"error":{"message":"overloaded"}}"#, &mut out),
            Err(AssembleError::Upstream("overloaded".into()))
        );
    }
}
