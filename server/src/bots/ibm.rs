//! `[ibm]` in bot.toml: the IBM web chat ids a bot answers for. Host pages written for IBM's
//! web chat name their assistant by an `integrationID` (watsonx Assistant) or an `agentId`
//! (watsonx Orchestrate); Natter's IBM loaders (docs/ibm.md) ask the server which bot that is.
//!
//! Invariant: across a [`BotRegistry`] every id names at most one bot ([`duplicates`] reports
//! the others as configuration errors), so [`BotRegistry::by_ibm_id`] is unambiguous.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;

use super::{Bot, BotRegistry, ConfigError};

/// The `[ibm]` table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IbmIds {
    /// Classic watsonx Assistant web chat: `watsonAssistantChatOptions.integrationID`.
    #[serde(default)]
    pub integration_ids: Vec<String>,
    /// watsonx Orchestrate embedded chat: `wxOConfiguration.chatOptions.agentId`.
    #[serde(default)]
    pub agent_ids: Vec<String>,
}

/// Which IBM id a loader looks a bot up by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IbmIdKind {
    Integration,
    Agent,
}

impl IbmIds {
    fn list(&self, kind: IbmIdKind) -> &[String] {
        match kind {
            IbmIdKind::Integration => &self.integration_ids,
            IbmIdKind::Agent => &self.agent_ids,
        }
    }
}

impl BotRegistry {
    /// The bot whose `[ibm]` table lists `id` as that kind of id.
    pub fn by_ibm_id(&self, kind: IbmIdKind, id: &str) -> Option<&Arc<Bot>> {
        self.bots
            .values()
            .find(|b| b.ibm.list(kind).iter().any(|x| x == id))
    }
}

/// One error per id listed by more than one bot (or twice by one), naming both bots.
pub fn duplicates(reg: &BotRegistry, dir: &Path) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    let mut slugs: Vec<&String> = reg.bots.keys().collect();
    slugs.sort();
    for (kind, key) in [
        (IbmIdKind::Integration, "integration_ids"),
        (IbmIdKind::Agent, "agent_ids"),
    ] {
        let mut seen: HashMap<&str, &str> = HashMap::new();
        for slug in &slugs {
            for id in reg.bots[*slug].ibm.list(kind) {
                if let Some(first) = seen.insert(id, slug) {
                    errors.push(ConfigError {
                        file: dir.join(slug.as_str()).join("bot.toml"),
                        line: None,
                        message: format!(
                            "ibm.{key}: `{id}` is also listed by bot `{first}`; an IBM id must name one bot"
                        ),
                    });
                }
            }
        }
    }
    errors
}
