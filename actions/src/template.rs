//! `$variable` templates: parsing a definition's strings and rendering them with arguments.
//!
//! Pure: no I/O, no clocks. Every string of an API action that may hold variables (path, query
//! values, header values, JSON body strings) is parsed once, at load, into [`Template`]s of
//! literal pieces and variable references. Rendering appends each argument's value, encoded
//! for where it lands, and never scans a value for `$` again — so a value that contains
//! `$other` stays literal (no re-expansion) and a value can never change the structure that
//! the literals around it give (no new path segment, query parameter, header or JSON key).
//!
//! Syntax (in definitions only):
//! - `$name` — `name` is `[A-Za-z_][A-Za-z0-9_]*`, read greedily;
//! - `${name}` — the same, delimited (`/v/${id}v2`);
//! - `$$` — a literal `$`;
//! - a `$` followed by anything else is a literal `$` (`/price$`, `5$ off`).
//!
//! Values: a JSON string goes in as its text; a number or boolean as its JSON text (`42`,
//! `true`); `null`, arrays and objects are refused in every position except a JSON body string
//! that is exactly one variable (see [`Template::whole_var`]), where the raw JSON value is used.

use std::borrow::Cow;

use serde_json::{Map, Value};

/// A parse error in a definition's template string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("`${{` at byte {at} is not closed by `}}`")]
    Unclosed { at: usize },
    #[error("`${{{name}}}` is not a valid variable name (letters, digits and `_`, not starting with a digit)")]
    BadName { name: String },
}

/// A rendering error: what the arguments could not provide.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("missing argument `{0}`")]
    Missing(String),
    #[error(
        "argument `{name}` is {kind}; only a string, number or boolean can go into the {place}"
    )]
    NotScalar {
        name: String,
        kind: &'static str,
        place: &'static str,
    },
    #[error("argument `{name}` contains {what}, which can't go into a header value")]
    HeaderControl { name: String, what: &'static str },
    #[error("argument `{0}` is empty, which can't be a path segment")]
    EmptyPathValue(String),
}

/// One piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Lit(String),
    Var(String),
}

/// Where a rendered value lands; decides its encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// Inside one URL path segment: every byte but RFC 3986 unreserved is percent-encoded, so
    /// `/ ? # @ % \` and spaces can't leave the segment. (Dot segments are checked by the
    /// caller on the whole path, since `$a$b` with `.` and `.` makes `..`.)
    PathSegment,
    /// A query value or a JSON string: inserted as text; the URL serializer or the JSON
    /// serializer escapes it.
    Text,
    /// A header value: inserted as text; CR, LF, NUL and other control bytes but tab are refused.
    Header,
}

impl Place {
    fn name(self) -> &'static str {
        match self {
            Place::PathSegment => "path",
            Place::Text => "query or body",
            Place::Header => "header",
        }
    }
}

/// A parsed template string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    source: String,
    pieces: Vec<Piece>,
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

impl Template {
    /// Parses a definition string. Only definitions are ever parsed; values never are.
    pub fn parse(src: &str) -> Result<Template, TemplateError> {
        let mut pieces = Vec::new();
        let mut lit = String::new();
        let mut rest = src;
        let mut offset = 0;
        while let Some(i) = rest.find('$') {
            lit.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            let consumed;
            if after.starts_with('$') {
                lit.push('$');
                consumed = i + 2;
            } else if let Some(inner) = after.strip_prefix('{') {
                let close = inner
                    .find('}')
                    .ok_or(TemplateError::Unclosed { at: offset + i })?;
                let name = &inner[..close];
                let valid = name.chars().next().is_some_and(is_name_start)
                    && name.chars().all(is_name_char);
                if !valid {
                    return Err(TemplateError::BadName {
                        name: name.to_string(),
                    });
                }
                if !lit.is_empty() {
                    pieces.push(Piece::Lit(std::mem::take(&mut lit)));
                }
                pieces.push(Piece::Var(name.to_string()));
                consumed = i + 2 + close + 1;
            } else if after.chars().next().is_some_and(is_name_start) {
                let len = after
                    .find(|c: char| !is_name_char(c))
                    .unwrap_or(after.len());
                if !lit.is_empty() {
                    pieces.push(Piece::Lit(std::mem::take(&mut lit)));
                }
                pieces.push(Piece::Var(after[..len].to_string()));
                consumed = i + 1 + len;
            } else {
                lit.push('$');
                consumed = i + 1;
            }
            rest = &rest[consumed..];
            offset += consumed;
        }
        lit.push_str(rest);
        if !lit.is_empty() {
            pieces.push(Piece::Lit(lit));
        }
        Ok(Template {
            source: src.to_string(),
            pieces,
        })
    }

    /// The template as written in the definition.
    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn pieces(&self) -> &[Piece] {
        &self.pieces
    }

    /// The variables referenced, in order of appearance, repeats included.
    pub fn vars(&self) -> impl Iterator<Item = &str> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Var(v) => Some(v.as_str()),
            Piece::Lit(_) => None,
        })
    }

    /// The literal text with variables removed (for checks on what the definition fixes).
    pub fn literals(&self) -> impl Iterator<Item = &str> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Lit(l) => Some(l.as_str()),
            Piece::Var(_) => None,
        })
    }

    /// `Some(name)` when the template is exactly one variable and nothing else (`"$order"`).
    /// In a JSON body such a string is replaced by the argument's raw JSON value.
    pub fn whole_var(&self) -> Option<&str> {
        match self.pieces.as_slice() {
            [Piece::Var(v)] => Some(v),
            _ => None,
        }
    }

    /// Renders with `args`, encoding each value for `place`.
    pub fn render(&self, args: &Map<String, Value>, place: Place) -> Result<String, RenderError> {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Lit(l) => out.push_str(l),
                Piece::Var(name) => {
                    let value = args
                        .get(name)
                        .ok_or_else(|| RenderError::Missing(name.clone()))?;
                    let text = scalar_text(name, value, place)?;
                    match place {
                        Place::PathSegment => {
                            if text.is_empty() {
                                return Err(RenderError::EmptyPathValue(name.clone()));
                            }
                            encode_path_segment(&text, &mut out);
                        }
                        Place::Header => {
                            check_header_value(name, &text)?;
                            out.push_str(&text);
                        }
                        Place::Text => out.push_str(&text),
                    }
                }
            }
        }
        Ok(out)
    }
}

/// The text of a scalar argument: strings as-is, numbers and booleans as JSON text.
fn scalar_text<'a>(
    name: &str,
    value: &'a Value,
    place: Place,
) -> Result<Cow<'a, str>, RenderError> {
    let kind = match value {
        Value::String(s) => return Ok(Cow::Borrowed(s)),
        Value::Number(n) => return Ok(Cow::Owned(n.to_string())),
        Value::Bool(b) => return Ok(Cow::Borrowed(if *b { "true" } else { "false" })),
        Value::Null => "null",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    };
    Err(RenderError::NotScalar {
        name: name.to_string(),
        kind,
        place: place.name(),
    })
}

/// RFC 3986 unreserved characters pass; every other byte of the UTF-8 text is `%XX`.
pub fn encode_path_segment(text: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in text.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 0xf) as usize] as char);
        }
    }
}

/// Refuses what would split or truncate a header: CR and LF (header injection, response
/// splitting), NUL, and the other control bytes HTTP forbids in a field value (tab is allowed).
fn check_header_value(name: &str, text: &str) -> Result<(), RenderError> {
    for c in text.chars() {
        let what = match c {
            '\r' => "a carriage return (CR)",
            '\n' => "a line feed (LF)",
            '\0' => "a NUL byte",
            '\t' => continue,
            c if (c as u32) < 0x20 || c == '\u{7f}' => "a control character",
            _ => continue,
        };
        return Err(RenderError::HeaderControl {
            name: name.to_string(),
            what,
        });
    }
    Ok(())
}

/// Whether `segment` is a dot segment as the URL standard sees it (`.`, `..`, and their
/// `%2e` spellings), which a URL parser would collapse — moving the request up the path.
pub fn is_dot_segment(segment: &str) -> bool {
    let lower = segment.to_ascii_lowercase();
    matches!(
        lower.as_str(),
        "." | ".." | "%2e" | "%2e%2e" | ".%2e" | "%2e."
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn parses_variables_and_literals() {
        let t = Template::parse("/orders/$orderId/items/${itemId}x").unwrap();
        assert_eq!(
            t.pieces(),
            &[
                Piece::Lit("/orders/".into()),
                Piece::Var("orderId".into()),
                Piece::Lit("/items/".into()),
                Piece::Var("itemId".into()),
                Piece::Lit("x".into()),
            ]
        );
        assert_eq!(t.vars().collect::<Vec<_>>(), ["orderId", "itemId"]);
    }

    #[test]
    fn dollar_escapes_and_lone_dollars_are_literal() {
        let t = Template::parse("$$a 5$ off $ $1 end$").unwrap();
        assert_eq!(t.pieces(), &[Piece::Lit("$a 5$ off $ $1 end$".into())]);
        assert_eq!(t.vars().count(), 0);
    }

    #[test]
    fn bad_braces_are_errors() {
        assert_eq!(
            Template::parse("/a/${x").unwrap_err(),
            TemplateError::Unclosed { at: 3 }
        );
        assert!(matches!(
            Template::parse("${1x}"),
            Err(TemplateError::BadName { .. })
        ));
        assert!(matches!(
            Template::parse("${}"),
            Err(TemplateError::BadName { .. })
        ));
        assert!(matches!(
            Template::parse("${a-b}"),
            Err(TemplateError::BadName { .. })
        ));
    }

    #[test]
    fn whole_var_only_when_alone() {
        assert_eq!(
            Template::parse("$order").unwrap().whole_var(),
            Some("order")
        );
        assert_eq!(
            Template::parse("${order}").unwrap().whole_var(),
            Some("order")
        );
        assert_eq!(Template::parse(" $order").unwrap().whole_var(), None);
        assert_eq!(Template::parse("$a$b").unwrap().whole_var(), None);
    }

    #[test]
    fn values_are_never_re_expanded() {
        let t = Template::parse("x=$a").unwrap();
        let a = args(json!({"a": "$b ${b} $$", "b": "SECRET"}));
        for place in [Place::Text, Place::Header] {
            assert_eq!(t.render(&a, place).unwrap(), "x=$b ${b} $$");
        }
        assert_eq!(
            t.render(&a, Place::PathSegment).unwrap(),
            "x=%24b%20%24%7Bb%7D%20%24%24"
        );
    }

    #[test]
    fn path_segment_encoding_keeps_structure() {
        let t = Template::parse("/p/$v").unwrap();
        let cases = [
            ("../admin", "/p/..%2Fadmin"),
            ("a?b=1#f", "/p/a%3Fb%3D1%23f"),
            ("user@evil.com", "/p/user%40evil.com"),
            ("a\\b", "/p/a%5Cb"),
            ("100%", "/p/100%25"),
            ("é", "/p/%C3%A9"),
            ("a b+c", "/p/a%20b%2Bc"),
            ("~-._", "/p/~-._"),
        ];
        for (value, want) in cases {
            assert_eq!(
                t.render(&args(json!({ "v": value })), Place::PathSegment)
                    .unwrap(),
                want,
                "{value}"
            );
        }
    }

    #[test]
    fn scalars_render_as_json_text_and_others_are_refused() {
        let t = Template::parse("$v").unwrap();
        assert_eq!(
            t.render(&args(json!({"v": 42})), Place::Text).unwrap(),
            "42"
        );
        assert_eq!(
            t.render(&args(json!({"v": 1.5})), Place::Text).unwrap(),
            "1.5"
        );
        assert_eq!(
            t.render(&args(json!({"v": false})), Place::Header).unwrap(),
            "false"
        );
        for v in [json!(null), json!([1]), json!({"a": 1})] {
            let err = t.render(&args(json!({ "v": v })), Place::Text).unwrap_err();
            assert!(matches!(err, RenderError::NotScalar { .. }), "{err}");
        }
    }

    #[test]
    fn missing_and_empty_arguments_are_errors() {
        let t = Template::parse("/p/$v").unwrap();
        assert_eq!(
            t.render(&Map::new(), Place::Text).unwrap_err(),
            RenderError::Missing("v".into())
        );
        assert_eq!(
            t.render(&args(json!({"v": ""})), Place::PathSegment)
                .unwrap_err(),
            RenderError::EmptyPathValue("v".into())
        );
        assert_eq!(
            t.render(&args(json!({"v": ""})), Place::Text).unwrap(),
            "/p/"
        );
    }

    #[test]
    fn header_control_characters_are_refused() {
        let t = Template::parse("Bearer $t").unwrap();
        for bad in [
            "a\r\nX-Evil: 1",
            "a\nb",
            "a\rb",
            "a\0b",
            "a\u{1b}b",
            "a\u{7f}",
        ] {
            let err = t
                .render(&args(json!({ "t": bad })), Place::Header)
                .unwrap_err();
            assert!(matches!(err, RenderError::HeaderControl { .. }), "{bad:?}");
        }
        assert_eq!(
            t.render(&args(json!({"t": "a\tb ü"})), Place::Header)
                .unwrap(),
            "Bearer a\tb ü"
        );
    }

    #[test]
    fn dot_segments() {
        for s in [".", "..", "%2e", "%2E%2e", ".%2E", "%2e."] {
            assert!(is_dot_segment(s), "{s}");
        }
        for s in ["...", "a.", ".a", "%2e%2e%2e", ""] {
            assert!(!is_dot_segment(s), "{s}");
        }
    }
}
