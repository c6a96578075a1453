//! The crate's one error type.
//!
//! Failures of the bot owner's code (exceptions, timeouts, ...) are NOT errors of this type:
//! they are data, reported in [`crate::RunOutcome`]. `Error` is for the runtime itself
//! (interpreter missing, spawn failed) and for [`crate::Host`] implementations, whose errors
//! travel back into Python as exceptions.

/// Everything that can go wrong in the runtime or in a [`crate::Host`] call.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The python3 interpreter could not be found or probed.
    #[error("python interpreter: {0}")]
    Interpreter(String),
    /// The bot folder is missing or not a directory.
    #[error("bot folder {0}: {1}")]
    BotDir(String, String),
    /// The script path is absolute, escapes the bot folder, or names no file.
    #[error("script {0}: {1}")]
    Script(String, String),
    /// A python worker process could not be started or did not become ready.
    #[error("starting a python worker: {0}")]
    Spawn(String),
    /// The runtime was shut down.
    #[error("the python runtime is shut down")]
    ShutDown,
    /// A helper was called with an argument that breaks its rules (raised as `ValueError`).
    #[error("{0}")]
    InvalidArgument(String),
    /// The helper needs a conversation and the run has none (a "Run Test" without one).
    #[error("this run has no conversation (a test run without a conversation id)")]
    NoConversation,
    /// The host (the server's store, LLM, ...) failed; the message is shown to the bot owner.
    #[error("{0}")]
    Host(String),
    /// Google Sheets: bad credentials, token endpoint or API refused.
    #[error("google sheets: {0}")]
    Sheets(String),
    /// A message on the private channel (a result, a helper call) exceeded the limit.
    #[error("larger than {0} bytes")]
    TooLarge(usize),
    /// I/O on the runtime's own files or pipes.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}
