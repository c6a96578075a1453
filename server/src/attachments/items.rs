//! Attachments inside messages: the `file` content items a message carries, and the form
//! others are given them in (Python actions and handlers, the CRM's `widgetMessage`): name,
//! type, size and a signed URL valid for [`super::SIGNED_URL_TTL`].

use natter_protocol::{response_type, ContentItem, FileRef, Message};
use serde_json::{json, Value};

use super::sign;
use crate::store::attachments::Attachment;

pub fn file_ref(a: &Attachment) -> FileRef {
    FileRef {
        id: a.id.clone(),
        name: a.name.clone(),
        mime: a.mime.clone(),
        size: a.size,
        url: sign::path(&a.thread_id, &a.id),
    }
}

/// The content items of a message's files, after its text item(s): ids `f0`, `f1`, ….
pub fn items(files: &[Attachment]) -> Vec<ContentItem> {
    files
        .iter()
        .enumerate()
        .map(|(i, a)| ContentItem {
            id: format!("f{i}"),
            response_type: response_type::FILE.into(),
            file: Some(file_ref(a)),
            ..Default::default()
        })
        .collect()
}

/// The files of a message, in order.
pub fn files(m: &Message) -> impl Iterator<Item = &FileRef> {
    m.content
        .iter()
        .filter(|c| c.response_type == response_type::FILE)
        .filter_map(|c| c.file.as_ref())
}

/// One file as code outside the thread sees it: `{id, name, type, size, url}` with a signed
/// URL (a path under this server).
pub fn signed_json(thread_id: &str, f: &FileRef) -> Value {
    json!({
        "id": f.id,
        "name": f.name,
        "type": f.mime,
        "size": f.size,
        "url": sign::signed_path(thread_id, &f.id, super::SIGNED_URL_TTL),
    })
}

/// [`signed_json`] of every file of a message.
pub fn signed_list(thread_id: &str, m: &Message) -> Vec<Value> {
    files(m).map(|f| signed_json(thread_id, f)).collect()
}
