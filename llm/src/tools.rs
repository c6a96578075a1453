//! The tools the engine always understands, beside the bot's actions.
//!
//! `handOffConversation` and `closeConversation` are offered like any tool and run through the
//! caller's [`crate::ToolExecutor`] (the server performs the hand-off or close there); they
//! are defined here so every bot describes them to the model the same way.

use serde_json::json;

use crate::wire::ToolSpec;

pub const HAND_OFF: &str = "handOffConversation";
pub const CLOSE: &str = "closeConversation";

/// Hand the conversation to a human agent. `reason` ≤ 500 characters, as the
/// `hand_off_conversation` helper requires.
pub fn hand_off_tool() -> ToolSpec {
    ToolSpec {
        name: HAND_OFF.into(),
        description: "Hands the conversation off to a human agent. Call it when the customer asks for a human, \
                      or when you cannot help further. Tell the customer you are connecting them."
            .into(),
        parameters: json!({"type": "object", "properties": {
            "reason": {"type": "string", "maxLength": 500, "description": "Why the conversation is handed off, for the agent."}
        }, "required": [], "additionalProperties": false}),
    }
}

/// Close the conversation once the customer's request is fully resolved.
pub fn close_tool() -> ToolSpec {
    ToolSpec {
        name: CLOSE.into(),
        description: "Closes the conversation. Call it only when the customer's request is resolved and they have nothing more to ask.".into(),
        parameters: json!({"type": "object", "properties": {
            "reason": {"type": "string", "maxLength": 500, "description": "A short summary of how the conversation ended."}
        }, "required": [], "additionalProperties": false}),
    }
}

/// Both built-ins.
pub fn builtin_tools() -> Vec<ToolSpec> {
    vec![hand_off_tool(), close_tool()]
}
