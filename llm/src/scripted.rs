//! A [`Model`] that plays back scripted answers: for unit tests of the engine here and of the
//! server's agent wiring, with no HTTP.
//!
//! Each `start` takes the next [`Script`] in order and records the request; running out of
//! scripts is a test bug and answers with a 500 so it shows up.

use std::collections::VecDeque;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::assemble::StreamEvent;
use crate::client::{ApiError, EventStream, Model};
use crate::wire::{ChatRequest, FinishReason, ToolCall};

/// One model call's scripted result.
#[derive(Debug, Clone)]
pub enum Script {
    /// `start` fails with this error.
    Fail(ApiError),
    /// These events, then (if `error` is set) that error instead of the end.
    Events {
        events: Vec<StreamEvent>,
        error: Option<ApiError>,
    },
}

impl Script {
    /// A plain answer in the given pieces, finished with `stop`.
    pub fn text(pieces: &[&str]) -> Script {
        let mut events: Vec<StreamEvent> = pieces
            .iter()
            .map(|p| StreamEvent::Content(p.to_string()))
            .collect();
        events.push(StreamEvent::Finish(FinishReason::Stop));
        Script::Events {
            events,
            error: None,
        }
    }
    /// Tool calls `(id, name, arguments)`, finished with `tool_calls`.
    pub fn calls(calls: &[(&str, &str, &str)]) -> Script {
        let mut events: Vec<StreamEvent> = calls
            .iter()
            .map(|(id, name, args)| {
                StreamEvent::ToolCall(ToolCall {
                    id: id.to_string(),
                    name: name.to_string(),
                    arguments: args.to_string(),
                })
            })
            .collect();
        events.push(StreamEvent::Finish(FinishReason::ToolCalls));
        Script::Events {
            events,
            error: None,
        }
    }
    /// Content pieces, then the stream breaks with `error`.
    pub fn broken(pieces: &[&str], error: ApiError) -> Script {
        Script::Events {
            events: pieces
                .iter()
                .map(|p| StreamEvent::Content(p.to_string()))
                .collect(),
            error: Some(error),
        }
    }
}

#[derive(Debug, Default)]
pub struct ScriptedModel {
    scripts: Mutex<VecDeque<Script>>,
    requests: Mutex<Vec<ChatRequest>>,
}

impl ScriptedModel {
    pub fn new(scripts: impl IntoIterator<Item = Script>) -> ScriptedModel {
        ScriptedModel {
            scripts: Mutex::new(scripts.into_iter().collect()),
            requests: Mutex::default(),
        }
    }
    /// The requests received so far.
    pub fn requests(&self) -> Vec<ChatRequest> {
        self.requests.lock().unwrap().clone()
    }
}

struct Playback(VecDeque<Result<StreamEvent, ApiError>>);

#[async_trait]
impl EventStream for Playback {
    async fn next_event(&mut self) -> Option<Result<StreamEvent, ApiError>> {
        self.0.pop_front()
    }
}

#[async_trait]
impl Model for ScriptedModel {
    async fn start(&self, req: &ChatRequest) -> Result<Box<dyn EventStream>, ApiError> {
        self.requests.lock().unwrap().push(req.clone());
        let script = self.scripts.lock().unwrap().pop_front();
        match script {
            None => Err(ApiError::Status {
                status: 500,
                retry_after: None,
                body: "script exhausted".into(),
            }),
            Some(Script::Fail(e)) => Err(e),
            Some(Script::Events { events, error }) => {
                let mut q: VecDeque<_> = events.into_iter().map(Ok).collect();
                q.extend(error.map(Err));
                Ok(Box::new(Playback(q)))
            }
        }
    }
}
