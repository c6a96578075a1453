//! The `theme` option: a few named values mapped to the CSS custom properties the widget's
//! stylesheet reads (`--natter-*`), set on the shadow host.
//!
//! Invariant: a value can never break out of its declaration — values with `;`, `{`, `}`, `<`,
//! `>`, `\` or control characters are rejected (they are set through
//! `style.setProperty`, never concatenated into CSS text, so this is belt and braces).

use thiserror::Error;

/// Theme keys and the custom property each sets.
pub const KEYS: [(&str, &str); 6] = [
    ("primaryColor", "--natter-primary"),
    ("backgroundColor", "--natter-bg"),
    ("textColor", "--natter-text"),
    ("fontFamily", "--natter-font"),
    ("borderRadius", "--natter-radius"),
    ("zIndex", "--natter-z"),
];

/// Errors of this module.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum Error {
    #[error("options.theme: unknown key \"{0}\"; use primaryColor, backgroundColor, textColor, fontFamily, borderRadius or zIndex")]
    UnknownKey(String),
    #[error("options.theme.{0} must be a CSS value string without ; {{ }} < > \\ or line breaks")]
    BadValue(String),
}

/// Validated `(custom property, value)` pairs.
pub type Theme = Vec<(&'static str, String)>;

/// Validates one theme entry and returns the custom property it sets.
pub fn property(key: &str, value: Option<&str>) -> Result<(&'static str, String), Error> {
    let prop = KEYS
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, p)| *p)
        .ok_or_else(|| Error::UnknownKey(key.into()))?;
    let v = value.ok_or_else(|| Error::BadValue(key.into()))?;
    if v.is_empty()
        || v.chars()
            .any(|c| matches!(c, ';' | '{' | '}' | '<' | '>' | '\\') || c.is_control())
    {
        return Err(Error::BadValue(key.into()));
    }
    Ok((prop, v.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_keys_and_rejects_injection() {
        assert_eq!(
            property("primaryColor", Some("#0a5")),
            Ok(("--natter-primary", "#0a5".into()))
        );
        assert_eq!(
            property("fontFamily", Some("Inter, sans-serif")).unwrap().0,
            "--natter-font"
        );
        assert_eq!(
            property("colour", Some("red")),
            Err(Error::UnknownKey("colour".into()))
        );
        for bad in ["red; background: url(x)", "}", "a\nb", "", "<x>"] {
            assert!(
                property("textColor", Some(bad)).is_err(),
                "{bad:?} accepted"
            );
        }
        assert!(property("textColor", None).is_err());
    }
}

impl Error {
    /// The same text as `Display`, built without `core::fmt`.
    pub fn msg(&self) -> String {
        match self {
            Error::UnknownKey(k) => crate::cat(&["options.theme: unknown key \"", k, "\"; use primaryColor, backgroundColor, textColor, fontFamily, borderRadius or zIndex"]),
            Error::BadValue(k) => crate::cat(&["options.theme.", k, " must be a CSS value string without ; { } < > \\ or line breaks"]),
        }
    }
}
