//! Chat webhook bodies, built when a job is enqueued (inside the store transaction), so
//! every retry sends the same bytes under the same `webhook-id`.

use natter_crm::wire::{
    BotMessage, Button, CarouselCard, ChatEvent, EndSession, Escalate, WidgetAttachment,
    WidgetMessage,
};
use natter_protocol::{response_type, ContentItem, Message};

use super::CrmBot;

/// `sendMessage` for a bot message on the CRM channel: its text, its buttons (`option`
/// items), its carousel cards.
pub fn send_message(crm: &CrmBot, pcid: &str, thread_id: &str, m: &Message) -> Vec<u8> {
    let text = join_text(&m.content);
    let mut buttons = Vec::new();
    let mut cards = Vec::new();
    for item in &m.content {
        if let Some(opts) = item
            .options
            .as_ref()
            .filter(|_| item.response_type == response_type::OPTION)
        {
            buttons.extend(opts.iter().map(|b| Button::new(b.label.clone())));
        }
        if let Some(cs) = item
            .cards
            .as_ref()
            .filter(|_| item.response_type == response_type::CAROUSEL)
        {
            cards.extend(cs.iter().map(|c| {
                CarouselCard {
                    title: c.title.clone(),
                    description: c.description.clone(),
                    image_url: c.image_url.clone(),
                    buttons: c
                        .buttons
                        .iter()
                        .map(|b| Button::new(b.label.clone()))
                        .collect(),
                }
            }));
        }
    }
    let msg = if cards.is_empty() {
        BotMessage::text(pcid, m.id.clone(), text).with_buttons(buttons)
    } else {
        BotMessage::carousel(pcid, m.id.clone(), text, cards)
    };
    let msg = msg
        .with_conversation_id(thread_id)
        .with_reply_id(m.id.clone());
    crm.crm.webhook(ChatEvent::SendMessage(msg)).to_body()
}

pub fn widget_escalate(crm: &CrmBot, thread_id: &str) -> Vec<u8> {
    crm.crm
        .webhook(ChatEvent::WidgetEscalate(Escalate::new(thread_id)))
        .to_body()
}

/// `widgetMessage` for a visitor message after a hand-off: its text and its files (each with
/// a signed download path, valid for [`crate::attachments::SIGNED_URL_TTL`] from when the
/// webhook is queued).
pub fn widget_message(crm: &CrmBot, thread_id: &str, message: &Message) -> Vec<u8> {
    let mut m = WidgetMessage::new(thread_id, join_text(&message.content));
    m.conversation_id = Some(thread_id.to_string());
    m.attachments = crate::attachments::items::files(message)
        .map(|f| WidgetAttachment {
            id: f.id.clone(),
            name: f.name.clone(),
            mime: f.mime.clone(),
            size: f.size,
            url: crate::attachments::sign::signed_path(
                thread_id,
                &f.id,
                crate::attachments::SIGNED_URL_TTL,
            ),
        })
        .collect();
    crm.crm.webhook(ChatEvent::WidgetMessage(m)).to_body()
}

pub fn widget_end_session(crm: &CrmBot, thread_id: &str) -> Vec<u8> {
    let e = EndSession {
        platform_conversation_id: thread_id.to_string(),
        conversation_id: None,
    };
    crm.crm.webhook(ChatEvent::WidgetEndSession(e)).to_body()
}

fn join_text(content: &[ContentItem]) -> String {
    content
        .iter()
        .filter_map(|c| c.text.as_deref())
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}
