//! Deletes conversations closed longer than their bot's `[lifecycle] delete_after_close_secs`:
//! the thread with its messages, events, search entries and files (rows, and bytes in the
//! store or the object store). A conversation whose webhooks or event handlers have not run
//! yet (a pending outbox job) waits for them. One task per server; ends on shutdown. Several
//! instances may sweep one database: each due conversation is deleted by one of them (see
//! [`crate::store::retention`]).

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::attachments::blobs::Blobs;
use crate::bots::BotRegistry;
use crate::store::Store;
use crate::time::rfc3339_ago;

/// Conversations deleted per bot per sweep (the rest wait for the next sweep).
const BATCH: u32 = 200;

/// Sweeps every `every` until `cancel` fires. Returns at once when no bot deletes.
pub async fn run(
    store: Arc<dyn Store>,
    blobs: Arc<dyn Blobs>,
    bots: Arc<BotRegistry>,
    every: Duration,
    cancel: CancellationToken,
) {
    let keep = bots.with(|b| Some(Duration::from_secs(b.lifecycle.delete_after_close_secs?)));
    if keep.is_empty() {
        return;
    }
    super::every(every, &cancel, || async {
        for (bot, after) in &keep {
            sweep(&*store, &*blobs, bot, *after).await;
        }
    })
    .await
}

/// One pass over `bot`: deletes its conversations closed more than `after` ago. Returns how
/// many were deleted here.
pub async fn sweep(store: &dyn Store, blobs: &dyn Blobs, bot: &str, after: Duration) -> usize {
    let before = rfc3339_ago(after);
    let due = match store.conversations_due(bot, &before, BATCH).await {
        Ok(ids) => ids,
        Err(e) => {
            tracing::error!(bot, error = %e, "conversation retention sweep failed");
            return 0;
        }
    };
    let mut deleted = 0;
    for thread in due {
        match store.delete_conversation(&thread, &before, blobs).await {
            Ok(true) => {
                deleted += 1;
                tracing::info!(bot, thread = %thread, "deleted a conversation past its retention");
            }
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(bot, thread = %thread, error = %e, "conversation deletion failed; retrying next sweep")
            }
        }
    }
    deleted
}
