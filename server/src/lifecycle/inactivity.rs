//! Closes conversations left idle longer than their bot's `[lifecycle]
//! inactivity_timeout_secs` (`thread.closed` by `automation`, which fires the
//! `conversation_closed` handlers like any close). One task per server; ends on shutdown.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{ClosedBy, Lifecycle};

/// Conversations closed per bot per sweep (the rest wait for the next sweep).
const BATCH: u32 = 500;

/// Sweeps every `every` until `cancel` fires. Returns at once when no bot has a timeout.
pub async fn run(lc: Arc<Lifecycle>, every: Duration, cancel: CancellationToken) {
    let bots = lc.bots.with(|b| b.lifecycle.inactivity_timeout());
    if bots.is_empty() {
        return;
    }
    super::every(every, &cancel, || async {
        for (bot, timeout) in &bots {
            sweep(&lc, bot, *timeout).await;
        }
    })
    .await
}

async fn sweep(lc: &Lifecycle, bot: &str, timeout: Duration) {
    let before = crate::time::rfc3339_ago(timeout);
    let ids = match lc.store.idle_threads(bot, &before, BATCH).await {
        Ok(ids) => ids,
        Err(e) => {
            tracing::error!(bot, error = %e, "inactivity sweep failed");
            return;
        }
    };
    for id in ids {
        match lc
            .close(&id, ClosedBy::Automation, Some("inactivity".into()))
            .await
        {
            Ok(true) => tracing::info!(bot, thread = %id, "closed after inactivity"),
            Ok(false) => {}
            Err(e) => tracing::warn!(bot, thread = %id, error = %e, "inactivity close failed"),
        }
    }
}
