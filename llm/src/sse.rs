//! An incremental Server-Sent-Events parser for the chat-completions stream.
//!
//! Bytes arrive split anywhere (inside a line, inside a UTF-8 sequence, between `\r` and
//! `\n`); [`SseParser::feed`] buffers the incomplete tail and returns only whole events.
//! Only the `data` field matters to chat completions: `event`, `id`, `retry` and comments are
//! skipped. Several `data:` lines of one event are joined with `\n`, per the SSE spec.
//!
//! Invariant: the buffer never holds more than `max_line` bytes of one unfinished line, so a
//! peer that never sends a newline cannot grow memory without bound.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    #[error("an SSE line exceeded {0} bytes")]
    LineTooLong(usize),
    #[error("an SSE event is not UTF-8")]
    NotUtf8,
}

/// Default cap on one line: far above any real chunk (a chunk holds a few tokens).
pub const MAX_LINE: usize = 1 << 20;

#[derive(Debug)]
pub struct SseParser {
    buf: Vec<u8>,
    /// Bytes of `buf` already scanned for a line end (so a long line is scanned once).
    scanned: usize,
    data: String,
    has_data: bool,
    /// The previous chunk ended in `\r`: a `\n` starting the next one belongs to it.
    skip_lf: bool,
    started: bool,
    max_line: usize,
}

impl Default for SseParser {
    fn default() -> Self {
        SseParser::new(MAX_LINE)
    }
}

impl SseParser {
    pub fn new(max_line: usize) -> SseParser {
        SseParser {
            buf: Vec::new(),
            scanned: 0,
            data: String::new(),
            has_data: false,
            skip_lf: false,
            started: false,
            max_line,
        }
    }

    /// Feeds bytes; pushes the `data` of each event completed by them onto `out`.
    pub fn feed(&mut self, mut bytes: &[u8], out: &mut Vec<String>) -> Result<(), SseError> {
        if self.skip_lf && !bytes.is_empty() {
            self.skip_lf = false;
            if bytes[0] == b'\n' {
                bytes = &bytes[1..];
            }
        }
        self.buf.extend_from_slice(bytes);
        // Taken out so lines can be borrowed from it while `self` is updated (no copy per line).
        let buf = std::mem::take(&mut self.buf);
        let mut start = 0;
        let mut i = self.scanned;
        while i < buf.len() {
            let b = buf[i];
            if b == b'\n' || b == b'\r' {
                let line_end = i;
                i += 1;
                if b == b'\r' {
                    if i < buf.len() {
                        if buf[i] == b'\n' {
                            i += 1;
                        }
                    } else {
                        self.skip_lf = true;
                    }
                }
                self.line(&buf[start..line_end], out)?;
                start = i;
            } else {
                i += 1;
            }
        }
        self.buf = buf;
        self.buf.drain(..start);
        self.scanned = self.buf.len();
        if self.buf.len() > self.max_line {
            return Err(SseError::LineTooLong(self.max_line));
        }
        Ok(())
    }

    fn line(&mut self, mut line: &[u8], out: &mut Vec<String>) -> Result<(), SseError> {
        if !self.started {
            self.started = true;
            line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
        }
        if line.is_empty() {
            if self.has_data {
                out.push(std::mem::take(&mut self.data));
                self.has_data = false;
            }
            return Ok(());
        }
        if line[0] == b':' {
            return Ok(());
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(p) => {
                let v = &line[p + 1..];
                (&line[..p], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        if field == b"data" {
            let v = std::str::from_utf8(value).map_err(|_| SseError::NotUtf8)?;
            if self.has_data {
                self.data.push('\n');
            }
            self.data.push_str(v);
            self.has_data = true;
        }
        if self.data.len() > self.max_line {
            return Err(SseError::LineTooLong(self.max_line));
        }
        Ok(())
    }

    /// At end of stream: an event not closed by a blank line (some servers omit the last
    /// one). Returns its data, if any.
    pub fn finish(&mut self) -> Option<String> {
        let rest = std::mem::take(&mut self.buf);
        if !rest.is_empty() {
            let mut out = Vec::new();
            let _ = self.line(&rest, &mut out);
        }
        self.has_data.then(|| {
            self.has_data = false;
            std::mem::take(&mut self.data)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STREAM: &str = "data: {\"a\":\"é\"}\r\n\r\n: keep-alive\n\nevent: x\nid: 3\ndata: line1\ndata:line2\n\ndata: [DONE]\n\n";

    fn all(parser: &mut SseParser, pieces: &[&[u8]]) -> Vec<String> {
        let mut out = Vec::new();
        for p in pieces {
            parser.feed(p, &mut out).unwrap();
        }
        out.extend(parser.finish());
        out
    }

    #[test]
    fn every_split_point_gives_the_same_events() {
        let bytes = STREAM.as_bytes();
        let want = vec![
            "{\"a\":\"é\"}".to_string(),
            "line1\nline2".into(),
            "[DONE]".into(),
        ];
        assert_eq!(all(&mut SseParser::default(), &[bytes]), want);
        for i in 0..=bytes.len() {
            for j in i..=bytes.len() {
                let got = all(
                    &mut SseParser::default(),
                    &[&bytes[..i], &bytes[i..j], &bytes[j..]],
                );
                assert_eq!(got, want, "split at {i},{j}");
            }
        }
        let bytewise: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(all(&mut SseParser::default(), &bytewise), want);
    }

    #[test]
    fn cr_only_line_ends_and_unterminated_last_event() {
        assert_eq!(
            all(
                &mut SseParser::default(),
                &[b"\xEF\xBB\xBFdata: a\r\rdata: b"]
            ),
            vec!["a", "b"]
        );
    }

    #[test]
    fn a_line_without_end_is_bounded() {
        let mut p = SseParser::new(16);
        let mut out = Vec::new();
        assert_eq!(
            p.feed(&[b'x'; 17], &mut out),
            Err(SseError::LineTooLong(16))
        );
    }
}
