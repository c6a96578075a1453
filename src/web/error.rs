//! The shell's error enum and its single conversion into a JS exception: misuse by the
//! caller becomes a `TypeError`, anything else an `Error`. Every message names the method and
//! says what to pass instead.

use crate::{events, options, thread, view};
use thiserror::Error;
use wasm_bindgen::JsValue;

#[derive(Debug, Error)]
pub enum Error {
    #[error(transparent)]
    Options(#[from] options::Error),
    #[error("{0}: {1}")]
    Event(&'static str, events::Error),
    #[error(transparent)]
    View(#[from] view::Error),
    #[error(transparent)]
    Thread(#[from] thread::Error),
    #[error("{method}: the handler for \"{event}\" must be a function, not {got}")]
    NotAFunction {
        method: &'static str,
        event: String,
        got: String,
    },
    #[error("{0}: expected (type, handler), {{type, handler}} or an array of those")]
    BadRegistration(&'static str),
    #[error("send: the message must be a string, not blank unless attachments are given")]
    BadText,
    #[error(
        "send: the second argument must be {{silent?: boolean, label?: string, context?: object, attachments?: array}}"
    )]
    BadSendOptions,
    #[error("updateAuthToken: the token must be a string or null")]
    BadToken,
    #[error("updateLocale: the locale must be a language tag like \"en\" or \"pt-BR\"")]
    BadLocale,
    #[error("{0}: this chat was destroyed; call loadChat() again for a new one")]
    Destroyed(&'static str),
    #[error("render: there is no document to render into")]
    NoDocument,
}

impl From<Error> for JsValue {
    fn from(e: Error) -> JsValue {
        let msg = e.msg();
        match e {
            Error::Destroyed(_) | Error::NoDocument => js_sys::Error::new(&msg).into(),
            _ => js_sys::TypeError::new(&msg).into(),
        }
    }
}

pub type Result<T> = core::result::Result<T, Error>;

impl Error {
    /// The same text as `Display`, built without `core::fmt`.
    pub fn msg(&self) -> String {
        match self {
            Error::Options(e) => e.msg(),
            Error::Event(m, e) => crate::cat(&[m, ": ", &e.msg()]),
            Error::View(e) => e.msg(),
            Error::Thread(e) => e.msg(),
            Error::NotAFunction { method, event, got } => crate::cat(&[
                method,
                ": the handler for \"",
                event,
                "\" must be a function, not ",
                got,
            ]),
            Error::BadRegistration(m) => crate::cat(&[
                m,
                ": expected (type, handler), {type, handler} or an array of those",
            ]),
            Error::BadText => {
                "send: the message must be a string, not blank unless attachments are given".into()
            }
            Error::BadSendOptions => {
                "send: the second argument must be {silent?: boolean, label?: string, context?: object, attachments?: array}"
                    .into()
            }
            Error::BadToken => "updateAuthToken: the token must be a string or null".into(),
            Error::BadLocale => {
                "updateLocale: the locale must be a language tag like \"en\" or \"pt-BR\"".into()
            }
            Error::Destroyed(m) => crate::cat(&[
                m,
                ": this chat was destroyed; call loadChat() again for a new one",
            ]),
            Error::NoDocument => "render: there is no document to render into".into(),
        }
    }
}
