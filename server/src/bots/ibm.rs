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

#[cfg(test)]
mod tests {
    use super::*;

    fn bot(dir: &Path, slug: &str, ibm: &str) {
        let d = dir.join(slug);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("bot.toml"), format!("greeting = \"hi\"\n{ibm}\n")).unwrap();
    }

    #[test]
    fn ids_map_to_their_bot_and_a_shared_id_is_a_config_error() {
        let dir = tempfile::tempdir().unwrap();
        bot(
            dir.path(),
            "a",
            "[ibm]\nintegration_ids = [\"i-1\"]\nagent_ids = [\"g-1\"]",
        );
        bot(dir.path(), "b", "[ibm]\nintegration_ids = [\"i-2\"]");
        let reg = super::super::load_dir(dir.path()).unwrap();
        let slug = |k, id| reg.by_ibm_id(k, id).map(|b| b.slug.clone());
        assert_eq!(slug(IbmIdKind::Integration, "i-2").as_deref(), Some("b"));
        assert_eq!(slug(IbmIdKind::Agent, "g-1").as_deref(), Some("a"));
        assert_eq!(slug(IbmIdKind::Agent, "i-1"), None, "kinds are separate");

        bot(dir.path(), "c", "[ibm]\nintegration_ids = [\"i-1\"]");
        let errs = super::super::load_dir(dir.path()).err().unwrap();
        assert_eq!(errs.len(), 1);
        let msg = errs[0].to_string();
        assert!(
            msg.contains("c/bot.toml") && msg.contains("`i-1`") && msg.contains("bot `a`"),
            "{msg}"
        );

        bot(dir.path(), "d", "[ibm]\nintegrationIDs = [\"x\"]");
        let errs = super::super::load_dir(dir.path()).err().unwrap();
        assert!(
            errs.iter()
                .any(|e| e.to_string().contains("integrationIDs")),
            "unknown keys are errors"
        );
    }
}
