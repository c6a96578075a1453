//! Files in conversations: visitors and agents upload images and documents to a thread, messages
//! name them, and everyone who may read the thread may download them.
//!
//! - [`sniff`]: the type of a file from its bytes (never its name or the client's claim).
//! - [`upload`]: one upload streamed into [`blobs`] chunk by chunk, checked against the bot's
//!   [`AttachmentsConfig`] as it arrives; nothing of it is visible until it is whole.
//! - [`blobs`]: where the bytes live: the store's chunk table, or [`s3`], an S3-compatible
//!   object store.
//! - [`sign`]: short-lived download URLs for the CRM and Python code.
//! - [`retention`]: the sweep that deletes files of conversations closed long enough ago,
//!   and uploads left pending by a crash.
//! - [`items`]: the `file` content items of messages, and what actions, handlers, the CRM and
//!   the LLM agent are given of them.
//!
//! The HTTP endpoints are in `crate::http::attachments`; the rows in
//! [`crate::store::attachments`].

pub mod blobs;
pub mod items;
pub mod retention;
pub mod s3;
pub mod sign;
pub mod sniff;
pub mod upload;

use std::sync::Arc;

use serde::Deserialize;

use crate::store::{Store, StoreError};

/// Bytes per stored chunk: the most an upload or a download holds at once per file.
pub const CHUNK: usize = 256 * 1024;

/// Files one message may name.
pub const MAX_PER_MESSAGE: usize = 10;

/// How long the signed URLs given to actions, handlers and the CRM are valid.
pub const SIGNED_URL_TTL: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// How long the URLs visitors are given (upload answers, history, the event stream) stay valid
/// at least: a page session.
pub const VISITOR_URL_TTL: std::time::Duration = std::time::Duration::from_secs(12 * 3600);

/// The longest file name kept (characters).
pub const MAX_NAME_CHARS: usize = 255;

/// A bot's `[attachments]` table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AttachmentsConfig {
    /// Visitors and agents may send files (default `true`).
    pub enabled: bool,
    /// The largest file, in bytes (default 10 MiB).
    pub max_file_bytes: u64,
    /// All files of one conversation together, in bytes (default 50 MiB).
    pub max_conversation_bytes: u64,
    /// The types accepted, as sniffed from the content (default: PNG, JPEG, GIF, WebP, PDF,
    /// plain text and the office documents).
    pub types: Vec<String>,
    /// Delete a conversation's files this long after it was closed (its messages keep naming
    /// them; downloads then answer 404). `None` (default): files stay as long as the
    /// conversation.
    pub keep_after_close_secs: Option<u64>,
}

impl Default for AttachmentsConfig {
    fn default() -> Self {
        use sniff::*;
        AttachmentsConfig {
            enabled: true,
            max_file_bytes: 10 * 1024 * 1024,
            max_conversation_bytes: 50 * 1024 * 1024,
            types: [
                PNG, JPEG, GIF, WEBP, PDF, TEXT, DOCX, XLSX, PPTX, ODT, ODS, ODP,
            ]
            .iter()
            .map(|t| t.to_string())
            .collect(),
            keep_after_close_secs: None,
        }
    }
}

impl AttachmentsConfig {
    /// Why the table is refused at load time.
    pub fn check(&self) -> Result<(), String> {
        if self.max_file_bytes == 0 {
            return Err("attachments.max_file_bytes must be at least 1".into());
        }
        if self.max_conversation_bytes < self.max_file_bytes {
            return Err(
                "attachments.max_conversation_bytes must be at least max_file_bytes".into(),
            );
        }
        if let Some(t) = self
            .types
            .iter()
            .find(|t| !sniff::KNOWN.contains(&t.as_str()))
        {
            return Err(format!(
                "attachments.types: `{t}` is not a type Natter recognizes ({})",
                sniff::KNOWN.join(", ")
            ));
        }
        Ok(())
    }

    /// What the widget is told (thread creation and history): `None` when the bot takes no
    /// files, so the widget shows no attach control.
    pub fn info(&self) -> Option<natter_protocol::AttachmentsInfo> {
        self.enabled.then(|| natter_protocol::AttachmentsInfo {
            max_file_bytes: self.max_file_bytes,
            types: self.types.clone(),
        })
    }

    pub fn accepts(&self, mime: &str) -> bool {
        self.types.iter().any(|t| t == mime)
    }
}

/// Why an upload or a reference to a file was refused.
#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    #[error("this bot does not accept files")]
    Disabled,
    #[error("{0}")]
    BadName(String),
    #[error("clientId must be 1–128 printable characters")]
    BadClientId,
    #[error("the file is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("the conversation's files would pass {limit} bytes ({used} bytes already stored)")]
    QuotaExceeded { limit: u64, used: u64 },
    #[error("files of type {found} are not accepted here (accepted: {accepted})")]
    Type {
        found: &'static str,
        accepted: String,
    },
    #[error("the file is empty")]
    Empty,
    #[error("the upload was cut before its end; nothing was stored")]
    Cut,
    #[error("no such attachment in this thread: {0}")]
    Unknown(String),
    #[error("a message names at most {MAX_PER_MESSAGE} attachments")]
    TooMany,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The blob backend of `store`'s attachments: the object store set at open, else the store's
/// chunk table.
pub fn blobs_for(store: &Arc<dyn Store>) -> Arc<dyn blobs::Blobs> {
    store
        .object_blobs()
        .unwrap_or_else(|| Arc::new(blobs::StoreBlobs(store.clone())))
}

/// Checks a file name: 1–[`MAX_NAME_CHARS`] characters, no path separator, no control
/// character, not `.` or `..`.
pub fn check_name(name: &str) -> Result<(), AttachError> {
    let n = name.chars().count();
    if n == 0 || n > MAX_NAME_CHARS {
        return Err(AttachError::BadName(format!(
            "name must be 1–{MAX_NAME_CHARS} characters"
        )));
    }
    if name.contains(['/', '\\']) || name == "." || name == ".." {
        return Err(AttachError::BadName(
            "name must be a file name without a path (no / or \\)".into(),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(AttachError::BadName(
            "name must not contain control characters".into(),
        ));
    }
    Ok(())
}

/// Checks an upload's client id (the same rule as a message's `clientMessageId`).
pub fn check_client_id(id: &str) -> Result<(), AttachError> {
    let n = id.chars().count();
    if n == 0 || n > 128 || id.chars().any(char::is_control) {
        return Err(AttachError::BadClientId);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check_name("photo of parcel.jpg").is_ok());
        assert!(check_name("résumé.pdf").is_ok());
        for bad in [
            "",
            "a/b.png",
            "..\\x",
            "..",
            "a\u{0}b",
            "tab\there",
            "new\nline",
        ] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_name(&"x".repeat(256)).is_err());
    }

    #[test]
    fn config_checks() {
        assert!(AttachmentsConfig::default().check().is_ok());
        let bad = AttachmentsConfig {
            types: vec!["image/bmp".into()],
            ..Default::default()
        };
        assert!(bad.check().unwrap_err().contains("image/bmp"));
    }
}
