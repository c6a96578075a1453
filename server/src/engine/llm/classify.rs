//! `llm_classify_binary` / `llm_classify_category` of Python code, over the bot's own model
//! client: [`LlmModels`] holds one [`ChatClient`] per LLM bot, shared by that bot's
//! [`super::LlmAgent`] and its classifications (one connection pool, one set of limits).
//!
//! Invariants: a bot without `[llm]` answers `Ok(None)` (the helper returns its fallback or
//! raises, as the runtime documents); a failed classification reaches Python as a short
//! message, its cause is logged for the owner; the key is never in either.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use natter_llm::{classify_category, ChatClient, LlmConfig, Model};
use natter_python_runtime::{ClassifyRequest, Error};

use crate::bots::BotRegistry;
use crate::python_host::Classifier;

/// The model client of every LLM bot, by slug.
#[derive(Clone, Default)]
pub struct LlmModels {
    models: HashMap<String, (Arc<dyn Model>, Arc<LlmConfig>)>,
}

impl LlmModels {
    /// Builds a client for each bot with an `[llm]` table.
    pub fn for_bots(bots: &BotRegistry) -> Result<LlmModels, natter_llm::ClientError> {
        let mut models = HashMap::new();
        for slug in bots.slugs() {
            let Some(bot) = bots.get(slug) else { continue };
            let Some(llm) = bot.llm.as_ref() else {
                continue;
            };
            let client: Arc<dyn Model> = Arc::new(
                ChatClient::with_key(&llm.config, llm.api_key.clone())?.guarded(
                    &llm.config,
                    &natter_actions::Guard::new(bot.network.clone()),
                )?,
            );
            models.insert(slug.to_string(), (client, llm.config.clone()));
        }
        Ok(LlmModels { models })
    }

    /// With a given model for `bot` (tests).
    pub fn insert(&mut self, bot: &str, model: Arc<dyn Model>, config: Arc<LlmConfig>) {
        self.models.insert(bot.to_string(), (model, config));
    }

    pub fn model(&self, bot: &str) -> Option<Arc<dyn Model>> {
        self.models.get(bot).map(|(m, _)| m.clone())
    }
}

#[async_trait]
impl Classifier for LlmModels {
    async fn classify(&self, bot: &str, request: ClassifyRequest) -> Result<Option<String>, Error> {
        let Some((model, config)) = self.models.get(bot) else {
            return Ok(None);
        };
        match classify_category(
            &**model,
            config,
            &request.prompt,
            &request.input,
            &request.options,
        )
        .await
        {
            Ok(choice) => Ok(Some(choice)),
            Err(natter_llm::ClassifyError::BadOptions) => Err(Error::InvalidArgument(
                "options must be distinct, non-empty strings (at least one)".into(),
            )),
            Err(e) => {
                tracing::warn!(bot, error = %e, "llm_classify failed");
                Err(Error::Host(format!("the LLM classification failed: {e}")))
            }
        }
    }
}
