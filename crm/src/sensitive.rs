//! Values a CRM marked `sanitize`: kept usable by the bot, never shown in clear.
//!
//! Invariant: `Debug`, `Display` and `Serialize` of [`Sensitive`] print `[redacted]`; the only
//! ways to the value are the explicitly named [`Sensitive::expose`] and
//! [`Sensitive::into_exposed`], so a log line or an admin listing that serializes a result
//! cannot leak it by accident. There is deliberately no `Deserialize`.

use std::fmt;

use serde::{Serialize, Serializer};

/// What every redacted value prints as.
pub const REDACTED: &str = "[redacted]";

#[derive(Clone, PartialEq, Eq)]
pub struct Sensitive<T>(T);

impl<T> Sensitive<T> {
    pub fn new(value: T) -> Self {
        Sensitive(value)
    }
    /// The value in clear — for storing it where the bot reads it, never for logs.
    pub fn expose(&self) -> &T {
        &self.0
    }
    pub fn into_exposed(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for Sensitive<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl<T> fmt::Display for Sensitive<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl<T> Serialize for Sensitive<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(REDACTED)
    }
}

/// A value that is either plain or marked `sanitize` by the CRM.
#[derive(Clone, PartialEq, Eq)]
pub enum Guarded<T> {
    Plain(T),
    Sanitized(Sensitive<T>),
}

impl<T> Guarded<T> {
    pub fn new(value: T, sanitize: bool) -> Self {
        if sanitize {
            Guarded::Sanitized(Sensitive::new(value))
        } else {
            Guarded::Plain(value)
        }
    }
    pub fn is_sanitized(&self) -> bool {
        matches!(self, Guarded::Sanitized(_))
    }
    /// The value in clear, whatever its mark — to store it, never to log it.
    pub fn expose(&self) -> &T {
        match self {
            Guarded::Plain(v) => v,
            Guarded::Sanitized(s) => s.expose(),
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for Guarded<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Guarded::Plain(v) => v.fmt(f),
            Guarded::Sanitized(s) => s.fmt(f),
        }
    }
}

impl<T: fmt::Display> fmt::Display for Guarded<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Guarded::Plain(v) => v.fmt(f),
            Guarded::Sanitized(s) => s.fmt(f),
        }
    }
}

impl<T: Serialize> Serialize for Guarded<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Guarded::Plain(v) => v.serialize(s),
            Guarded::Sanitized(v) => v.serialize(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_in_clear() {
        let g = Guarded::new("210".to_string(), true);
        assert_eq!(format!("{g:?} {g}"), "[redacted] [redacted]");
        assert_eq!(serde_json::to_string(&g).unwrap(), "\"[redacted]\"");
        assert_eq!(g.expose(), "210");
        let p = Guarded::new("1".to_string(), false);
        assert_eq!(format!("{p:?} {p}"), "\"1\" 1");
        assert!(!p.is_sanitized());
    }
}
