//! The widget's event names (web-chat-events.txt): the 17 event types plus the `*` wildcard.
//!
//! Invariant: [`EventType::name`] and [`EventType::from_name`] are exact inverses, and
//! [`VALID_NAMES`] lists every name, so an "unknown event" error can tell the caller what to use.

use thiserror::Error;

/// One of the 17 events the widget emits.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum EventType {
    ChatReady,
    PreSend,
    Send,
    PreStreamDelta,
    PreReceive,
    Receive,
    PreRestartConversation,
    RestartConversation,
    PreThreadLoaded,
    ViewPreChange,
    ViewChange,
    ViewPropertiesPreChange,
    ViewPropertiesChange,
    UserDefinedResponse,
    CustomEvent,
    Feedback,
    AuthTokenNeeded,
}

/// Every event type, in the order of web-chat-events.txt.
pub const ALL: [EventType; 17] = [
    EventType::ChatReady,
    EventType::PreSend,
    EventType::Send,
    EventType::PreStreamDelta,
    EventType::PreReceive,
    EventType::Receive,
    EventType::PreRestartConversation,
    EventType::RestartConversation,
    EventType::PreThreadLoaded,
    EventType::ViewPreChange,
    EventType::ViewChange,
    EventType::ViewPropertiesPreChange,
    EventType::ViewPropertiesChange,
    EventType::UserDefinedResponse,
    EventType::CustomEvent,
    EventType::Feedback,
    EventType::AuthTokenNeeded,
];

/// The valid names, as shown in error messages.
pub const VALID_NAMES: &str =
    "chat:ready, pre:send, send, pre:stream:delta, pre:receive, receive, \
pre:restartConversation, restartConversation, pre:threadLoaded, view:pre:change, view:change, \
view:properties:pre:change, view:properties:change, userDefinedResponse, customEvent, feedback, \
authTokenNeeded, or \"*\" for every event";

impl EventType {
    /// The wire name, e.g. `"pre:send"`.
    pub const fn name(self) -> &'static str {
        match self {
            EventType::ChatReady => "chat:ready",
            EventType::PreSend => "pre:send",
            EventType::Send => "send",
            EventType::PreStreamDelta => "pre:stream:delta",
            EventType::PreReceive => "pre:receive",
            EventType::Receive => "receive",
            EventType::PreRestartConversation => "pre:restartConversation",
            EventType::RestartConversation => "restartConversation",
            EventType::PreThreadLoaded => "pre:threadLoaded",
            EventType::ViewPreChange => "view:pre:change",
            EventType::ViewChange => "view:change",
            EventType::ViewPropertiesPreChange => "view:properties:pre:change",
            EventType::ViewPropertiesChange => "view:properties:change",
            EventType::UserDefinedResponse => "userDefinedResponse",
            EventType::CustomEvent => "customEvent",
            EventType::Feedback => "feedback",
            EventType::AuthTokenNeeded => "authTokenNeeded",
        }
    }

    /// The event with that exact (case-sensitive) name.
    pub fn from_name(name: &str) -> Option<EventType> {
        ALL.iter().copied().find(|t| t.name() == name)
    }

    /// Index in [`ALL`] (stable; used for per-type tables).
    pub fn index(self) -> usize {
        self as usize
    }
}

/// What a listener subscribes to: one event type, or every event (`*`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Topic {
    One(EventType),
    Any,
}

impl Topic {
    /// Parses `"pre:send"` or `"*"`.
    pub fn parse(name: &str) -> Result<Topic, Error> {
        if name == "*" {
            return Ok(Topic::Any);
        }
        EventType::from_name(name)
            .map(Topic::One)
            .ok_or_else(|| Error::UnknownEvent(name.into()))
    }

    /// Whether a listener on this topic hears `ty`.
    pub fn hears(self, ty: EventType) -> bool {
        match self {
            Topic::Any => true,
            Topic::One(t) => t == ty,
        }
    }
}

/// Errors of this module.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum Error {
    #[error("unknown event name \"{0}\"; use one of: {VALID_NAMES}")]
    UnknownEvent(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_listed() {
        for t in ALL {
            assert_eq!(EventType::from_name(t.name()), Some(t));
            assert!(
                VALID_NAMES.contains(t.name()),
                "{} missing from VALID_NAMES",
                t.name()
            );
            assert_eq!(ALL[t.index()], t);
        }
    }

    #[test]
    fn parse_wildcard_and_unknown() {
        assert_eq!(Topic::parse("*"), Ok(Topic::Any));
        assert_eq!(Topic::parse("send"), Ok(Topic::One(EventType::Send)));
        let e = Topic::parse("pre:sned").unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("\"pre:sned\""), "{msg}");
        assert!(
            msg.contains("pre:send") && msg.contains("authTokenNeeded"),
            "{msg}"
        );
        assert!(Topic::parse("Send").is_err(), "names are case-sensitive");
    }

    #[test]
    fn wildcard_hears_everything() {
        assert!(Topic::Any.hears(EventType::Feedback));
        assert!(Topic::One(EventType::Send).hears(EventType::Send));
        assert!(!Topic::One(EventType::Send).hears(EventType::PreSend));
    }
}

impl Error {
    /// The same text as `Display`, built without `core::fmt`.
    pub fn msg(&self) -> String {
        match self {
            Error::UnknownEvent(n) => {
                crate::cat(&["unknown event name \"", n, "\"; use one of: ", VALID_NAMES])
            }
        }
    }
}
