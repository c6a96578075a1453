//! The attachments sweep: deletes the files (rows and bytes) of conversations closed longer
//! than their bot's `[attachments] keep_after_close_secs`, and uploads left pending longer than
//! [`STALE_UPLOAD`] (a crash or a lost connection before the upload could clean up). One task
//! per server; ends on shutdown. Deleting a file twice is harmless, so several instances may
//! sweep the same database.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::blobs::Blobs;
use crate::bots::BotRegistry;
use crate::store::Store;
use crate::time::rfc3339_ago;

/// A pending upload older than this is abandoned.
pub const STALE_UPLOAD: Duration = Duration::from_secs(3600);

/// Conversations purged per bot per sweep (the rest wait for the next sweep).
const BATCH: u32 = 200;

pub async fn run(
    store: Arc<dyn Store>,
    blobs: Arc<dyn Blobs>,
    bots: Arc<BotRegistry>,
    every: Duration,
    cancel: CancellationToken,
) {
    let keep = bots.with(|b| Some(Duration::from_secs(b.attachments.keep_after_close_secs?)));
    crate::lifecycle::every(every, &cancel, || sweep(&*store, &*blobs, &keep)).await
}

/// One pass: stale uploads, then each bot's closed conversations.
pub async fn sweep(store: &dyn Store, blobs: &dyn Blobs, keep: &[(String, Duration)]) {
    match store.stale_uploads(&rfc3339_ago(STALE_UPLOAD)).await {
        Ok(ids) => {
            for id in ids {
                let _ = blobs.delete(&id).await;
                let _ = store.attachment_discard(&id).await;
            }
        }
        Err(e) => tracing::error!(error = %e, "stale upload sweep failed"),
    }
    for (bot, after) in keep {
        let before = rfc3339_ago(*after);
        let threads = match store
            .closed_threads_with_attachments(bot, &before, BATCH)
            .await
        {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(bot, error = %e, "attachment retention sweep failed");
                continue;
            }
        };
        for thread in threads {
            match store.purge_attachments(&thread).await {
                Ok(ids) => {
                    for id in &ids {
                        if let Err(e) = blobs.delete(id).await {
                            tracing::warn!(attachment = %id, error = %e, "could not delete a file's bytes");
                        }
                    }
                    tracing::info!(bot, thread = %thread, files = ids.len(), "deleted the files of a closed conversation");
                }
                Err(e) => {
                    tracing::warn!(bot, thread = %thread, error = %e, "attachment purge failed")
                }
            }
        }
    }
}
