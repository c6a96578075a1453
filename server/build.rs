//! Picks the built widget package that `natter` embeds (served at `/widget/`).
//!
//! The widget is a separate wasm build (`scripts/build-widget` → `pkg/`). When `pkg/` holds a
//! build, it is embedded as it is. When it does not (a fresh checkout, `cargo install --path
//! server`), this script runs `scripts/build-widget` into a target directory of its own (the
//! outer cargo holds the lock on the usual one); if that cannot run (no wasm toolchain), the
//! binary is built without a widget and says so at `/widget/` and in a build warning.
//! `NATTER_WIDGET_PKG=DIR` embeds DIR instead; `NATTER_WIDGET_BUILD=0` never builds.
//!
//! The result is passed to the crate as `NATTER_EMBED_PKG` (a directory `include_dir!` reads)
//! and `NATTER_EMBED_PKG_BUILT` (`1` when it holds a widget).

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest.parent().unwrap().to_path_buf();
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    for dir in ["pkg", "www", "console/web", "bots/demo"] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }
    println!("cargo:rerun-if-env-changed=NATTER_WIDGET_PKG");
    println!("cargo:rerun-if-env-changed=NATTER_WIDGET_BUILD");

    let pkg = match std::env::var_os("NATTER_WIDGET_PKG") {
        Some(dir) => PathBuf::from(dir),
        None => root.join("pkg"),
    };
    let chosen = if is_built(&pkg) {
        Some(pkg)
    } else if std::env::var("NATTER_WIDGET_BUILD").as_deref() != Ok("0") {
        build_widget(&root, &out)
    } else {
        None
    };
    let (dir, built) = match chosen {
        Some(dir) => (dir, "1"),
        None => {
            println!(
                "cargo:warning=natter is built without the widget (no {}/embed.js): run scripts/build-widget, then build again",
                root.join("pkg").display()
            );
            let empty = out.join("no-widget");
            std::fs::create_dir_all(&empty).unwrap();
            (empty, "0")
        }
    };
    println!("cargo:rustc-env=NATTER_EMBED_PKG={}", dir.display());
    println!("cargo:rustc-env=NATTER_EMBED_PKG_BUILT={built}");
}

fn is_built(pkg: &Path) -> bool {
    pkg.join("embed.js").is_file() && pkg.join("natter_wasm_bg.wasm").is_file()
}

/// Runs `scripts/build-widget` with a clean cargo environment (the variables cargo sets for
/// build scripts would otherwise leak into the nested build) and returns its `pkg/`.
fn build_widget(root: &Path, out: &Path) -> Option<PathBuf> {
    let script = root.join("scripts/build-widget");
    if !script.is_file() {
        return None;
    }
    let work = out.join("widget");
    let _ = std::fs::remove_dir_all(work.join("pkg"));
    std::fs::create_dir_all(&work).ok()?;
    let mut cmd = Command::new(&script);
    cmd.current_dir(root);
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        let keep = key == "CARGO_HOME" || key == "PATH" || key == "HOME" || key == "RUSTUP_HOME";
        if !keep
            && (key.starts_with("CARGO")
                || key.starts_with("RUST")
                || key.starts_with("DEP_")
                || [
                    "TARGET",
                    "HOST",
                    "OUT_DIR",
                    "OPT_LEVEL",
                    "PROFILE",
                    "DEBUG",
                    "NUM_JOBS",
                ]
                .contains(&key.as_str()))
        {
            cmd.env_remove(&key);
        }
    }
    cmd.env("CARGO_TARGET_DIR", work.join("target"));
    cmd.env("NATTER_PKG_OUT", work.join("pkg"));
    match cmd.status() {
        Ok(s) if s.success() && is_built(&work.join("pkg")) => Some(work.join("pkg")),
        _ => None,
    }
}
