//! The view state machine: which of launcher / main window is visible, and whether the main
//! window is maximized, plus the reason each change carries.
//!
//! Invariants:
//! * every change is proposed first ([`Views::propose`] → a [`Change`] with old and new state),
//!   offered to `view:pre:change` handlers, and only then [`Views::apply`]-ed with whatever the
//!   handlers left — so a handler can rewrite or veto (new == current) any change;
//! * `apply` reports whether anything changed; `view:change` is fired only then;
//! * the reasons are tied to their causes: `chatLoaded` only for the first render,
//!   `launcherClicked` / `mainWindowMinimized` only for those clicks, `calledChangeView` only
//!   for `changeView()`.

use thiserror::Error;

/// Visibility of the two views.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct ViewState {
    pub launcher: bool,
    pub main_window: bool,
}

/// Why the view changes (web-chat-events.txt `reason`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Reason {
    LauncherClicked,
    ChatLoaded,
    CalledChangeView,
    MainWindowMinimized,
}

impl Reason {
    pub const fn name(self) -> &'static str {
        match self {
            Reason::LauncherClicked => "launcherClicked",
            Reason::ChatLoaded => "chatLoaded",
            Reason::CalledChangeView => "calledChangeView",
            Reason::MainWindowMinimized => "mainWindowMinimized",
        }
    }
}

/// What caused a proposed change.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Cause {
    /// First render.
    Loaded,
    LauncherClicked,
    MinimizeClicked,
    /// `changeView(...)`; fields left `None` keep their current value.
    Called {
        launcher: Option<bool>,
        main_window: Option<bool>,
    },
}

/// A proposed change, as offered to `view:pre:change`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Change {
    pub reason: Reason,
    pub old: ViewState,
    pub new: ViewState,
}

/// The `changeView` argument, parsed.
pub fn parse_view_name(name: &str) -> Result<Cause, Error> {
    match name {
        "launcher" => Ok(Cause::Called {
            launcher: Some(true),
            main_window: Some(false),
        }),
        "mainWindow" => Ok(Cause::Called {
            launcher: Some(false),
            main_window: Some(true),
        }),
        other => Err(Error::UnknownView(other.into())),
    }
}

/// Errors of this module.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum Error {
    #[error("changeView: unknown view \"{0}\"; use \"launcher\", \"mainWindow\" or {{launcher: boolean, mainWindow: boolean}}")]
    UnknownView(String),
    #[error("changeView: expected \"launcher\", \"mainWindow\" or {{launcher?: boolean, mainWindow?: boolean}}")]
    BadViewArgument,
    #[error("changeViewProperties: expected {{maximized: boolean}}")]
    BadProperties,
}

/// The widget's view state.
#[derive(Clone, Debug)]
pub struct Views {
    state: ViewState,
    maximized: bool,
    show_launcher: bool,
    open_on_load: bool,
}

impl Views {
    /// Before render nothing is visible.
    pub fn new(show_launcher: bool, open_on_load: bool) -> Views {
        Views {
            state: ViewState::default(),
            maximized: false,
            show_launcher,
            open_on_load,
        }
    }

    pub fn state(&self) -> ViewState {
        self.state
    }

    pub fn maximized(&self) -> bool {
        self.maximized
    }

    /// The change a cause proposes from the current state.
    pub fn propose(&self, cause: Cause) -> Change {
        let old = self.state;
        let (reason, new) = match cause {
            Cause::Loaded => (
                Reason::ChatLoaded,
                ViewState {
                    launcher: self.show_launcher && !self.open_on_load,
                    main_window: self.open_on_load,
                },
            ),
            Cause::LauncherClicked => (
                Reason::LauncherClicked,
                ViewState {
                    launcher: false,
                    main_window: true,
                },
            ),
            Cause::MinimizeClicked => (
                Reason::MainWindowMinimized,
                ViewState {
                    launcher: self.show_launcher,
                    main_window: false,
                },
            ),
            Cause::Called {
                launcher,
                main_window,
            } => (
                Reason::CalledChangeView,
                ViewState {
                    launcher: launcher.unwrap_or(old.launcher),
                    main_window: main_window.unwrap_or(old.main_window),
                },
            ),
        };
        Change { reason, old, new }
    }

    /// Applies the state the handlers left; returns the previous state if it changed.
    pub fn apply(&mut self, new: ViewState) -> Option<ViewState> {
        if new == self.state {
            return None;
        }
        let old = self.state;
        self.state = new;
        Some(old)
    }

    /// Applies `maximized`; returns whether it changed.
    pub fn apply_maximized(&mut self, maximized: bool) -> bool {
        let changed = self.maximized != maximized;
        self.maximized = maximized;
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAUNCHER: ViewState = ViewState {
        launcher: true,
        main_window: false,
    };
    const WINDOW: ViewState = ViewState {
        launcher: false,
        main_window: true,
    };
    const NONE: ViewState = ViewState {
        launcher: false,
        main_window: false,
    };

    #[test]
    fn load_shows_launcher_or_window_per_options() {
        let v = Views::new(true, false);
        assert_eq!(
            v.propose(Cause::Loaded),
            Change {
                reason: Reason::ChatLoaded,
                old: NONE,
                new: LAUNCHER
            }
        );
        let v = Views::new(true, true);
        assert_eq!(v.propose(Cause::Loaded).new, WINDOW);
        let v = Views::new(false, false);
        assert_eq!(v.propose(Cause::Loaded).new, NONE);
    }

    #[test]
    fn clicks_carry_their_reasons() {
        let mut v = Views::new(true, false);
        v.apply(LAUNCHER);
        let c = v.propose(Cause::LauncherClicked);
        assert_eq!(
            (c.reason, c.old, c.new),
            (Reason::LauncherClicked, LAUNCHER, WINDOW)
        );
        v.apply(c.new);
        let c = v.propose(Cause::MinimizeClicked);
        assert_eq!((c.reason, c.new), (Reason::MainWindowMinimized, LAUNCHER));
        // without a launcher, minimizing hides everything
        let mut v = Views::new(false, true);
        v.apply(WINDOW);
        assert_eq!(v.propose(Cause::MinimizeClicked).new, NONE);
    }

    #[test]
    fn change_view_by_name_and_partial_object() {
        let mut v = Views::new(true, false);
        v.apply(LAUNCHER);
        let c = v.propose(parse_view_name("mainWindow").unwrap());
        assert_eq!((c.reason, c.new), (Reason::CalledChangeView, WINDOW));
        let c = v.propose(Cause::Called {
            launcher: None,
            main_window: Some(true),
        });
        assert_eq!(
            c.new,
            ViewState {
                launcher: true,
                main_window: true
            },
            "unset fields keep their value"
        );
        assert_eq!(
            parse_view_name("window"),
            Err(Error::UnknownView("window".into()))
        );
        assert!(Error::UnknownView("x".into())
            .to_string()
            .contains("\"mainWindow\""));
    }

    #[test]
    fn apply_reports_changes_only() {
        let mut v = Views::new(true, false);
        assert_eq!(v.apply(LAUNCHER), Some(NONE));
        assert_eq!(
            v.apply(LAUNCHER),
            None,
            "a vetoed change (new == current) changes nothing"
        );
        assert_eq!(v.state(), LAUNCHER);
        assert!(v.apply_maximized(true));
        assert!(!v.apply_maximized(true));
        assert!(v.maximized());
    }
}

impl Error {
    /// The same text as `Display`, built without `core::fmt`.
    pub fn msg(&self) -> String {
        match self {
            Error::UnknownView(v) => crate::cat(&["changeView: unknown view \"", v, "\"; use \"launcher\", \"mainWindow\" or {launcher: boolean, mainWindow: boolean}"]),
            Error::BadViewArgument => "changeView: expected \"launcher\", \"mainWindow\" or {launcher?: boolean, mainWindow?: boolean}".into(),
            Error::BadProperties => "changeViewProperties: expected {maximized: boolean}".into(),
        }
    }
}
