//! The loaded, validated form of a bot. Everything here is checked at load time: regexes
//! compile, `goto` targets exist, keys and files are readable.

use std::collections::HashMap;
use std::path::PathBuf;

use natter_protocol::{Button, Card};
use regex::Regex;

pub use super::actions::SheetsSettings;
use crate::auth::Auth;

#[derive(Debug)]
pub struct Bot {
    pub slug: String,
    pub name: String,
    pub dir: PathBuf,
    pub agent: AgentKind,
    pub greeting: Option<String>,
    pub fallback: String,
    pub auth: Auth,
    /// Origins allowed to call this bot's API from a browser (exact match, e.g.
    /// `https://shop.example.com`). Same-origin requests are always allowed.
    pub cors_origins: Vec<String>,
    pub stream: StreamConfig,
    pub feedback: FeedbackConfig,
    pub workflows: Vec<Workflow>,
    /// `actions/*.toml`, each enabled in the workflows it names.
    pub actions: natter_actions::ActionSet,
    /// `[network]`: where the bot's API actions may connect.
    pub network: natter_actions::NetPolicy,
    /// `[python] egress`: the hosts its Python code may connect to (then under `network`).
    pub python_egress: super::egress::EgressList,
    /// `[sheets]`: the service account of `add_google_sheets_row`.
    pub sheets: Option<SheetsSettings>,
    /// `agent = "llm"`: the `[llm]` table (always `Some` for LLM bots, `None` otherwise).
    pub llm: Option<LlmBot>,
    /// `[crm]`: the CRM connection, resolved at server start.
    pub crm: Option<crate::crm::CrmBotSettings>,
    /// `[lifecycle]`: inactivity timeout.
    pub lifecycle: crate::lifecycle::LifecycleConfig,
    /// `[ibm]`: the IBM web chat ids this bot answers for (docs/ibm.md).
    pub ibm: super::ibm::IbmIds,
    /// `[attachments]`: whether files are taken, their limits and types.
    pub attachments: crate::attachments::AttachmentsConfig,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentKind {
    /// The workflow engine of `engine::scripted`.
    Scripted,
    /// An OpenAI-compatible model (`engine::llm`), configured by [`LlmBot`].
    Llm,
}

/// An LLM bot's `[llm]` table: natter-llm's [`natter_llm::LlmConfig`] plus the server's keys.
#[derive(Debug, Clone)]
pub struct LlmBot {
    pub config: std::sync::Arc<natter_llm::LlmConfig>,
    /// Read from `api_key_env` at load (never from the bot folder); prints as `[redacted]`.
    pub api_key: Option<natter_llm::ApiKey>,
    /// Conversation metadata keys the model may see (in the system message), in this order.
    pub visible_metadata: Vec<String>,
    /// The workflow active when no trigger has selected one (`[llm] workflow`); `None`: the
    /// first workflow, if any.
    pub default_workflow: Option<String>,
    /// The model takes images (`[llm] accepts_images`): the visitor's raster images are sent
    /// as `image_url` parts; other files (and images otherwise) are named in the text.
    pub accepts_images: bool,
}

/// How replies are cut into `message.delta` events and paced.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamConfig {
    pub chunk: Chunking,
    /// Units (chars, words or sentences) per delta.
    pub chunk_size: usize,
    /// Pause between two deltas of one message.
    pub delay_ms: u64,
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig {
            chunk: Chunking::Word,
            chunk_size: 1,
            delay_ms: 30,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chunking {
    Char,
    Word,
    Sentence,
    /// The whole text in one delta.
    Whole,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeedbackConfig {
    /// Offer thumbs on every bot message (otherwise only on steps with `feedback = true`).
    pub all_messages: bool,
    pub positive: Vec<String>,
    pub negative: Vec<String>,
}

#[derive(Debug)]
pub struct Workflow {
    pub name: String,
    pub triggers: Triggers,
    /// May start while another workflow waits for an answer (e.g. "talk to a human").
    pub interrupts: bool,
    pub steps: Vec<Step>,
    /// LLM bots: the workflow's instructions for the model (after `[llm] instructions`).
    pub instructions: Option<String>,
}

#[derive(Debug, Default)]
pub struct Triggers {
    /// Normalized (lowercase, accents stripped) word sequences matched on word boundaries.
    pub keywords: Vec<Vec<String>>,
    /// Case-insensitive, matched against the accent-stripped input.
    pub regex: Vec<Regex>,
}

/// Where a `goto` or a branch case leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Step(usize),
    /// End the workflow.
    End,
}

/// A workflow step. The set is closed per release but meant to grow: to add a kind, add a
/// variant here, its parser in `bots::load::parse_step` (which lists known kinds in
/// `STEP_KINDS` and rejects others at load time with file:line) and its execution in
/// `engine::scripted`. `Action` (call an API/Python action with arguments from
/// `$variables`, store the result under a variable so later text can use `{{result.x}}` and a
/// `Branch` can test it).
#[derive(Debug)]
pub enum Step {
    Say {
        text: String,
        feedback: bool,
    },
    Ask(Ask),
    /// Buttons; with `save`, waits for the choice like an `Ask` restricted to the options.
    Buttons {
        text: String,
        options: Vec<Button>,
        save: Option<String>,
        retry: Option<String>,
    },
    Carousel {
        text: Option<String>,
        cards: Vec<Card>,
    },
    /// First matching case wins; no match goes to `default`, or to the next step when `None`.
    Branch {
        var: String,
        cases: Vec<(Condition, Target)>,
        default: Option<Target>,
    },
    Goto(Target),
    HandOff {
        text: Option<String>,
        reason: Option<String>,
    },
    /// Calls action `name` (enabled in this workflow; checked at load) with `args`, whose
    /// string values are `$variable` templates, and stores the result in `save_as`. `line`:
    /// where the step is in bot.toml, for errors.
    Action {
        name: String,
        args: serde_json::Map<String, serde_json::Value>,
        save_as: String,
        line: usize,
    },
    Close {
        text: Option<String>,
    },
    /// Asks the CRM whether agents are online (`isTeamOnline`); stores "true" or "false" in
    /// `var` for a `branch` (no CRM, or any failure: "false").
    TeamOnline {
        var: String,
        team: Option<String>,
    },
    UserDefined {
        text: Option<String>,
        data: serde_json::Value,
    },
}

#[derive(Debug)]
pub struct Ask {
    pub var: String,
    pub prompt: String,
    pub validate: Validation,
    /// Show the choices as buttons under the prompt.
    pub buttons: bool,
    /// Said before re-asking when the answer is invalid.
    pub retry: String,
    pub max_attempts: u32,
    /// Said when the attempts are used up; the workflow then ends.
    pub on_fail: Option<String>,
}

#[derive(Debug)]
pub enum Validation {
    Any,
    Number,
    Email,
    /// Matches the regex; the value kept is the first capture group, or the whole match.
    Regex(Regex),
    /// One of these (compared normalized); the value kept is the choice as written.
    Choice(Vec<String>),
}

#[derive(Debug)]
pub enum Condition {
    /// Normalized equality.
    Equals(String),
    In(Vec<String>),
    Matches(Regex),
    /// The variable is set and not empty.
    Present,
}

pub type StepIds = HashMap<String, usize>;
