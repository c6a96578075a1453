//! Finding the python3 interpreter once, at start.
//!
//! `python3` is often a shim (pyenv's is a shell script) or a symlink; resolving it to the
//! real executable once keeps that cost out of every call. The probe also tells which
//! folders the sandbox must mount read-only for the interpreter and its packages to work.

use crate::Error;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The resolved interpreter.
#[derive(Debug, Clone)]
pub struct Interpreter {
    /// The real executable (`sys.executable`).
    pub executable: PathBuf,
    /// Folders the interpreter needs: prefixes and every `sys.path` entry (existing ones).
    pub paths: Vec<PathBuf>,
    /// `sys.path` entries to add in the worker (it runs with `-E -s`, so user sites and
    /// PYTHONPATH would otherwise be lost).
    pub sys_path: Vec<String>,
}

const PROBE: &str = "import sys, json; print(json.dumps({'exe': sys.executable, \
'prefixes': [sys.prefix, sys.base_prefix, sys.exec_prefix], 'path': [p for p in sys.path if p]}))";

impl Interpreter {
    /// Probe `python` (a name on PATH or a path).
    pub fn probe(python: &Path) -> Result<Interpreter, Error> {
        let out = Command::new(python)
            .args(["-c", PROBE])
            .current_dir("/")
            .output()
            .map_err(|e| Error::Interpreter(format!("cannot run {}: {e}", python.display())))?;
        if !out.status.success() {
            return Err(Error::Interpreter(format!(
                "{} failed: {}",
                python.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .map_err(|e| Error::Interpreter(format!("unexpected probe output: {e}")))?;
        let exe = v["exe"].as_str().unwrap_or_default();
        if exe.is_empty() {
            return Err(Error::Interpreter("sys.executable is empty".into()));
        }
        let executable = std::fs::canonicalize(exe).unwrap_or_else(|_| PathBuf::from(exe));
        let strings = |k: &str| -> Vec<String> {
            v[k].as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        };
        let sys_path: Vec<String> = strings("path");
        let mut paths: Vec<PathBuf> = Vec::new();
        if let Some(dir) = executable.parent() {
            paths.push(dir.to_path_buf());
        }
        for p in strings("prefixes")
            .into_iter()
            .chain(sys_path.iter().cloned())
        {
            let p = PathBuf::from(p);
            // Zip entries (python311.zip) need their folder; missing entries need nothing.
            let p = if p.is_file() {
                p.parent().map(Path::to_path_buf).unwrap_or(p)
            } else {
                p
            };
            if p.is_dir() && !paths.contains(&p) {
                paths.push(p);
            }
        }
        Ok(Interpreter {
            executable,
            paths,
            sys_path,
        })
    }
}
