//! `context["conversation"]` for Python code, built from the
//! store: the thread and its history. Holds nothing secret (no owner `sub`, no agent state).

use natter_protocol::{Message, Role};
use natter_python_runtime::{Conversation, Message as PyMessage};
use serde_json::{json, Map, Value};

use crate::store::{Result, Store, Thread};

fn sender(role: Role) -> &'static str {
    match role {
        Role::User => "customer",
        Role::Assistant => "bot",
        Role::Agent => "agent",
    }
}

fn text(m: &Message) -> String {
    m.content
        .iter()
        .filter_map(|c| c.text.as_deref())
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The conversation as the seed describes it: id, publicId, subject, businessSlug, channel,
/// messages (sender, timestamp, content, channel, and the files sent with each), plus status,
/// tags and metadata. A conversation has one channel, so each message carries the
/// conversation's.
pub async fn conversation(store: &dyn Store, thread: &Thread) -> Result<Conversation> {
    let (messages, _) = store.history(&thread.id).await?;
    let messages = messages
        .iter()
        .map(|m| PyMessage {
            sender: sender(m.role).into(),
            timestamp: m.created_at.clone(),
            content: text(m),
            channel: thread.channel.clone(),
            attachments: crate::attachments::items::signed_list(&thread.id, m),
        })
        .collect();
    let mut extra = Map::new();
    extra.insert("status".into(), json!(thread.status.as_str()));
    extra.insert("tags".into(), json!(thread.tags));
    extra.insert("metadata".into(), Value::Object(thread.metadata.clone()));
    extra.insert("createdAt".into(), json!(thread.created_at));
    Ok(Conversation {
        id: thread.id.clone(),
        public_id: thread.public_id.clone(),
        subject: thread.subject.clone().unwrap_or_default(),
        business_slug: thread.bot.clone(),
        channel: thread.channel.clone(),
        messages,
        extra,
    })
}
