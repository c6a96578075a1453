//! A [`Sink`] wrapper that coalesces content deltas, so a model streaming one token per chunk
//! does not cost one stored event (one commit) per token.
//!
//! Invariants: the first delta of a turn passes at once (time to first token is what the user
//! feels); later text is held until `interval` has passed since the last pass-through or
//! `max_chars` are waiting; [`Sink::flush`] — called by the engine at the end of every model
//! answer, before any tool runs — passes whatever is held. Text is never reordered, split
//! differently than concatenation, or dropped while the inner sink accepts it.

use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::engine::{Sink, SinkError, TurnNote};

pub struct Batching<S> {
    inner: S,
    buf: String,
    last: Option<Instant>,
    interval: Duration,
    max_chars: usize,
}

impl<S: Sink> Batching<S> {
    /// E.g. `Batching::new(sink, Duration::from_millis(50), 200)`.
    pub fn new(inner: S, interval: Duration, max_chars: usize) -> Batching<S> {
        Batching {
            inner,
            buf: String::new(),
            last: None,
            interval,
            max_chars,
        }
    }
    pub fn inner(&self) -> &S {
        &self.inner
    }
    pub fn inner_mut(&mut self) -> &mut S {
        &mut self.inner
    }
    /// The wrapped sink; text still held (no final `flush`) is returned beside it.
    pub fn into_inner(self) -> (S, String) {
        (self.inner, self.buf)
    }
}

#[async_trait]
impl<S: Sink> Sink for Batching<S> {
    async fn delta(&mut self, text: &str) -> Result<(), SinkError> {
        self.buf.push_str(text);
        let due = self.last.is_none_or(|t| t.elapsed() >= self.interval);
        if due || self.buf.chars().count() >= self.max_chars {
            let out = std::mem::take(&mut self.buf);
            self.last = Some(Instant::now());
            self.inner.delta(&out).await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), SinkError> {
        if !self.buf.is_empty() {
            let out = std::mem::take(&mut self.buf);
            self.last = Some(Instant::now());
            self.inner.delta(&out).await?;
        }
        self.inner.flush().await
    }

    fn note(&mut self, note: TurnNote<'_>) {
        self.inner.note(note)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Rec(Vec<String>);

    #[async_trait]
    impl Sink for Rec {
        async fn delta(&mut self, text: &str) -> Result<(), SinkError> {
            self.0.push(text.to_string());
            Ok(())
        }
    }

    #[tokio::test]
    async fn first_delta_passes_then_text_is_held_until_size_or_flush() {
        let mut b = Batching::new(Rec::default(), Duration::from_secs(3600), 5);
        for t in ["ab", "cd", "ef", "ghij", "k"] {
            b.delta(t).await.unwrap();
        }
        assert_eq!(b.inner().0, ["ab", "cdefghij"]);
        b.flush().await.unwrap();
        assert_eq!(b.inner().0, ["ab", "cdefghij", "k"]);
        b.flush().await.unwrap();
        assert_eq!(b.into_inner().0 .0.len(), 3);
    }
}
