//! Natter chat widget: Rust compiled to WebAssembly.
//!
//! The crate is split in two on purpose:
//!
//! * a **pure core** with no `web-sys`/`js-sys` — [`events`] (the 17 event names), [`bus`]
//!   (listener registry: order, `once`, `*`, snapshot dispatch), [`dispatch`] (one dispatch
//!   after another per lane, async handlers, timeouts as state), [`view`] (launcher / main
//!   window / maximized state machine), [`options`], [`theme`], [`strings`], [`thread`]
//!   (thread id persistence) and [`conversation`] (the visitor's sends until acknowledged,
//!   the conversation's generation and loops, the replies streaming, the feedback given). It
//!   builds and is tested natively with `cargo test -p natter`; [`alloc`] is the small allocator the wasm build uses;
//! * a **thin browser shell** (`web`, wasm32 only) that turns JS values into core values,
//!   renders the DOM in a shadow root, calls handlers and raises JS `TypeError`s.
//!
//! Invariant: nothing in the core panics on user input; every bad input is an error value that
//! the shell turns into a JS exception exactly once, at the boundary.

pub mod alloc;
pub mod bus;
pub mod conversation;
pub mod dispatch;
pub mod events;
pub mod md;
pub mod options;
pub mod strings;
pub mod theme;
pub mod thread;
pub mod transport;
pub mod view;

#[cfg(target_arch = "wasm32")]
pub mod web;

#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOC: alloc::Natter = alloc::Natter::new();

/// Concatenates message pieces without `core::fmt` (keeps the formatting machinery out of the wasm).
pub fn cat(parts: &[&str]) -> String {
    let mut s = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        s.push_str(p);
    }
    s
}

#[cfg(test)]
mod msg_tests {
    use crate::{events, options, strings, theme, thread, view};

    #[test]
    fn msg_matches_display() {
        let s = || "x\"y".to_string();
        let th = || {
            vec![
                thread::Error::BadPersistence(s()),
                thread::Error::BadThreadId,
                thread::Error::OutboxFull,
            ]
        };
        let st = || {
            vec![
                strings::Error::UnknownKey(s()),
                strings::Error::NotAString(s()),
            ]
        };
        let tm = || vec![theme::Error::UnknownKey(s()), theme::Error::BadValue(s())];
        let vw = || {
            vec![
                view::Error::UnknownView(s()),
                view::Error::BadViewArgument,
                view::Error::BadProperties,
            ]
        };
        let mut o = vec![
            options::Error::NotAnObject,
            options::Error::MissingServerUrl,
            options::Error::BadServerUrl(s()),
            options::Error::WrongType {
                option: "bot",
                expected: "a string",
                got: s(),
            },
            options::Error::BadTimeout,
            options::Error::BadLocale(s()),
            options::Error::ElementNotFound(s()),
            options::Error::BadElement,
            options::Error::BadOnLoad,
        ];
        o.extend(th().into_iter().map(options::Error::Persistence));
        o.extend(st().into_iter().map(options::Error::Strings));
        o.extend(tm().into_iter().map(options::Error::Theme));
        for e in th() {
            assert_eq!(e.msg(), e.to_string());
        }
        for e in st() {
            assert_eq!(e.msg(), e.to_string());
        }
        for e in tm() {
            assert_eq!(e.msg(), e.to_string());
        }
        for e in vw() {
            assert_eq!(e.msg(), e.to_string());
        }
        let ev = events::Error::UnknownEvent(s());
        assert_eq!(ev.msg(), ev.to_string());
        for e in &o {
            assert_eq!(e.msg(), e.to_string());
        }
    }
}
