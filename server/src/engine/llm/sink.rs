//! natter-llm's [`Sink`] over the run's [`Reply`]: the model's tokens become `message.delta`
//! events of one assistant message, begun at the first token.
//!
//! Invariants: the completed message holds exactly the text that streamed (natter-llm already
//! starts a later round's text on a new paragraph); a [`ReplyError`] is kept so the agent can
//! return it as such (cancellation stays cancellation). The agent wraps this sink in
//! natter-llm's `Batching`, so a token-per-chunk model does not cost a commit per token.

use async_trait::async_trait;
use natter_llm::{Sink, SinkError, TurnNote};
use natter_protocol::{ContentItem, MessageOptions, Role};

use crate::engine::{Reply, ReplyError};

/// The content item the answer streams into.
const ITEM: &str = "c0";

pub(super) struct ReplySink<'r> {
    out: &'r mut dyn Reply,
    /// Id of the open message, once the first token came.
    open: Option<String>,
    text: String,
    error: Option<ReplyError>,
}

impl<'r> ReplySink<'r> {
    pub fn new(out: &'r mut dyn Reply) -> Self {
        ReplySink {
            out,
            open: None,
            text: String::new(),
            error: None,
        }
    }

    /// Completes the open message with everything that streamed; its id, if there was one.
    pub async fn complete(
        &mut self,
        options: MessageOptions,
    ) -> Result<Option<String>, ReplyError> {
        let Some(id) = self.open.take() else {
            return Ok(None);
        };
        let text = std::mem::take(&mut self.text);
        self.out
            .complete(vec![ContentItem::text(ITEM, text)], options)
            .await?;
        Ok(Some(id))
    }

    /// Ends a failed turn: what streamed is kept as it was seen, then the fallback message.
    pub async fn fail(
        &mut self,
        fallback: &str,
        options: MessageOptions,
    ) -> Result<(), ReplyError> {
        self.complete(options.clone()).await?;
        self.out.begin(Role::Assistant).await?;
        self.out.delta(ITEM, fallback).await?;
        self.out
            .complete(vec![ContentItem::text(ITEM, fallback)], options)
            .await
    }

    pub fn take_error(&mut self) -> Option<ReplyError> {
        self.error.take()
    }

    pub fn into_inner(self) -> &'r mut dyn Reply {
        self.out
    }

    async fn write(&mut self, text: &str) -> Result<(), ReplyError> {
        if self.open.is_none() {
            self.open = Some(self.out.begin(Role::Assistant).await?);
        }
        self.out.delta(ITEM, text).await?;
        self.text.push_str(text);
        Ok(())
    }
}

#[async_trait]
impl Sink for ReplySink<'_> {
    async fn delta(&mut self, text: &str) -> Result<(), SinkError> {
        if text.is_empty() {
            return Ok(());
        }
        match self.write(text).await {
            Ok(()) => Ok(()),
            Err(e) => {
                let msg = e.to_string();
                self.error = Some(e);
                Err(SinkError(msg))
            }
        }
    }

    fn note(&mut self, note: TurnNote<'_>) {
        match note {
            TurnNote::ToolCalled { call, output } => {
                tracing::debug!(tool = %call.name, output_chars = output.content.len(), "llm: tool called");
            }
            TurnNote::ToolRefused { call, reason } => {
                tracing::info!(tool = %call.name, %reason, "llm: tool call refused");
            }
            TurnNote::Retrying {
                retry,
                delay,
                error,
            } => {
                tracing::warn!(retry, ?delay, %error, "llm: retrying the model call");
            }
            TurnNote::Trimmed {
                dropped,
                estimated_tokens,
            } => {
                tracing::debug!(
                    dropped,
                    estimated_tokens,
                    "llm: history trimmed to the token budget"
                );
            }
        }
    }
}
