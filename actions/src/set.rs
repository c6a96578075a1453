//! A bot's actions: loaded from `bots/<slug>/actions/*.toml`, looked up by name, and gated by
//! workflow — an action not enabled in a workflow can't be obtained for it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::def::{Action, ActionKind, FieldValue};
use crate::parse::{parse_action, DefinitionError};
use crate::policy::NetPolicy;
use crate::request::Env;

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
                            // The `file` key of the [python] table.
                            let table = text.find("[python]").unwrap_or(0);
                            let at = text[table..].find("file").map_or(table, |i| table + i);
                            errors.push(DefinitionError::at(
                                &file,
                                &text,
                                at,
                                format!(
                                    "python file `{}` does not exist in {}",
                                    p.file.display(),
                                    bot_dir.display()
                                ),
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
        ActionSet {
            actions: actions.into_iter().map(|a| (a.name.clone(), a)).collect(),
        }
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
        self.actions
            .values()
            .filter(move |a| a.is_enabled_in(workflow))
    }

    /// The action `name`, if `workflow` enables it. The only way the engine should obtain an
    /// action to call.
    pub fn callable(&self, workflow: &str, name: &str) -> Result<&Action, CallableError> {
        let a = self
            .actions
            .get(name)
            .ok_or_else(|| CallableError::Unknown(name.to_string()))?;
        if a.is_enabled_in(workflow) {
            Ok(a)
        } else {
            Err(CallableError::NotEnabled {
                action: name.to_string(),
                workflow: workflow.to_string(),
            })
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
                    out.push(DefinitionError::at(
                        &a.source,
                        &text,
                        *start,
                        format!("workflow `{w}` does not exist"),
                    ));
                }
            }
        }
        out
    }

    /// For `natter check`: API actions whose base URL the bot's policy refuses outright (a
    /// literal refused IP or a metadata name; names are judged again by DNS at call time).
    pub fn policy_refusals(&self, policy: &NetPolicy) -> Vec<DefinitionError> {
        let mut out = Vec::new();
        for a in self.actions.values() {
            let Some(api) = a.api() else { continue };
            if let Err(e) = policy.check_url(&api.base_url) {
                let text = std::fs::read_to_string(&a.source).unwrap_or_default();
                let at = text.find("base_url").unwrap_or(0);
                out.push(DefinitionError::at(
                    &a.source,
                    &text,
                    at,
                    format!("base_url: {e}"),
                ));
            }
        }
        out
    }

    /// For `natter check`: `(action, variable)` for every `{ env = "…" }` secret not set in `env`.
    pub fn missing_env(&self, env: &dyn Env) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for a in self.actions.values() {
            let Some(api) = a.api() else { continue };
            for (_, v) in api.headers.iter().chain(&api.query) {
                if let FieldValue::Env(name) = v {
                    if env.get(name).is_none()
                        && !out.iter().any(|(x, n)| x == &a.name && n == name)
                    {
                        out.push((a.name.clone(), name.clone()));
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn set() -> ActionSet {
        let a = parse_action(
            Path::new("getOrder.toml"),
            "description = \"d\"\nkind = \"api\"\nworkflows = [\"orders\"]\n[api]\nbase_url = \"http://169.254.169.254\"\nmethod = \"GET\"\nheaders = { k = { env = \"NATTER_TEST_UNSET_KEY\" } }\n",
        )
        .unwrap();
        let b = parse_action(
            Path::new("lookup.toml"),
            "description = \"d\"\nkind = \"crm\"\nworkflows = [\"orders\", \"support\"]\n",
        )
        .unwrap();
        ActionSet::from_actions([a, b])
    }

    #[test]
    fn workflow_gating() {
        let s = set();
        assert_eq!(s.callable("orders", "getOrder").unwrap().name, "getOrder");
        assert_eq!(
            s.callable("support", "getOrder").unwrap_err(),
            CallableError::NotEnabled {
                action: "getOrder".into(),
                workflow: "support".into()
            }
        );
        assert_eq!(
            s.callable("orders", "nope").unwrap_err(),
            CallableError::Unknown("nope".into())
        );
        assert_eq!(
            s.enabled_in("support")
                .map(|a| a.name.as_str())
                .collect::<Vec<_>>(),
            ["lookup"]
        );
        assert_eq!(s.enabled_in("orders").count(), 2);
    }

    #[test]
    fn checks_for_natter_check() {
        let s = set();
        assert_eq!(s.policy_refusals(&NetPolicy::public_only()).len(), 1);
        let none = |_: &str| None;
        assert_eq!(
            s.missing_env(&none),
            vec![("getOrder".to_string(), "NATTER_TEST_UNSET_KEY".to_string())]
        );
    }

    #[test]
    fn load_reports_every_bad_file() {
        let dir = std::env::temp_dir().join(format!("natter-actions-set-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("actions")).unwrap();
        std::fs::write(
            dir.join("actions/good.toml"),
            "description = \"d\"\nkind = \"crm\"\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("actions/bad.toml"),
            "description = \"d\"\nkind = \"rpc\"\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("actions/py.toml"),
            "description = \"d\"\nkind = \"python\"\n[python]\nfile = \"missing.py\"\n",
        )
        .unwrap();
        std::fs::write(dir.join("actions/notes.md"), "ignored").unwrap();
        let errs = ActionSet::load(&dir).unwrap_err();
        std::fs::remove_dir_all(&dir).unwrap();
        let msgs: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert_eq!(msgs.len(), 2, "{msgs:#?}");
        assert!(msgs[0].contains("bad.toml:2:8: kind `rpc`"), "{msgs:#?}");
        assert!(
            msgs[1].contains("py.toml:4:1: python file `missing.py` does not exist"),
            "{msgs:#?}"
        );
        assert!(ActionSet::load(Path::new("/nonexistent/bot"))
            .unwrap()
            .is_empty());
    }
}
