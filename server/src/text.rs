//! Text helpers of the scripted engine: normalization for matching, `{{var}}` templates,
//! and cutting a reply into stream chunks.

use serde_json::Value;
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

use crate::bots::Chunking;

/// Strips accents (NFD, drop combining marks) without changing case: "Crème" → "Creme".
pub fn strip_accents(s: &str) -> String {
    s.nfd().filter(|c| !is_combining_mark(*c)).collect()
}

/// Lowercase, accent-free: the form keywords and choices are compared in.
pub fn normalize(s: &str) -> String {
    strip_accents(s).to_lowercase()
}

/// The words of `s` (alphanumeric runs), normalized.
pub fn words(s: &str) -> Vec<String> {
    normalize(s)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// Does the word sequence `needle` occur contiguously in `hay`?
pub fn contains_words(hay: &[String], needle: &[String]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// Replaces `{{ name }}` and `{{ name.path.0 }}` with values from `vars` (strings as is,
/// other JSON as JSON, missing as empty). Values are inserted once, never re-expanded.
pub fn render(template: &str, vars: &serde_json::Map<String, Value>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start + 2..].find("}}") else {
            break;
        };
        out.push_str(&rest[..start]);
        let path = rest[start + 2..start + 2 + len].trim();
        out.push_str(&lookup(vars, path).map(value_text).unwrap_or_default());
        rest = &rest[start + 2 + len + 2..];
    }
    out.push_str(rest);
    out
}

pub fn lookup<'a>(vars: &'a serde_json::Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let mut cur = vars.get(parts.next()?)?;
    for p in parts {
        cur = match cur {
            Value::Object(m) => m.get(p)?,
            Value::Array(a) => a.get(p.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

pub fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Cuts `text` into chunks of `size` units. Concatenating the chunks gives `text` back exactly
/// (whitespace stays attached to the preceding unit).
pub fn chunks(text: &str, how: Chunking, size: usize) -> Vec<String> {
    let size = size.max(1);
    let units: Vec<&str> = match how {
        Chunking::Whole => {
            return if text.is_empty() {
                vec![]
            } else {
                vec![text.to_string()]
            }
        }
        Chunking::Char => text
            .char_indices()
            .map(|(i, c)| &text[i..i + c.len_utf8()])
            .collect(),
        Chunking::Word => split_after(text, |_, prev, c| {
            prev.is_whitespace() && !c.is_whitespace()
        }),
        Chunking::Sentence => split_after(text, |last, prev, c| {
            prev.is_whitespace()
                && !c.is_whitespace()
                && (matches!(last, Some('.' | '!' | '?')) || prev == '\n')
        }),
    };
    units.chunks(size).map(|c| c.concat()).collect()
}

/// Splits before each char `c` where `boundary(last_non_whitespace, prev, c)` holds.
fn split_after(text: &str, boundary: impl Fn(Option<char>, char, char) -> bool) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut prev: Option<char> = None;
    let mut last_non_ws: Option<char> = None;
    for (i, c) in text.char_indices() {
        if let Some(p) = prev {
            if boundary(last_non_ws, p, c) {
                out.push(&text[start..i]);
                start = i;
            }
            if !p.is_whitespace() {
                last_non_ws = Some(p);
            }
        }
        prev = Some(c);
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_strips_accents_and_case() {
        assert_eq!(normalize("Crème BRÛLÉE"), "creme brulee");
        assert!(contains_words(
            &words("Où est ma COMMANDE ?"),
            &words("ma commande")
        ));
        assert!(!contains_words(&words("recommander"), &words("commande")));
    }

    #[test]
    fn render_paths_and_missing() {
        let vars =
            serde_json::json!({"order": "123", "result": {"status": "shipped", "items": [1, 2]}});
        let vars = vars.as_object().unwrap();
        assert_eq!(
            render(
                "#{{order}} is {{ result.status }} ({{result.items.1}}){{nope}}",
                vars
            ),
            "#123 is shipped (2)"
        );
        assert_eq!(render("{{x", vars), "{{x");
    }

    #[test]
    fn chunks_round_trip() {
        let t = "Hello  wörld. How are you?\nFine! 🎉";
        for how in [
            Chunking::Char,
            Chunking::Word,
            Chunking::Sentence,
            Chunking::Whole,
        ] {
            for size in 1..4 {
                assert_eq!(chunks(t, how, size).concat(), t, "{how:?} {size}");
            }
        }
        assert_eq!(chunks("a b c", Chunking::Word, 1), vec!["a ", "b ", "c"]);
        assert_eq!(
            chunks("Hi. Yo! Ok", Chunking::Sentence, 1),
            vec!["Hi. ", "Yo! ", "Ok"]
        );
    }
}
