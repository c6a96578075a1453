//! The widget's UI strings (English defaults) and the `strings` option that overrides them.
//!
//! Invariant: every key has a default, so the UI never shows an empty label; an unknown key in
//! `strings` is an error that lists the valid keys.

use thiserror::Error;

/// Keys accepted by the `strings` option.
pub const KEYS: [&str; 7] = [
    "title",
    "placeholder",
    "send",
    "launcher",
    "maximize",
    "minimize",
    "restart",
];
const DEFAULTS: [&str; 7] = [
    "Chat",
    "Type a message…",
    "Send",
    "Open chat",
    "Maximize",
    "Minimize",
    "Restart conversation",
];

/// Resolved UI strings: the overrides, falling back to the defaults.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Strings {
    overrides: [Option<String>; 7],
}

/// Errors of this module.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum Error {
    #[error("options.strings: unknown key \"{0}\"; use title, placeholder, send, launcher, maximize, minimize or restart")]
    UnknownKey(String),
    #[error("options.strings.{0} must be a string")]
    NotAString(String),
}

impl Strings {
    /// Overrides one string.
    pub fn set(&mut self, key: &str, value: Option<String>) -> Result<(), Error> {
        let i = KEYS
            .iter()
            .position(|k| *k == key)
            .ok_or_else(|| Error::UnknownKey(key.into()))?;
        self.overrides[i] = Some(value.ok_or_else(|| Error::NotAString(key.into()))?);
        Ok(())
    }

    /// The string for `key` (one of [`KEYS`]); unknown keys give "".
    pub fn get(&self, key: &str) -> &str {
        KEYS.iter()
            .position(|k| *k == key)
            .map_or("", |i| self.overrides[i].as_deref().unwrap_or(DEFAULTS[i]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let mut s = Strings::default();
        assert_eq!(s.get("title"), "Chat");
        s.set("title", Some("Acme help".into())).unwrap();
        assert_eq!(s.get("title"), "Acme help");
        assert_eq!(
            s.set("titel", Some("x".into())),
            Err(Error::UnknownKey("titel".into()))
        );
        assert_eq!(s.set("send", None), Err(Error::NotAString("send".into())));
        assert!(Error::UnknownKey("x".into())
            .to_string()
            .contains("placeholder"));
        for k in KEYS {
            assert!(!Strings::default().get(k).is_empty());
        }
    }
}
