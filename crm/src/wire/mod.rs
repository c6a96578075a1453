//! The JSON bodies Natter sends to the CRM and the answers it reads back.
//!
//! Shapes follow crm-webhooks.txt field for field and in its order; where the public
//! custom-crm-automation-template's DTOs require more (`channel`, `confidence`, `messageId`,
//! `platformConversationId` on `isTeamOnline`), those fields are added, never renamed.

pub mod actions;
pub mod chat;
mod number;

pub use actions::{ActionData, ActionRequest, ActionResult, ResultValue};
pub use chat::{
    BotMessage, Button, ButtonType, CarouselCard, ChatEvent, ChatWebhook, EndSession, Escalate,
    MessageType, PredictedIntent, TeamOnlineAnswer, TeamOnlineQuery, WidgetAttachment,
    WidgetMessage,
};
