//! What the `natter` binary carries, so it serves a whole product started from any directory:
//! the demo and agent pages of `www/`, the built widget package (`pkg/`, chosen by
//! `build.rs`), and the demo bot of `bots/demo`. The console's own files are embedded by
//! [`crate::console`]. On-disk folders given on the command line take the place of these.

use std::path::{Path, PathBuf};

use include_dir::{include_dir, Dir};

/// `www/`: the demo page at `/`, the agent console at `/agent/`, embed examples.
pub static WWW: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../www");

/// The widget package served at `/widget/` (empty when the binary was built without one).
pub static WIDGET: Dir<'static> = include_dir!("$NATTER_EMBED_PKG");

/// The demo bot (`bots/demo`), used when no bots folder is there.
static DEMO_BOT: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../bots/demo");

/// Whether a widget build was embedded.
pub fn widget_built() -> bool {
    env!("NATTER_EMBED_PKG_BUILT") == "1"
}

/// Writes the embedded demo bot to `<data_dir>/builtin-bots/demo` (replacing what an earlier
/// start wrote there: it is the binary's copy, not the user's) and returns the bots folder.
/// Python actions and handlers are run from files, hence a folder rather than memory.
pub fn write_demo_bots(data_dir: &Path) -> std::io::Result<PathBuf> {
    let bots = data_dir.join("builtin-bots");
    let demo = bots.join("demo");
    if demo.exists() {
        std::fs::remove_dir_all(&demo)?;
    }
    std::fs::create_dir_all(&demo)?;
    DEMO_BOT.extract(&demo)?;
    Ok(bots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_bot_written_out_loads() {
        let dir = tempfile::tempdir().unwrap();
        let bots = write_demo_bots(dir.path()).unwrap();
        let reg = crate::bots::load_dir(&bots).expect("embedded demo bot loads");
        assert!(reg.get("demo").is_some());
        // A second start replaces the copy without error.
        write_demo_bots(dir.path()).unwrap();
    }

    #[test]
    fn pages_are_embedded() {
        assert!(WWW.get_file("index.html").is_some());
        assert!(WWW.get_file("agent/index.html").is_some());
    }
}
