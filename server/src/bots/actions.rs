//! A bot's actions at load time: `bots/<slug>/actions/*.toml` (natter-actions), the `[network]`
//! policy of its API actions, its `[sheets]` credentials, and the workflow `action` steps
//! checked against them.
//!
//! Invariants: every problem is a [`ConfigError`] with file and line (the action file's for
//! definitions, bot.toml's for steps and tables); an `action` step names an action that is
//! enabled in its own workflow, so a loaded bot never calls an action from a workflow that
//! doesn't enable it (the engine checks again with `ActionSet::callable`).

use std::path::{Path, PathBuf};

use natter_actions::{ActionSet, NetPolicy};
use serde::Deserialize;

use super::model::{Step, Workflow};
use super::ConfigError;

/// `[sheets]` of bot.toml: the Google service account `add_google_sheets_row` uses. The key
/// itself never lives in the bot's folder (Python code can read that folder).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SheetsSettings {
    /// Environment variable holding the service account's JSON key.
    pub service_account_env: Option<String>,
    /// Or a JSON key file, outside the bot's folder (absolute, or relative to the server's
    /// working directory).
    pub service_account_file: Option<PathBuf>,
    /// Overrides of Google's endpoints (tests, proxies).
    pub token_url: Option<String>,
    pub api_base: Option<String>,
    /// The A1 range whose table rows are appended to (default `A1`).
    pub range: Option<String>,
}

/// Loads the actions of the bot in `dir` and checks them and the `action` steps.
pub(super) fn check(
    dir: &Path,
    bot_file: &Path,
    network: &NetPolicy,
    sheets: Option<(&SheetsSettings, usize)>,
    workflows: &[Workflow],
    errors: &mut Vec<ConfigError>,
) -> ActionSet {
    let at = |file: &Path, line: usize, message: String| ConfigError {
        file: file.to_path_buf(),
        line: Some(line),
        message,
    };
    // Names whose definition file is broken: steps naming them are already reported.
    let mut broken: Vec<String> = Vec::new();
    let actions = match ActionSet::load(dir) {
        Ok(a) => a,
        Err(errs) => {
            for e in errs {
                broken.extend(
                    e.file
                        .file_stem()
                        .and_then(|s| s.to_str())
                        .map(str::to_string),
                );
                errors.push(at(
                    &e.file,
                    e.line,
                    format!("{} (column {})", e.message, e.column),
                ));
            }
            // Keep checking what did parse, so one bad file doesn't hide the others' problems.
            partial(dir)
        }
    };
    let known = |w: &str| workflows.iter().any(|x| x.name == w);
    for e in actions
        .unknown_workflows(known)
        .into_iter()
        .chain(actions.policy_refusals(network))
    {
        errors.push(at(&e.file, e.line, e.message));
    }
    for w in workflows {
        for step in &w.steps {
            if let Step::Action { name, line, .. } = step {
                if broken.contains(name) {
                    continue;
                }
                if let Err(e) = actions.callable(&w.name, name) {
                    let hint = match e {
                        natter_actions::CallableError::NotEnabled { .. } => {
                            format!(
                                " (add \"{}\" to `workflows` in actions/{name}.toml)",
                                w.name
                            )
                        }
                        natter_actions::CallableError::Unknown(_) => {
                            format!(" (no actions/{name}.toml)")
                        }
                    };
                    errors.push(at(
                        bot_file,
                        *line,
                        format!("workflow `{}`: {e}{hint}", w.name),
                    ));
                }
            }
        }
    }
    if let Some((s, line)) = sheets {
        match (&s.service_account_env, &s.service_account_file) {
            (None, None) | (Some(_), Some(_)) => errors.push(at(
                bot_file,
                line,
                "[sheets] needs exactly one of service_account_env or service_account_file".into(),
            )),
            (None, Some(f)) => {
                let inside = std::fs::canonicalize(f)
                    .ok()
                    .zip(std::fs::canonicalize(dir).ok())
                    .is_some_and(|(f, d)| f.starts_with(d));
                if inside {
                    errors.push(at(
                        bot_file,
                        line,
                        "[sheets] service_account_file must be outside the bot's folder (Python actions can read that folder)".into(),
                    ));
                }
            }
            (Some(_), None) => {}
        }
    }
    actions
}

/// The definitions of `dir/actions/` that parse on their own (errors already reported).
fn partial(dir: &Path) -> ActionSet {
    let files = std::fs::read_dir(dir.join("actions"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path());
    let parsed = files
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("toml"))
        .filter_map(|p| natter_actions::parse_action(&p, &std::fs::read_to_string(&p).ok()?).ok());
    ActionSet::from_actions(parsed)
}
