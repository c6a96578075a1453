//! Server-Sent Events framing (WHATWG HTML §9.2), both directions.
//!
//! - [`encode_event`] / [`encode_comment`] / [`encode_retry`]: what the server writes.
//! - [`SseParser`]: an incremental parser for the widget, which reads the stream with
//!   `fetch` (not `EventSource`, so it can send `Authorization`). Feed it byte chunks exactly
//!   as they arrive: lines may be split anywhere, including inside a UTF-8 sequence or between
//!   the CR and LF of a CRLF. Bytes are only decoded once a whole line is buffered.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The `id:` in force when the event was dispatched (the spec's "last event ID").
    pub id: Option<String>,
    /// `event:` field, `"message"` when absent.
    pub event: String,
    /// `data:` lines joined with `\n`.
    pub data: String,
}

/// Writes one event. `data` may contain newlines (each line becomes a `data:` line).
pub fn encode_event(out: &mut String, id: Option<&str>, event: &str, data: &str) {
    if let Some(id) = id {
        debug_assert!(!id.contains(['\n', '\r', '\0']));
        out.push_str("id: ");
        out.push_str(id);
        out.push('\n');
    }
    if !event.is_empty() {
        debug_assert!(!event.contains(['\n', '\r']));
        out.push_str("event: ");
        out.push_str(event);
        out.push('\n');
    }
    // Split on every line terminator the parser recognises so data round-trips.
    let normalized = data.replace("\r\n", "\n").replace('\r', "\n");
    for line in normalized.split('\n') {
        out.push_str("data: ");
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
}

/// A comment line (`: text`), used as keep-alive; parsers ignore it.
pub fn encode_comment(out: &mut String, text: &str) {
    for line in text.split(['\n', '\r']) {
        out.push(':');
        if !line.is_empty() {
            out.push(' ');
            out.push_str(line);
        }
        out.push('\n');
    }
    out.push('\n');
}

/// The reconnection-delay hint.
pub fn encode_retry(out: &mut String, millis: u64) {
    out.push_str("retry: ");
    out.push_str(&millis.to_string());
    out.push_str("\n\n");
}

/// Incremental SSE parser. See the module docs.
#[derive(Debug, Default)]
pub struct SseParser {
    line: Vec<u8>,
    /// The previous chunk ended in CR: a leading LF of the next chunk belongs to it.
    pending_cr: bool,
    /// A UTF-8 BOM at the very start of the stream is skipped.
    started: bool,
    data: String,
    has_data: bool,
    event: String,
    last_event_id: Option<String>,
    retry: Option<u64>,
}

impl SseParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// The last `id:` seen (survives across events, as the spec says): send it as
    /// `Last-Event-ID` when reconnecting.
    pub fn last_event_id(&self) -> Option<&str> {
        self.last_event_id.as_deref()
    }

    /// The last valid `retry:` value in milliseconds.
    pub fn retry(&self) -> Option<u64> {
        self.retry
    }

    /// Feeds a chunk; returns the events completed by it, in order.
    pub fn feed(&mut self, mut chunk: &[u8]) -> Vec<SseEvent> {
        let mut out = Vec::new();
        if !self.started && !chunk.is_empty() {
            // The BOM may itself be split; collect up to 3 bytes before deciding.
            let need = 3usize.saturating_sub(self.line.len());
            let take = need.min(chunk.len());
            self.line.extend_from_slice(&chunk[..take]);
            chunk = &chunk[take..];
            if self.line.len() < 3 && b"\xEF\xBB\xBF".starts_with(&self.line) {
                return out;
            }
            self.started = true;
            let head = std::mem::take(&mut self.line);
            let head: &[u8] = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&head);
            self.scan(head, &mut out);
        }
        self.scan(chunk, &mut out);
        out
    }

    fn scan(&mut self, chunk: &[u8], out: &mut Vec<SseEvent>) {
        let mut rest = chunk;
        if self.pending_cr {
            self.pending_cr = false;
            if let Some(b'\n') = rest.first() {
                rest = &rest[1..];
            }
        }
        while let Some(pos) = rest.iter().position(|&b| b == b'\n' || b == b'\r') {
            self.line.extend_from_slice(&rest[..pos]);
            let term = rest[pos];
            rest = &rest[pos + 1..];
            if term == b'\r' {
                match rest.first() {
                    Some(b'\n') => rest = &rest[1..],
                    None => self.pending_cr = true,
                    _ => {}
                }
            }
            let line = std::mem::take(&mut self.line);
            self.process_line(&line, out);
        }
        self.line.extend_from_slice(rest);
    }

    fn process_line(&mut self, line: &[u8], out: &mut Vec<SseEvent>) {
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if line[0] == b':' {
            return;
        }
        // byte scans, not `str` searches: this parser also runs in the size-budgeted widget
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        let text = || String::from_utf8_lossy(value);
        match field {
            b"data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(&text());
                self.has_data = true;
            }
            b"event" => self.event = text().into_owned(),
            b"id" if !value.contains(&0) => self.last_event_id = Some(text().into_owned()),
            // saturating: an absurdly long value is "very long", not an error
            b"retry" if !value.is_empty() && value.iter().all(|b| b.is_ascii_digit()) => {
                self.retry = Some(value.iter().fold(0u64, |n, &d| {
                    n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
                }));
            }
            _ => {}
        }
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        let event = std::mem::take(&mut self.event);
        if !self.has_data {
            return;
        }
        self.has_data = false;
        out.push(SseEvent {
            id: self.last_event_id.clone(),
            event: if event.is_empty() {
                "message".into()
            } else {
                event
            },
            data: std::mem::take(&mut self.data),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> String {
        let mut s = String::new();
        encode_retry(&mut s, 2000);
        encode_event(
            &mut s,
            Some("1"),
            "message.delta",
            "{\"text\":\"héllo wörld 🎉\"}",
        );
        encode_comment(&mut s, "keep-alive");
        encode_event(&mut s, Some("2"), "x", "line1\nline2");
        encode_event(&mut s, Some("3"), "", "plain");
        s
    }

    fn expected() -> Vec<SseEvent> {
        vec![
            SseEvent {
                id: Some("1".into()),
                event: "message.delta".into(),
                data: "{\"text\":\"héllo wörld 🎉\"}".into(),
            },
            SseEvent {
                id: Some("2".into()),
                event: "x".into(),
                data: "line1\nline2".into(),
            },
            SseEvent {
                id: Some("3".into()),
                event: "message".into(),
                data: "plain".into(),
            },
        ]
    }

    fn feed_split(bytes: &[u8], cuts: &[usize]) -> (Vec<SseEvent>, SseParser) {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        let mut last = 0;
        for &c in cuts {
            out.extend(p.feed(&bytes[last..c]));
            last = c;
        }
        out.extend(p.feed(&bytes[last..]));
        (out, p)
    }

    #[test]
    fn whole_stream() {
        let (ev, p) = feed_split(sample().as_bytes(), &[]);
        assert_eq!(ev, expected());
        assert_eq!(p.retry(), Some(2000));
        assert_eq!(p.last_event_id(), Some("3"));
    }

    #[test]
    fn every_single_split_point_lf_and_crlf_and_cr() {
        for variant in [
            sample(),
            sample().replace('\n', "\r\n"),
            sample().replace('\n', "\r"),
        ] {
            let bytes = variant.as_bytes();
            for cut in 0..=bytes.len() {
                let (ev, _) = feed_split(bytes, &[cut]);
                assert_eq!(ev, expected(), "cut at {cut} of {variant:?}");
            }
        }
    }

    #[test]
    fn byte_by_byte_with_bom() {
        let mut s = String::from("\u{FEFF}");
        s.push_str(&sample().replace('\n', "\r\n"));
        let bytes = s.as_bytes();
        let cuts: Vec<usize> = (1..bytes.len()).collect();
        let (ev, _) = feed_split(bytes, &cuts);
        assert_eq!(ev, expected());
    }

    #[test]
    fn id_persists_and_empty_data_does_not_dispatch() {
        let mut p = SseParser::new();
        let ev = p.feed(b"id: 5\n\ndata: a\n\nevent: e\n\n");
        assert_eq!(
            ev,
            vec![SseEvent {
                id: Some("5".into()),
                event: "message".into(),
                data: "a".into()
            }]
        );
        assert_eq!(p.last_event_id(), Some("5"));
    }

    #[test]
    fn field_without_colon_and_no_space() {
        let mut p = SseParser::new();
        let ev = p.feed(b"data\ndata:x\nretry: nope\n\n");
        assert_eq!(ev[0].data, "\nx");
        assert_eq!(p.retry(), None);
    }

    #[test]
    fn encoder_splits_carriage_returns_in_data() {
        let mut s = String::new();
        encode_event(&mut s, None, "e", "a\r\nb\rc");
        assert_eq!(s, "event: e\ndata: a\ndata: b\ndata: c\n\n");
    }
}
