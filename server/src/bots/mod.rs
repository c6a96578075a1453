//! Bots: one folder per bot, `bots/<slug>/bot.toml` (plus, in later issues, its `.py` files).
//!
//! [`load_dir`] reads every bot of a directory; [`load_bot`] one bot. Errors are
//! [`ConfigError`]s that name the file, the line and what is wrong; loading collects as many as
//! it can so `natter check` reports them all at once. A loaded [`Bot`] is immutable; the
//! server holds them in a [`BotRegistry`].

mod actions;
pub mod egress;
pub mod ibm;
mod llm;
mod load;
pub mod model;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use load::load_bot;
pub use model::*;

/// A configuration error: `file:line: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    /// 1-based; `None` when the error is about the file as a whole (e.g. missing).
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{}: {}", self.file.display(), l, self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

/// All bots the server serves, by slug.
#[derive(Default)]
pub struct BotRegistry {
    bots: HashMap<String, Arc<Bot>>,
}

impl BotRegistry {
    pub fn get(&self, slug: &str) -> Option<&Arc<Bot>> {
        self.bots.get(slug)
    }
    pub fn slugs(&self) -> impl Iterator<Item = &str> {
        self.bots.keys().map(|s| s.as_str())
    }
    /// The bots that have the setting `pick` reads (a timeout, a retention period), by slug.
    pub fn with<T>(&self, pick: impl Fn(&Bot) -> Option<T>) -> Vec<(String, T)> {
        self.bots
            .values()
            .filter_map(|b| Some((b.slug.clone(), pick(b)?)))
            .collect()
    }
    pub fn insert(&mut self, bot: Bot) {
        self.bots.insert(bot.slug.clone(), Arc::new(bot));
    }
}

/// Loads every `<dir>/<slug>/bot.toml`. A missing directory yields no bots (the server still
/// serves static files and health); any bot with errors fails the whole load.
pub fn load_dir(dir: &Path) -> Result<BotRegistry, Vec<ConfigError>> {
    let mut reg = BotRegistry::default();
    let mut errors = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(reg),
        Err(e) => {
            return Err(vec![ConfigError {
                file: dir.to_path_buf(),
                line: None,
                message: format!("cannot read: {e}"),
            }])
        }
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.join("bot.toml").is_file())
        .collect();
    dirs.sort();
    for d in dirs {
        match load_bot(&d) {
            Ok(bot) => reg.insert(bot),
            Err(errs) => errors.extend(errs),
        }
    }
    errors.extend(ibm::duplicates(&reg, dir));
    if errors.is_empty() {
        Ok(reg)
    } else {
        Err(errors)
    }
}
