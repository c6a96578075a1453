//! Safe markdown: message text → a small node tree the shell turns into DOM nodes with
//! `createElement` / text nodes. There is no HTML path at all: `<script>` in a message is the
//! text `<script>`.
//!
//! Supported: paragraphs (blank line separated; single newlines are line breaks), `- `/`* `/`+ `
//! and `1. ` lists, fenced code blocks, `**bold**`/`__bold__`, `*italic*`/`_italic_`,
//! `` `code` ``, `[text](url)` links and backslash escapes.
//!
//! Invariant: a [`Inline::Link`] only ever carries an `http:`, `https:` or `mailto:` URL
//! ([`safe_url`]); any other link renders as its text.

/// A block of a message.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    Para(Vec<Inline>),
    List {
        ordered: bool,
        items: Vec<Vec<Inline>>,
    },
    Code(String),
}

/// Inline content.
#[derive(Debug, Clone, PartialEq)]
pub enum Inline {
    Text(String),
    Break,
    Bold(Vec<Inline>),
    Italic(Vec<Inline>),
    Code(String),
    Link { href: String, children: Vec<Inline> },
}

/// The URL if it is safe to put in an `href`: `http(s)://…` or `mailto:…`, no whitespace or
/// control characters (browsers strip those inside schemes: `java\tscript:`).
pub fn safe_url(url: &str) -> Option<&str> {
    let u = url.trim();
    if u.is_empty() || u.bytes().any(|b| b <= b' ' || b == 0x7f || b == b'"') {
        return None;
    }
    let lower = |n: usize| u.get(..n).map(|p| p.to_ascii_lowercase());
    let ok = lower(7).as_deref() == Some("http://")
        || lower(8).as_deref() == Some("https://")
        || lower(7).as_deref() == Some("mailto:");
    ok.then_some(u)
}

fn list_item(line: &str) -> Option<(bool, &str)> {
    let t = line.trim_start();
    for m in ["- ", "* ", "+ "] {
        if let Some(rest) = t.strip_prefix(m) {
            return Some((false, rest));
        }
    }
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    if digits > 0 && digits < 10 {
        if let Some(rest) = t[digits..].strip_prefix(". ") {
            return Some((true, rest));
        }
    }
    None
}

/// `str::lines` without the char-pattern searcher: splits at `\n`, drops one `\r` before it.
struct Lines<'a>(&'a str);

impl<'a> Iterator for Lines<'a> {
    type Item = &'a str;
    fn next(&mut self) -> Option<&'a str> {
        let s = self.0;
        if s.is_empty() {
            return None;
        }
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() && b[i] != b'\n' {
            i += 1;
        }
        if i == b.len() {
            self.0 = "";
            return Some(s);
        }
        self.0 = &s[i + 1..];
        let end = if i > 0 && b[i - 1] == b'\r' { i - 1 } else { i };
        Some(&s[..end])
    }
}

/// Parses a whole message text.
pub fn parse(text: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut para: Vec<&str> = Vec::new();
    let mut list: Option<(bool, Vec<Vec<Inline>>)> = None;
    let mut lines = Lines(text);
    fn end_para(para: &mut Vec<&str>, out: &mut Vec<Block>) {
        if !para.is_empty() {
            let mut inl = Vec::new();
            for (i, l) in para.iter().enumerate() {
                if i > 0 {
                    inl.push(Inline::Break);
                }
                inl.extend(inline(l));
            }
            out.push(Block::Para(inl));
            para.clear();
        }
    }
    fn end_list(list: &mut Option<(bool, Vec<Vec<Inline>>)>, out: &mut Vec<Block>) {
        if let Some((ordered, items)) = list.take() {
            out.push(Block::List { ordered, items });
        }
    }
    while let Some(line) = lines.next() {
        if line.trim_start().starts_with("```") {
            end_para(&mut para, &mut out);
            end_list(&mut list, &mut out);
            let mut code = String::new();
            for l in lines.by_ref() {
                if l.trim_start().starts_with("```") {
                    break;
                }
                if !code.is_empty() {
                    code.push('\n');
                }
                code.push_str(l);
            }
            out.push(Block::Code(code));
        } else if line.trim().is_empty() {
            end_para(&mut para, &mut out);
            end_list(&mut list, &mut out);
        } else if let Some((ordered, rest)) = list_item(line) {
            end_para(&mut para, &mut out);
            match &mut list {
                Some((o, items)) if *o == ordered => items.push(inline(rest)),
                _ => {
                    end_list(&mut list, &mut out);
                    list = Some((ordered, vec![inline(rest)]));
                }
            }
        } else {
            end_list(&mut list, &mut out);
            para.push(line);
        }
    }
    end_para(&mut para, &mut out);
    end_list(&mut list, &mut out);
    out
}

/// Byte search (no `str::find` with a `&str` pattern: its two-way searcher is ~2.5 KB of wasm).
/// The patterns are ASCII, so a match is always on a char boundary.
fn find(s: &str, from: usize, pat: &str) -> Option<usize> {
    if !s.is_char_boundary(from) {
        return None;
    }
    let (h, p) = (s.as_bytes(), pat.as_bytes());
    (from..(h.len() + 1).checked_sub(p.len())?).find(|&i| h.get(i..i + p.len()) == Some(p))
}

fn word_char(c: Option<char>) -> bool {
    c.is_some_and(|c| c.is_ascii_alphanumeric())
}

/// Parses inline markdown.
pub fn inline(s: &str) -> Vec<Inline> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut i = 0;
    let b = s.as_bytes();
    while i < s.len() {
        let c = b[i];
        let rest = &s[i..];
        let mut node = None;
        let mut next = i;
        match c {
            b'\\' if i + 1 < s.len() && b[i + 1].is_ascii_punctuation() => {
                text.push(b[i + 1] as char);
                i += 2;
                continue;
            }
            b'`' => {
                if let Some(end) = find(s, i + 1, "`") {
                    node = Some(Inline::Code(s[i + 1..end].into()));
                    next = end + 1;
                }
            }
            b'*' | b'_' if rest.len() > 2 && b[i + 1] == c => {
                let delim = &s[i..i + 2];
                if let Some(end) = find(s, i + 2, delim) {
                    if end > i + 2 {
                        node = Some(Inline::Bold(inline(&s[i + 2..end])));
                        next = end + 2;
                    }
                }
            }
            b'*' | b'_' => {
                let before = s[..i].chars().next_back();
                let after = s[i + 1..].chars().next();
                let opens = after.is_some_and(|a| !a.is_ascii_whitespace())
                    && (c == b'*' || !word_char(before));
                if opens {
                    let delim = &s[i..i + 1];
                    let mut from = i + 1;
                    while let Some(end) = find(s, from, delim) {
                        let next_c = s[end + 1..].chars().next();
                        let prev_c = s[..end].chars().next_back();
                        let closes = end > i + 1
                            && !prev_c.is_some_and(|c| c.is_ascii_whitespace())
                            && (c == b'*' || !word_char(next_c))
                            && next_c != Some(c as char);
                        if closes {
                            node = Some(Inline::Italic(inline(&s[i + 1..end])));
                            next = end + 1;
                            break;
                        }
                        from = end + 1;
                    }
                }
            }
            b'[' => {
                if let Some(close) = find(s, i + 1, "](") {
                    if let Some(end) = find(s, close + 2, ")") {
                        let label = inline(&s[i + 1..close]);
                        match safe_url(&s[close + 2..end]) {
                            Some(u) => {
                                node = Some(Inline::Link {
                                    href: u.into(),
                                    children: label,
                                })
                            }
                            None => {
                                // an unsafe link keeps its label as plain inline content
                                if !text.is_empty() {
                                    out.push(Inline::Text(std::mem::take(&mut text)));
                                }
                                out.extend(label);
                                i = end + 1;
                                continue;
                            }
                        }
                        next = end + 1;
                    }
                }
            }
            _ => {}
        }
        match node {
            Some(n) => {
                if !text.is_empty() {
                    out.push(Inline::Text(std::mem::take(&mut text)));
                }
                out.push(n);
                i = next;
            }
            None => {
                let ch = rest.chars().next().unwrap_or(' ');
                text.push(ch);
                i += ch.len_utf8();
            }
        }
    }
    if !text.is_empty() {
        out.push(Inline::Text(text));
    }
    out
}

/// The plain text of inline content (for the live region).
pub fn plain(blocks: &[Block], out: &mut String) {
    fn inl(v: &[Inline], out: &mut String) {
        for n in v {
            match n {
                Inline::Text(t) | Inline::Code(t) => out.push_str(t),
                Inline::Break => out.push(' '),
                Inline::Bold(c) | Inline::Italic(c) | Inline::Link { children: c, .. } => {
                    inl(c, out)
                }
            }
        }
    }
    for b in blocks {
        if !out.is_empty() {
            out.push(' ');
        }
        match b {
            Block::Para(v) => inl(v, out),
            Block::List { items, .. } => {
                for it in items {
                    inl(it, out);
                    out.push(' ');
                }
            }
            Block::Code(c) => out.push_str(c),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn lines_like_std() {
        for s in [
            "",
            "a",
            "a\n",
            "a\r\nb",
            "a\rb\r",
            "\n\n",
            "x\r\n\r\ny\r",
            "\r\n",
            "é\nü\r\n",
        ] {
            assert_eq!(
                super::Lines(s).collect::<Vec<_>>(),
                s.lines().collect::<Vec<_>>(),
                "{s:?}"
            );
        }
    }
    use super::*;
    use Inline::*;

    fn t(s: &str) -> Inline {
        Text(s.into())
    }

    #[test]
    fn paragraphs_breaks_and_emphasis() {
        let b = parse("Hi **there** and *you*\nnext line\n\nsecond `x<y>`");
        assert_eq!(
            b,
            vec![
                Block::Para(vec![
                    t("Hi "),
                    Bold(vec![t("there")]),
                    t(" and "),
                    Italic(vec![t("you")]),
                    Break,
                    t("next line")
                ]),
                Block::Para(vec![t("second "), Code("x<y>".into())]),
            ]
        );
    }

    #[test]
    fn lists_and_code_blocks() {
        let b = parse("- a\n- **b**\n1. one\n2. two\n```\n<b>raw</b>\n```");
        assert_eq!(
            b,
            vec![
                Block::List {
                    ordered: false,
                    items: vec![vec![t("a")], vec![Bold(vec![t("b")])]]
                },
                Block::List {
                    ordered: true,
                    items: vec![vec![t("one")], vec![t("two")]]
                },
                Block::Code("<b>raw</b>".into()),
            ]
        );
    }

    #[test]
    fn snake_case_and_lone_stars_stay_text() {
        assert_eq!(inline("snake_case_name"), vec![t("snake_case_name")]);
        assert_eq!(inline("2 * 3 * 4"), vec![t("2 * 3 * 4")]);
        assert_eq!(inline("\\*not\\*"), vec![t("*not*")]);
        assert_eq!(inline("unclosed **bold"), vec![t("unclosed **bold")]);
    }

    #[test]
    fn links_only_http_https_mailto() {
        assert_eq!(
            inline("[site](https://a.example/x?y=1)"),
            vec![Link {
                href: "https://a.example/x?y=1".into(),
                children: vec![t("site")]
            }]
        );
        assert_eq!(
            inline("[m](MAILTO:a@b.c)"),
            vec![Link {
                href: "MAILTO:a@b.c".into(),
                children: vec![t("m")]
            }]
        );
        for bad in [
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            "java\tscript:alert(1)",
            " javascript:x",
            "data:text/html,<script>",
            "vbscript:x",
            "//evil.example",
            "http://a\"onmouseover=x",
        ] {
            let v = inline(&format!("[click]({bad})"));
            assert!(
                !v.iter().any(|n| matches!(n, Link { .. })),
                "{bad:?} became a link: {v:?}"
            );
        }
        assert_eq!(inline("[click](javascript:alert(1))")[0], t("click"));
    }

    #[test]
    fn html_is_just_text() {
        let b = parse("<script>alert(1)</script><img src=x onerror=alert(1)>");
        let mut s = String::new();
        plain(&b, &mut s);
        assert_eq!(s, "<script>alert(1)</script><img src=x onerror=alert(1)>");
    }

    #[test]
    fn multibyte_text_survives() {
        assert_eq!(
            inline("héllo *wörld* 🎉"),
            vec![t("héllo "), Italic(vec![t("wörld")]), t(" 🎉")]
        );
    }
}
