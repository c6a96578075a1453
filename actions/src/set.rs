//! A bot's actions: loaded from `bots/<slug>/actions/*.toml`, looked up by name, and gated by
//! workflow — an action not enabled in a workflow can't be obtained for it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::def::{Action, ActionKind};
use crate::parse::{parse_action, DefinitionError};

/// Why an action can't be called from a workflow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallableError {
    #[error("no action named `{0}`")]
    Unknown(String),
    #[error("action `{action}` is not enabled in workflow `{workflow}`")]
    NotEnabled { action: String, workflow: String },
}

/// The actions of one bot, by name.
#[derive(Debug, Clone, Default)]
pub struct ActionSet {
    actions: BTreeMap<String, Action>,
}

impl ActionSet {
    /// Reads every `*.toml` in `<bot_dir>/actions/` (no folder: no actions), and checks that
    /// each Python action's file exists in the bot's folder. Returns every problem found.
    pub fn load(bot_dir: &Path) -> Result<ActionSet, Vec<DefinitionError>> {
        let dir = bot_dir.join("actions");
        let io_err = |path: &Path, e: std::io::Error| DefinitionError {
            file: path.to_path_buf(),
            line: 1,
            column: 1,
            message: format!("can't read: {e}"),
        };
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ActionSet::default()),
            Err(e) => return Err(vec![io_err(&dir, e)]),
        };
        let mut files: Vec<PathBuf> = Vec::new();
        for entry in entries {
            let path = entry.map_err(|e| vec![io_err(&dir, e)])?.path();
            if path.extension().and_then(|e| e.to_str()) == Some("toml") {
                files.push(path);
            }
        }
        files.sort();
        let mut errors = Vec::new();
        let mut actions = Vec::new();
        for file in files {
            let text = match std::fs::read_to_string(&file) {
                Ok(t) => t,
                Err(e) => {
                    errors.push(io_err(&file, e));
                    continue;
                }
            };
            match parse_action(&file, &text) {
                Ok(a) => {
                    if let ActionKind::Python(p) = &a.kind {
                        if !bot_dir.join(&p.file).is_file() {
                            let at = text.find("file").unwrap_or(0);
                            errors.push(DefinitionError::at(
                                &file,
                                &text,
                                at,
                                format!("python file `{}` does not exist in {}", p.file.display(), bot_dir.display()),
                            ));
                        }
                    }
                    actions.push(a);
                }
                Err(mut e) => errors.append(&mut e),
            }
        }
        if errors.is_empty() {
            Ok(ActionSet::from_actions(actions))
        } else {
            Err(errors)
        }
    }

    /// From parsed actions. Names are file stems of one folder, so they are unique there.
    pub fn from_actions(actions: impl IntoIterator<Item = Action>) -> ActionSet {
        ActionSet { actions: actions.into_iter().map(|a| (a.name.clone(), a)).collect() }
    }

    pub fn get(&self, name: &str) -> Option<&Action> {
        self.actions.get(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Action> {
        self.actions.values()
    }

    pub fn len(&self) -> usize {
        self.actions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    /// The actions enabled in `workflow` (what the LLM agent offers as tools).
    pub fn enabled_in<'a>(&'a self, workflow: &'a str) -> impl Iterator<Item = &'a Action> + 'a {
        self.actions.values().filter(move |a| a.is_enabled_in(workflow))
    }

    /// The action `name`, if `workflow` enables it. The only way the engine should obtain an
    /// action to call.
    pub fn callable(&self, workflow: &str, name: &str) -> Result<&Action, CallableError> {
        let a = self.actions.get(name).ok_or_else(|| CallableError::Unknown(name.to_string()))?;
        if a.is_enabled_in(workflow) {
            Ok(a)
        } else {
            Err(CallableError::NotEnabled { action: name.to_string(), workflow: workflow.to_string() })
        }
    }

    /// For `natter check`: every `workflows` entry that names no workflow of the bot, with
    /// its file and line.
    pub fn unknown_workflows(&self, is_known: impl Fn(&str) -> bool) -> Vec<DefinitionError> {
        let mut out = Vec::new();
        for a in self.actions.values() {
            let text = std::fs::read_to_string(&a.source).unwrap_or_default();
            for (w, (start, _)) in a.workflows.iter().zip(&a.workflow_spans) {
                if !is_known(w) {
                    out.push(DefinitionError::at(&a.source, &text, *start, format!("workflow `{w}` does not exist")));
                }
            }
        }
        out
    }
}
