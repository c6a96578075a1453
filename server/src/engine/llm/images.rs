//! The visitor's images for a model that accepts them (`[llm] accepts_images`): the raster
//! images of the user messages up to this run, newest first up to [`MAX_IMAGES`], as `data:`
//! URLs read from the blob backend (the model's server needs no access to Natter). Larger
//! images than [`MAX_IMAGE_BYTES`] are only named in the text, like every other file.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;
use natter_protocol::{Message, Role};

use crate::attachments::{blobs_for, items, sniff};
use crate::store::Store;

/// Images sent per turn (the most recent ones).
pub const MAX_IMAGES: usize = 4;
/// The largest image sent to the model.
pub const MAX_IMAGE_BYTES: u64 = 5 * 1024 * 1024;

/// Image URLs by user message id.
pub async fn for_turn(
    store: &Arc<dyn Store>,
    messages: &[Message],
    run_id: &str,
) -> HashMap<String, Vec<String>> {
    let mut wanted = Vec::new();
    for m in messages.iter().filter(|m| m.role == Role::User) {
        for f in items::files(m) {
            if sniff::is_raster_image(&f.mime) && f.size <= MAX_IMAGE_BYTES {
                wanted.push((m.id.clone(), f.id.clone(), f.mime.clone()));
            }
        }
        if m.run_id.as_deref() == Some(run_id) {
            break;
        }
    }
    let skip = wanted.len().saturating_sub(MAX_IMAGES);
    let blobs = blobs_for(store);
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for (message, file, mime) in wanted.into_iter().skip(skip) {
        let mut bytes = Vec::new();
        let mut n = 0;
        loop {
            match blobs.get(&file, n).await {
                Ok(Some(c)) => bytes.extend_from_slice(&c),
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(attachment = %file, error = %e, "llm: image not readable; named only");
                    bytes.clear();
                    break;
                }
            }
            n += 1;
        }
        if bytes.is_empty() {
            continue;
        }
        let url = format!(
            "data:{mime};base64,{}",
            base64::engine::general_purpose::STANDARD.encode(&bytes)
        );
        out.entry(message).or_default().push(url);
    }
    out
}
