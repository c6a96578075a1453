//! `loadChat` options (docs/api.md), validated into [`Options`].
//!
//! The shell reads each property of the JS options object into a [`Raw`] (which JS type it
//! had) and hands them here; everything about what is allowed lives in this module. `element`
//! and `onLoad` are JS objects and stay in the shell; the shell only tells [`parse`] whether an
//! element was given (it changes the defaults: an inline widget opens at once, with no launcher).
//!
//! Invariant: [`parse`] either returns fully valid options or the first problem found, worded
//! so the developer knows what to change.

use crate::strings::{self, Strings};
use crate::theme::{self, Theme};
use crate::thread::{self, Persistence};
use thiserror::Error;

/// A JS value as the shell saw it.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Raw {
    /// `undefined` (or not given).
    #[default]
    Absent,
    Str(String),
    Bool(bool),
    Num(f64),
    /// Any other type; holds its `typeof`.
    Other(String),
}

impl Raw {
    fn type_name(&self) -> String {
        match self {
            Raw::Absent => "undefined".into(),
            Raw::Str(_) => "string".into(),
            Raw::Bool(_) => "boolean".into(),
            Raw::Num(_) => "number".into(),
            Raw::Other(t) => t.clone(),
        }
    }
}

/// The options as read from JS.
#[derive(Clone, Debug, Default)]
pub struct RawOptions {
    pub server_url: Raw,
    pub bot: Raw,
    pub show_launcher: Raw,
    pub open_on_load: Raw,
    pub auth_token: Raw,
    pub locale: Raw,
    pub persistence: Raw,
    pub handler_timeout_ms: Raw,
    /// `strings` entries, in object order.
    pub strings: Vec<(String, Raw)>,
    /// `theme` entries, in object order.
    pub theme: Vec<(String, Raw)>,
}

/// Validated options.
#[derive(Clone, Debug)]
pub struct Options {
    /// Without a trailing slash.
    pub server_url: String,
    pub bot: Option<String>,
    pub show_launcher: bool,
    pub open_on_load: bool,
    pub auth_token: Option<String>,
    pub locale: String,
    pub persistence: Persistence,
    pub handler_timeout_ms: u32,
    pub strings: Strings,
    pub theme: Theme,
}

/// Default `handlerTimeoutMs` (docs/api.md).
pub const DEFAULT_HANDLER_TIMEOUT_MS: u32 = 10_000;

/// Errors of this module.
#[derive(Debug, Error, PartialEq)]
pub enum Error {
    #[error("loadChat: options must be an object like {{serverUrl: \"https://chat.example.com\", bot: \"acme\"}}")]
    NotAnObject,
    #[error("loadChat: options.serverUrl is required: the http(s) URL of your Natter server, e.g. \"https://chat.example.com\"")]
    MissingServerUrl,
    #[error(
        "loadChat: options.serverUrl must be an absolute http:// or https:// URL, not \"{0}\""
    )]
    BadServerUrl(String),
    #[error("loadChat: options.{option} must be {expected}, not {got}")]
    WrongType {
        option: &'static str,
        expected: &'static str,
        got: String,
    },
    #[error("loadChat: options.handlerTimeoutMs must be a whole number of milliseconds from 1 to 2147483647")]
    BadTimeout,
    #[error(
        "loadChat: options.locale must be a language tag like \"en\" or \"pt-BR\", not \"{0}\""
    )]
    BadLocale(String),
    #[error("loadChat: {0}")]
    Persistence(#[from] thread::Error),
    #[error("loadChat: {0}")]
    Strings(#[from] strings::Error),
    #[error("loadChat: {0}")]
    Theme(#[from] theme::Error),
    #[error("loadChat: options.element: no element matches the selector \"{0}\"; pass an existing element or a selector that matches one")]
    ElementNotFound(String),
    #[error("loadChat: options.element must be an Element or a CSS selector string")]
    BadElement,
    #[error("loadChat: options.onLoad must be a function")]
    BadOnLoad,
}

fn string(option: &'static str, raw: Raw) -> Result<Option<String>, Error> {
    match raw {
        Raw::Absent => Ok(None),
        Raw::Str(s) => Ok(Some(s)),
        other => Err(Error::WrongType {
            option,
            expected: "a string",
            got: other.type_name(),
        }),
    }
}

fn boolean(option: &'static str, raw: Raw, default: bool) -> Result<bool, Error> {
    match raw {
        Raw::Absent => Ok(default),
        Raw::Bool(b) => Ok(b),
        other => Err(Error::WrongType {
            option,
            expected: "true or false",
            got: other.type_name(),
        }),
    }
}

/// Checks `serverUrl` and drops trailing slashes.
pub fn server_url(raw: Raw) -> Result<String, Error> {
    let url = string("serverUrl", raw)?.ok_or(Error::MissingServerUrl)?;
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(host)
            if !host.is_empty()
                && !host.starts_with('/')
                && !url.chars().any(|c| c.is_whitespace()) =>
        {
            Ok(url.trim_end_matches('/').into())
        }
        _ => Err(Error::BadServerUrl(url)),
    }
}

/// A loose BCP 47 check: letters, digits and `-`, starting with 2–3 letters.
pub fn locale(s: &str) -> Result<String, Error> {
    // byte scan (no str patterns): parts between `-` non-empty and alphanumeric, the first 2–3 letters
    let b = s.as_bytes();
    let mut ok = b.len() <= 35;
    let (mut start, mut first) = (0, true);
    for i in 0..=b.len() {
        if i == b.len() || b[i] == b'-' {
            let n = i - start;
            ok &= n > 0
                && (!first
                    || ((2..=3).contains(&n)
                        && b[start..i].iter().all(|c| c.is_ascii_alphabetic())));
            first = false;
            start = i + 1;
        } else {
            ok &= b[i].is_ascii_alphanumeric();
        }
    }
    if ok {
        Ok(s.into())
    } else {
        Err(Error::BadLocale(s.into()))
    }
}

/// Validates everything. `inline` says whether `element` was given.
pub fn parse(raw: RawOptions, inline: bool) -> Result<Options, Error> {
    let server_url = server_url(raw.server_url)?;
    let bot = string("bot", raw.bot)?;
    let show_launcher = boolean("showLauncher", raw.show_launcher, !inline)?;
    let open_on_load = boolean("openOnLoad", raw.open_on_load, inline)?;
    let auth_token = string("authToken", raw.auth_token)?;
    let locale = match string("locale", raw.locale)? {
        Some(l) => locale(&l)?,
        None => "en".into(),
    };
    let persistence = match string("persistence", raw.persistence)? {
        Some(p) => Persistence::parse(&p)?,
        None => Persistence::Local,
    };
    let handler_timeout_ms = match raw.handler_timeout_ms {
        Raw::Absent => DEFAULT_HANDLER_TIMEOUT_MS,
        Raw::Num(n) if (1.0..=2_147_483_647.0).contains(&n) && n == (n as u32) as f64 => n as u32,
        _ => return Err(Error::BadTimeout),
    };
    let mut strings = Strings::default();
    for (k, v) in raw.strings {
        strings.set(&k, if let Raw::Str(s) = v { Some(s) } else { None })?;
    }
    strings.set_locale(&locale);
    let mut theme = Vec::new();
    for (k, v) in raw.theme {
        theme.push(theme::property(
            &k,
            if let Raw::Str(s) = &v {
                Some(s.as_str())
            } else {
                None
            },
        )?);
    }
    Ok(Options {
        server_url,
        bot,
        show_launcher,
        open_on_load,
        auth_token,
        locale,
        persistence,
        handler_timeout_ms,
        strings,
        theme,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> RawOptions {
        RawOptions {
            server_url: Raw::Str("https://chat.example.com/".into()),
            ..Default::default()
        }
    }

    #[test]
    fn minimal_options_get_defaults() {
        let o = parse(base(), false).unwrap();
        assert_eq!(o.server_url, "https://chat.example.com");
        assert!(o.show_launcher && !o.open_on_load);
        assert_eq!(o.handler_timeout_ms, 10_000);
        assert_eq!(o.persistence, Persistence::Local);
        assert_eq!(o.locale, "en");
        let inline = parse(base(), true).unwrap();
        assert!(
            !inline.show_launcher && inline.open_on_load,
            "an inline widget opens at once"
        );
    }

    #[test]
    fn server_url_is_required_and_checked() {
        let e = parse(RawOptions::default(), false).unwrap_err();
        assert_eq!(e, Error::MissingServerUrl);
        assert!(e.to_string().contains("serverUrl is required"));
        for bad in [
            "chat.example.com",
            "ftp://x",
            "https://",
            "https:///x",
            "javascript:alert(1)",
            "http://a b",
        ] {
            let o = RawOptions {
                server_url: Raw::Str(bad.into()),
                ..Default::default()
            };
            assert!(
                matches!(parse(o, false), Err(Error::BadServerUrl(_))),
                "{bad} accepted"
            );
        }
        let o = RawOptions {
            server_url: Raw::Num(1.0),
            ..Default::default()
        };
        assert_eq!(
            parse(o, false).unwrap_err().to_string(),
            "loadChat: options.serverUrl must be a string, not number"
        );
    }

    #[test]
    fn typed_options_reject_wrong_types() {
        let o = RawOptions {
            show_launcher: Raw::Str("yes".into()),
            ..base()
        };
        assert!(parse(o, false)
            .unwrap_err()
            .to_string()
            .contains("showLauncher must be true or false, not string"));
        for t in [0.0, -5.0, 1.5, f64::NAN, f64::INFINITY, 3e9] {
            let o = RawOptions {
                handler_timeout_ms: Raw::Num(t),
                ..base()
            };
            assert_eq!(parse(o, false).unwrap_err(), Error::BadTimeout, "{t}");
        }
        let o = RawOptions {
            handler_timeout_ms: Raw::Num(250.0),
            ..base()
        };
        assert_eq!(parse(o, false).unwrap().handler_timeout_ms, 250);
        let o = RawOptions {
            persistence: Raw::Str("disk".into()),
            ..base()
        };
        assert!(parse(o, false)
            .unwrap_err()
            .to_string()
            .contains("\"session\""));
    }

    #[test]
    fn locale_strings_and_theme() {
        assert!(locale("pt-BR").is_ok() && locale("en").is_ok());
        assert!(locale("english!").is_err() && locale("e").is_err() && locale("en-").is_err());
        let o = RawOptions {
            strings: vec![("title".into(), Raw::Str("Hi".into()))],
            theme: vec![("primaryColor".into(), Raw::Str("rebeccapurple".into()))],
            ..base()
        };
        let o = parse(o, false).unwrap();
        assert_eq!(o.strings.get("title"), "Hi");
        assert_eq!(
            o.theme,
            vec![("--natter-primary", "rebeccapurple".to_string())]
        );
        let bad = RawOptions {
            theme: vec![("primaryColor".into(), Raw::Num(1.0))],
            ..base()
        };
        assert!(parse(bad, false).is_err());
    }
}

impl Error {
    /// The same text as `Display`, built without `core::fmt`.
    pub fn msg(&self) -> String {
        let l = "loadChat: ";
        match self {
            Error::NotAnObject => "loadChat: options must be an object like {serverUrl: \"https://chat.example.com\", bot: \"acme\"}".into(),
            Error::MissingServerUrl => "loadChat: options.serverUrl is required: the http(s) URL of your Natter server, e.g. \"https://chat.example.com\"".into(),
            Error::BadServerUrl(u) => crate::cat(&["loadChat: options.serverUrl must be an absolute http:// or https:// URL, not \"", u, "\""]),
            Error::WrongType { option, expected, got } => crate::cat(&["loadChat: options.", option, " must be ", expected, ", not ", got]),
            Error::BadTimeout => "loadChat: options.handlerTimeoutMs must be a whole number of milliseconds from 1 to 2147483647".into(),
            Error::BadLocale(s) => crate::cat(&["loadChat: options.locale must be a language tag like \"en\" or \"pt-BR\", not \"", s, "\""]),
            Error::Persistence(e) => crate::cat(&[l, &e.msg()]),
            Error::Strings(e) => crate::cat(&[l, &e.msg()]),
            Error::Theme(e) => crate::cat(&[l, &e.msg()]),
            Error::ElementNotFound(s) => crate::cat(&["loadChat: options.element: no element matches the selector \"", s, "\"; pass an existing element or a selector that matches one"]),
            Error::BadElement => "loadChat: options.element must be an Element or a CSS selector string".into(),
            Error::BadOnLoad => "loadChat: options.onLoad must be a function".into(),
        }
    }
}
