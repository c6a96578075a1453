//! natter-actions: the actions a Natter bot can call.
//!
//! - Definitions: one TOML file per action in `bots/<slug>/actions/<name>.toml`
//!   ([`ActionSet::load`], [`parse_action`]); errors carry file, line and cause.
//! - Arguments: [`Action::args`] (for API actions every `$variable`), [`Action::args_schema`]
//!   (JSON schema for LLM tools), [`Action::validate_args`].
//! - API actions: [`ActionClient`] — one per bot, pooled — renders the request with
//!   [`template`] rules and calls it under the bot's outbound-address [`NetPolicy`].
//! - Python and CRM actions are parsed and validated here; the Python runtime and the server
//!   run them.
//!
//! See docs/actions.md, "API actions", for the format and the rules.

pub mod body;
pub mod client;
pub mod crm;
pub mod def;
pub mod guard;
pub mod parse;
pub mod policy;
pub mod request;
pub mod resolve;
pub mod schema;
pub mod set;
pub mod template;

pub use client::{bot_value, ActionClient, ApiSuccess, CallError, ClientConfig};
pub use crm::CrmDataError;
pub use def::{
    Action, ActionKind, ApiAction, ArgSpec, ArgType, CrmAction, FieldValue, Method, PythonAction,
};
pub use guard::{guarded_builder, Guard};
pub use parse::{parse_action, DefinitionError};
pub use policy::{NetPolicy, PolicyError};
pub use request::{Env, PrepareError, Prepared, ProcessEnv};
pub use resolve::{allowed_addresses, Lookup, LookupFuture, ResolveError, SystemLookup};
pub use schema::{ArgProblem, ArgsError};
pub use set::{ActionSet, CallableError};
