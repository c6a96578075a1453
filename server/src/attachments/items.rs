//! Attachments inside messages: the `file` content items a message carries, and the form
//! others are given them in (Python actions and handlers, the CRM's `widgetMessage`): name,
//! type, size and a signed URL valid for [`super::SIGNED_URL_TTL`].
//!
//! Stored messages and events name a file by its plain path. What a visitor is served (the
//! upload answer, history, the event stream) carries signed URLs instead, valid for
//! [`super::VISITOR_URL_TTL`]: a page shows an image with `<img src>`, which can send no
//! `Authorization` header, so a bot whose visitors authenticate with a token could not show
//! them otherwise.

use std::borrow::Cow;

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

/// The URL a visitor is given for a file of its thread.
pub fn visitor_url(thread_id: &str, attachment_id: &str) -> String {
    sign::signed_path_hourly(thread_id, attachment_id, super::VISITOR_URL_TTL)
}

/// [`file_ref`] with a [`visitor_url`].
pub fn visitor_file_ref(a: &Attachment) -> FileRef {
    FileRef {
        url: visitor_url(&a.thread_id, &a.id),
        ..file_ref(a)
    }
}

/// Gives every file item of `m` its [`visitor_url`].
pub fn sign_message(thread_id: &str, m: &mut Message) {
    for f in m.content.iter_mut().filter_map(|c| c.file.as_mut()) {
        f.url = visitor_url(thread_id, &f.id);
    }
}

/// An event's JSON as a visitor is served it: the URLs of the files it names (`file` objects
/// with an `id` and a `url`, wherever they are) signed by [`visitor_url`]. Events naming no
/// file (nearly all) are returned as they are, without parsing.
pub fn sign_event_json<'a>(thread_id: &str, json: &'a str) -> Cow<'a, str> {
    if !json.contains("\"file\"") {
        return Cow::Borrowed(json);
    }
    let Ok(mut v) = serde_json::from_str::<Value>(json) else {
        return Cow::Borrowed(json);
    };
    sign_files(thread_id, &mut v);
    Cow::Owned(v.to_string())
}

fn sign_files(thread_id: &str, v: &mut Value) {
    match v {
        Value::Object(o) => {
            if let Some(Value::Object(f)) = o.get_mut("file") {
                if let (Some(Value::String(id)), true) = (f.get("id"), f.contains_key("url")) {
                    let url = visitor_url(thread_id, id);
                    f.insert("url".into(), Value::String(url));
                }
            }
            o.values_mut().for_each(|x| sign_files(thread_id, x));
        }
        Value::Array(a) => a.iter_mut().for_each(|x| sign_files(thread_id, x)),
        _ => {}
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_naming_files_get_signed_urls_and_others_stay_as_they_are() {
        let plain = r#"{"type":"message.delta","data":{"text":"a \"file\" word"}}"#;
        assert_eq!(sign_event_json("thr_1", plain), plain);
        let ev = json!({"type": "message.completed", "data": {"message": {"content": [
            {"id": "f0", "responseType": "file",
             "file": {"id": "att_1", "name": "a.png", "type": "image/png", "size": 3,
                      "url": "/v1/threads/thr_1/attachments/att_1"}}]}}});
        let out: Value = serde_json::from_str(&sign_event_json("thr_1", &ev.to_string())).unwrap();
        let url = out["data"]["message"]["content"][0]["file"]["url"]
            .as_str()
            .unwrap();
        assert!(
            url.starts_with("/v1/threads/thr_1/attachments/att_1?exp="),
            "{url}"
        );
        assert_eq!(url, visitor_url("thr_1", "att_1"));
    }
}
