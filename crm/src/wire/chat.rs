//! The chat webhook: `{botId, channel, data: {eventType, ...}}`.
//!
//! `data` is discriminated by `eventType`. Optional ids (`conversationId`, `replyId`,
//! `escalateTo`, `teamId`) are left out when absent, as in the seed's examples; the arrays of a
//! message (`buttons`, `carouselCards`, `predictedIntents`) are always present, empty or not.

use serde::{Deserialize, Serialize};

use super::number::serialize_compact;

/// The value of `channel`; the template's DTO requires it and documents it as always `chat`.
pub const CHANNEL: &str = "chat";

pub(crate) fn channel() -> String {
    CHANNEL.to_string()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatWebhook {
    pub bot_id: String,
    #[serde(default = "channel")]
    pub channel: String,
    pub data: ChatEvent,
}

impl ChatWebhook {
    pub fn new(bot_id: impl Into<String>, data: ChatEvent) -> Self {
        ChatWebhook {
            bot_id: bot_id.into(),
            channel: channel(),
            data,
        }
    }
    /// The exact bytes to sign, store in the outbox and send (compact JSON).
    pub fn to_body(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("chat webhook serializes (no maps with non-string keys)")
    }
    /// The conversation this event belongs to: the per-conversation ordering key of the outbox.
    pub fn platform_conversation_id(&self) -> &str {
        self.data.platform_conversation_id()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "eventType")]
pub enum ChatEvent {
    /// A bot message for a visitor on the CRM's channel. Asynchronous (outbox).
    #[serde(rename = "sendMessage")]
    SendMessage(BotMessage),
    /// Escalation request; the CRM answers synchronously, 2xx = accepted.
    #[serde(rename = "escalate")]
    Escalate(Escalate),
    /// Agent availability; the CRM answers synchronously with [`TeamOnlineAnswer`].
    #[serde(rename = "isTeamOnline")]
    IsTeamOnline(TeamOnlineQuery),
    /// A widget visitor's message to the agent of a handed-off conversation. Asynchronous.
    #[serde(rename = "widgetMessage")]
    WidgetMessage(WidgetMessage),
    /// A widget visitor's conversation handed off to the CRM. Asynchronous.
    #[serde(rename = "widgetEscalate")]
    WidgetEscalate(Escalate),
    /// The widget visitor ended the handed-off conversation. Asynchronous.
    #[serde(rename = "widgetEndSession")]
    WidgetEndSession(EndSession),
}

impl ChatEvent {
    pub fn event_type(&self) -> &'static str {
        match self {
            ChatEvent::SendMessage(_) => "sendMessage",
            ChatEvent::Escalate(_) => "escalate",
            ChatEvent::IsTeamOnline(_) => "isTeamOnline",
            ChatEvent::WidgetMessage(_) => "widgetMessage",
            ChatEvent::WidgetEscalate(_) => "widgetEscalate",
            ChatEvent::WidgetEndSession(_) => "widgetEndSession",
        }
    }
    pub fn platform_conversation_id(&self) -> &str {
        match self {
            ChatEvent::SendMessage(m) => &m.platform_conversation_id,
            ChatEvent::Escalate(e) | ChatEvent::WidgetEscalate(e) => &e.platform_conversation_id,
            ChatEvent::IsTeamOnline(q) => &q.platform_conversation_id,
            ChatEvent::WidgetMessage(m) => &m.platform_conversation_id,
            ChatEvent::WidgetEndSession(e) => &e.platform_conversation_id,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageType {
    /// A text, with or without buttons.
    Text,
    Carousel,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ButtonType {
    Button,
    /// Allowed by the template's `AnswerOptionType`; the seed only shows `button`.
    Link,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Button {
    #[serde(rename = "type")]
    pub kind: ButtonType,
    pub text: String,
}

impl Button {
    pub fn new(text: impl Into<String>) -> Self {
        Button {
            kind: ButtonType::Button,
            text: text.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CarouselCard {
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    #[serde(default)]
    pub buttons: Vec<Button>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictedIntent {
    /// The intent's id.
    pub value: String,
    pub name: String,
    #[serde(serialize_with = "serialize_compact")]
    pub confidence: f64,
}

/// `sendMessage`'s data. Field order is the seed's, then the template's additions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BotMessage {
    pub platform_conversation_id: String,
    /// Natter's own conversation id ("can be ignored" by the CRM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
    #[serde(rename = "type")]
    pub kind: MessageType,
    /// Which configured reply (workflow step) produced this message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_id: Option<String>,
    #[serde(default)]
    pub buttons: Vec<Button>,
    /// Always present; empty for a carousel without text, as in the seed.
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub carousel_cards: Vec<CarouselCard>,
    #[serde(default)]
    pub predicted_intents: Vec<PredictedIntent>,
    /// Required by the template's DTO: confidence of the reply, 0..=1.
    #[serde(serialize_with = "serialize_compact", default)]
    pub confidence: f64,
    /// Required by the template's DTO: Natter's id of this message.
    #[serde(default)]
    pub message_id: String,
}

impl BotMessage {
    /// A text message with confidence 1 (a scripted reply); add buttons with
    /// [`BotMessage::with_buttons`].
    pub fn text(
        platform_conversation_id: impl Into<String>,
        message_id: impl Into<String>,
        text: impl Into<String>,
    ) -> Self {
        BotMessage {
            platform_conversation_id: platform_conversation_id.into(),
            conversation_id: None,
            kind: MessageType::Text,
            reply_id: None,
            buttons: Vec::new(),
            text: text.into(),
            carousel_cards: Vec::new(),
            predicted_intents: Vec::new(),
            confidence: 1.0,
            message_id: message_id.into(),
        }
    }
    /// A carousel; `text` may be empty.
    pub fn carousel(
        platform_conversation_id: impl Into<String>,
        message_id: impl Into<String>,
        text: impl Into<String>,
        cards: Vec<CarouselCard>,
    ) -> Self {
        let mut m = BotMessage::text(platform_conversation_id, message_id, text);
        m.kind = MessageType::Carousel;
        m.carousel_cards = cards;
        m
    }
    pub fn with_buttons(mut self, buttons: Vec<Button>) -> Self {
        self.buttons = buttons;
        self
    }
    pub fn with_conversation_id(mut self, id: impl Into<String>) -> Self {
        self.conversation_id = Some(id.into());
        self
    }
    pub fn with_reply_id(mut self, id: impl Into<String>) -> Self {
        self.reply_id = Some(id.into());
        self
    }
    pub fn with_predicted_intents(mut self, intents: Vec<PredictedIntent>) -> Self {
        self.predicted_intents = intents;
        self
    }
    /// Clamped into 0..=1; a NaN becomes 0 (JSON has no NaN).
    pub fn with_confidence(mut self, confidence: f64) -> Self {
        self.confidence = if confidence.is_nan() {
            0.0
        } else {
            confidence.clamp(0.0, 1.0)
        };
        self
    }
}

/// `escalate` and `widgetEscalate` data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Escalate {
    pub platform_conversation_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
    /// The CRM's team to escalate to, when the bot names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalate_to: Option<String>,
}

impl Escalate {
    pub fn new(platform_conversation_id: impl Into<String>) -> Self {
        Escalate {
            platform_conversation_id: platform_conversation_id.into(),
            conversation_id: None,
            escalate_to: None,
        }
    }
}

/// `isTeamOnline` data. The seed's example omits `platformConversationId`; the template's DTO
/// (every event extends `BotEvent`) requires it, so Natter always sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TeamOnlineQuery {
    #[serde(default)]
    pub platform_conversation_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_id: Option<String>,
}

/// The CRM's answer to `isTeamOnline`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TeamOnlineAnswer {
    pub is_online: bool,
}

/// `widgetMessage` data: a text message shaped like `sendMessage` with empty arrays.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WidgetMessage {
    pub platform_conversation_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
    /// Always `text`.
    #[serde(rename = "type", default = "text_type")]
    pub kind: MessageType,
    /// Always empty.
    #[serde(default)]
    pub buttons: Vec<Button>,
    pub text: String,
    /// Always empty.
    #[serde(default)]
    pub carousel_cards: Vec<CarouselCard>,
    /// Always empty.
    #[serde(default)]
    pub predicted_intents: Vec<PredictedIntent>,
    /// Files the visitor sent with the message (absent when none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<WidgetAttachment>,
}

/// A file of a `widgetMessage`: download it from `url` (a path on the Natter server, signed,
/// valid for a short time; no other credential needed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WidgetAttachment {
    pub id: String,
    pub name: String,
    /// The type Natter found in the bytes.
    #[serde(rename = "type")]
    pub mime: String,
    pub size: u64,
    pub url: String,
}

fn text_type() -> MessageType {
    MessageType::Text
}

impl WidgetMessage {
    pub fn new(platform_conversation_id: impl Into<String>, text: impl Into<String>) -> Self {
        WidgetMessage {
            platform_conversation_id: platform_conversation_id.into(),
            conversation_id: None,
            kind: MessageType::Text,
            buttons: Vec::new(),
            text: text.into(),
            carousel_cards: Vec::new(),
            predicted_intents: Vec::new(),
            attachments: Vec::new(),
        }
    }
}

/// `widgetEndSession` data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndSession {
    pub platform_conversation_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
}
