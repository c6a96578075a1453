//! The widget's UI strings (English defaults) and the `strings` option that overrides them.
//!
//! Invariant: every key has a default, so the UI never shows an empty label; an unknown key in
//! `strings` is an error that lists the valid keys. Keys starting with `attach` belong to the
//! attach module (js/attach.js, loaded only for bots that accept files), which holds their
//! defaults and checks them: here they only have to be strings.

use thiserror::Error;

/// Keys accepted by the `strings` option.
pub const KEYS: [&str; N] = [
    "title",
    "placeholder",
    "send",
    "launcher",
    "maximize",
    "minimize",
    "restart",
    "reconnecting",
    "typing",
    "feedbackPositive",
    "feedbackNegative",
    "feedbackTitle",
    "feedbackText",
    "feedbackSubmit",
    "feedbackThanks",
    "close",
    "handedOff",
    "agentJoined",
    "agentLeft",
    "closed",
    "sendFailed",
    "queueFull",
    "authFailed",
    "you",
    "bot",
    "agent",
];
const N: usize = 26;
const DEFAULTS: [&str; N] = [
    "Chat",
    "Type a message…",
    "Send",
    "Open chat",
    "Maximize",
    "Minimize",
    "Restart conversation",
    "Connection lost. Reconnecting…",
    "Typing…",
    "Helpful",
    "Not helpful",
    "Tell us more",
    "Anything else? (optional)",
    "Submit",
    "Thanks for your feedback!",
    "Close",
    "You're being connected to a person.",
    "An agent joined the conversation.",
    "The agent left the conversation.",
    "This conversation has ended.",
    "Not sent. Check the message and try again.",
    "Not sent: too many messages are waiting. Try again in a moment.",
    "Your session has ended. Sign in again to continue.",
    "You said",
    "Bot",
    "Agent",
];
/// French (`locale` `fr`, `fr-FR`, …).
const FR: [&str; N] = [
    "Discussion",
    "Écrivez un message…",
    "Envoyer",
    "Ouvrir la discussion",
    "Agrandir",
    "Réduire",
    "Recommencer la conversation",
    "Connexion perdue. Reconnexion…",
    "En train d'écrire…",
    "Utile",
    "Pas utile",
    "Dites-nous en plus",
    "Autre chose ? (facultatif)",
    "Envoyer",
    "Merci pour votre avis !",
    "Fermer",
    "Nous vous mettons en relation avec une personne.",
    "Un conseiller a rejoint la conversation.",
    "Le conseiller a quitté la conversation.",
    "Cette conversation est terminée.",
    "Non envoyé. Vérifiez le message et réessayez.",
    "Non envoyé : trop de messages en attente. Réessayez dans un instant.",
    "Votre session a pris fin. Reconnectez-vous pour continuer.",
    "Vous avez dit",
    "Bot",
    "Conseiller",
];

/// Resolved UI strings: the overrides, falling back to the locale's defaults (English, or
/// French for `fr*` locales).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Strings {
    overrides: [Option<String>; N],
    french: bool,
}

/// Errors of this module.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum Error {
    #[error("options.strings: unknown key \"{0}\"; use title, placeholder, send, launcher, maximize, minimize, restart, reconnecting, typing, feedbackPositive, feedbackNegative, feedbackTitle, feedbackText, feedbackSubmit, feedbackThanks, close, handedOff, agentJoined, agentLeft, closed, sendFailed, queueFull, authFailed, you, bot, agent or an attach… key of the attach module")]
    UnknownKey(String),
    #[error("options.strings.{0} must be a string")]
    NotAString(String),
}

impl Strings {
    /// Overrides one string.
    pub fn set(&mut self, key: &str, value: Option<String>) -> Result<(), Error> {
        let value = value.ok_or_else(|| Error::NotAString(key.into()))?;
        if key.starts_with("attach") {
            return Ok(());
        }
        let i = KEYS
            .iter()
            .position(|k| *k == key)
            .ok_or_else(|| Error::UnknownKey(key.into()))?;
        self.overrides[i] = Some(value);
        Ok(())
    }

    /// The string for `key` (one of [`KEYS`]); unknown keys give "".
    pub fn get(&self, key: &str) -> &str {
        KEYS.iter().position(|k| *k == key).map_or("", |i| {
            let table = if self.french { &FR } else { &DEFAULTS };
            self.overrides[i].as_deref().unwrap_or(table[i])
        })
    }

    /// Picks the default table for a locale (`fr…` → French, anything else → English).
    pub fn set_locale(&mut self, locale: &str) {
        let l = locale.as_bytes();
        self.french = l.len() >= 2
            && l[..2].eq_ignore_ascii_case(b"fr")
            && (l.len() == 2 || l[2] == b'-' || l[2] == b'_');
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
        // the attach module's keys: strings, checked by that module
        assert_eq!(s.set("attachLabel", Some("Joindre".into())), Ok(()));
        assert_eq!(
            s.set("attachLabel", None),
            Err(Error::NotAString("attachLabel".into()))
        );
        assert!(Error::UnknownKey("x".into())
            .to_string()
            .contains("placeholder"));
        for k in KEYS {
            assert!(!Strings::default().get(k).is_empty());
        }
        let mut f = Strings::default();
        f.set_locale("fr-CA");
        assert_eq!(f.get("send"), "Envoyer");
        for k in KEYS {
            assert!(!f.get(k).is_empty());
        }
        f.set("send", Some("Go".into())).unwrap();
        assert_eq!(f.get("send"), "Go", "overrides win over the locale");
        f.set_locale("fy");
        assert_eq!(f.get("typing"), "Typing…");
    }
}

impl Error {
    /// The same text as `Display`, built without `core::fmt`.
    pub fn msg(&self) -> String {
        match self {
            Error::UnknownKey(k) => crate::cat(&["options.strings: unknown key \"", k, "\"; use title, placeholder, send, launcher, maximize, minimize, restart, reconnecting, typing, feedbackPositive, feedbackNegative, feedbackTitle, feedbackText, feedbackSubmit, feedbackThanks, close, handedOff, agentJoined, agentLeft, closed, sendFailed, queueFull, authFailed, you, bot, agent or an attach… key of the attach module"]),
            Error::NotAString(k) => crate::cat(&["options.strings.", k, " must be a string"]),
        }
    }
}
