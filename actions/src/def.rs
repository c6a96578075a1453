//! The parsed, validated form of an action definition. Built only by `parse.rs`, so every
//! value of these types has passed its checks: a camelCase name, a description, an http(s)
//! base URL with no variables, user info, query or fragment, a path that starts with `/`,
//! a method of GET/POST/PUT/DELETE, templates that parse, and an argument list that names
//! every `$variable` exactly once.

use std::path::PathBuf;
use std::time::Duration;

use crate::body::JsonTemplate;
use crate::template::Template;

/// One action of a bot.
#[derive(Debug, Clone)]
pub struct Action {
    /// camelCase, `[a-z][A-Za-z0-9]*`, at most 64 characters; equals the file's stem.
    pub name: String,
    /// Written for the AI: when to call the action.
    pub description: String,
    /// Workflows that enable the action. Empty: enabled nowhere (actions are off by default).
    pub workflows: Vec<String>,
    pub kind: ActionKind,
    /// The arguments, in order of first appearance. For API actions: every `$variable`, all
    /// required; for Python and CRM actions: the declared `[[args]]`.
    pub args: Vec<ArgSpec>,
    /// The file it was read from.
    pub source: PathBuf,
    pub(crate) workflow_spans: Vec<(usize, usize)>,
}

#[derive(Debug, Clone)]
pub enum ActionKind {
    Api(ApiAction),
    Python(PythonAction),
    Crm(CrmAction),
}

impl ActionKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            ActionKind::Api(_) => "api",
            ActionKind::Python(_) => "python",
            ActionKind::Crm(_) => "crm",
        }
    }
}

/// An HTTP method an API action may use. Fixed by the definition; arguments never change it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }

    pub(crate) fn to_reqwest(self) -> reqwest::Method {
        match self {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Delete => reqwest::Method::DELETE,
        }
    }
}

/// A single HTTP request to the bot owner's API.
#[derive(Debug, Clone)]
pub struct ApiAction {
    /// Scheme, host, port and an optional path prefix (no trailing `/`). Never templated.
    pub base_url: url::Url,
    /// Starts with `/` (or is empty); appended to the base URL's path.
    pub path: Template,
    pub method: Method,
    /// Header names are literal and checked; values are templates or secrets.
    pub headers: Vec<(String, FieldValue)>,
    /// Query names are literal; values are templates (written unencoded) or secrets.
    pub query: Vec<(String, FieldValue)>,
    pub body: Option<JsonTemplate>,
    /// The whole call, redirects and response body included.
    pub timeout: Duration,
}

/// A header or query value: a `$variable` template, or a secret read from the server's
/// environment at call time (`{ env = "ACME_API_KEY" }`) so keys needn't live in the bot's
/// folder. A secret holds no variables and is never shown to the bot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldValue {
    Template(Template),
    Env(String),
}

impl FieldValue {
    pub fn vars(&self) -> impl Iterator<Item = &str> {
        let t = match self {
            FieldValue::Template(t) => Some(t),
            FieldValue::Env(_) => None,
        };
        t.into_iter().flat_map(|t| t.vars())
    }
}

/// `execute_action(context)` in a Python file of the bot's folder, run by the Python runtime.
#[derive(Debug, Clone)]
pub struct PythonAction {
    /// Relative to the bot's folder; no `..`, ends in `.py`.
    pub file: PathBuf,
    pub timeout: Duration,
}

/// An action answered by the CRM's actions webhook (crm-webhooks.txt); the server calls it.
#[derive(Debug, Clone)]
pub struct CrmAction {
    pub timeout: Duration,
}

/// One argument of an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgSpec {
    pub name: String,
    pub ty: ArgType,
    pub description: Option<String>,
    pub required: bool,
    /// CRM actions only: the name the CRM's `results` store this argument under (`saveAs`).
    pub save_as: Option<String>,
}

/// JSON type of an argument, as offered to the LLM and checked by `validate_args`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgType {
    String,
    Number,
    Integer,
    Boolean,
    Object,
    Array,
    /// Any JSON value.
    Any,
}

impl ArgType {
    pub fn parse(s: &str) -> Option<ArgType> {
        Some(match s {
            "string" => ArgType::String,
            "number" => ArgType::Number,
            "integer" => ArgType::Integer,
            "boolean" => ArgType::Boolean,
            "object" => ArgType::Object,
            "array" => ArgType::Array,
            "any" => ArgType::Any,
            _ => return None,
        })
    }

    /// The JSON-schema `type`, or `None` for `Any`.
    pub fn schema_type(self) -> Option<&'static str> {
        Some(match self {
            ArgType::String => "string",
            ArgType::Number => "number",
            ArgType::Integer => "integer",
            ArgType::Boolean => "boolean",
            ArgType::Object => "object",
            ArgType::Array => "array",
            ArgType::Any => return None,
        })
    }
}

impl Action {
    /// The API part, for API actions.
    pub fn api(&self) -> Option<&ApiAction> {
        match &self.kind {
            ActionKind::Api(a) => Some(a),
            _ => None,
        }
    }

    /// Names of the required arguments, in order of first appearance.
    pub fn required_args(&self) -> impl Iterator<Item = &str> {
        self.args
            .iter()
            .filter(|a| a.required)
            .map(|a| a.name.as_str())
    }

    pub fn is_enabled_in(&self, workflow: &str) -> bool {
        self.workflows.iter().any(|w| w == workflow)
    }

    /// The time limit of one call of this action.
    pub fn timeout(&self) -> Duration {
        match &self.kind {
            ActionKind::Api(a) => a.timeout,
            ActionKind::Python(p) => p.timeout,
            ActionKind::Crm(c) => c.timeout,
        }
    }
}
