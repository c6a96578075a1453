//! Config errors name file, line and cause; `natter check` reports them and exits non-zero.

use std::process::Command;

use natter_server::bots::load_bot;

fn errors(toml: &str) -> Vec<String> {
    let tmp = tempfile::tempdir().unwrap();
    crate::common::write_bot(tmp.path(), "b", toml);
    match load_bot(&tmp.path().join("b")) {
        Ok(_) => vec![],
        Err(e) => e
            .iter()
            .map(|e| {
                assert!(e.file.ends_with("b/bot.toml"), "{e}");
                format!(
                    "{}: {}",
                    e.line.map_or("-".into(), |l| l.to_string()),
                    e.message
                )
            })
            .collect(),
    }
}

fn has(errs: &[String], line: usize, needle: &str) {
    assert!(
        errs.iter()
            .any(|e| e.starts_with(&format!("{line}: ")) && e.contains(needle)),
        "want line {line} `{needle}` in {errs:#?}"
    );
}

#[test]
fn syntax_error_has_its_line() {
    let e = errors("name = \"x\"\n\ngreeting = \"unterminated\n");
    has(&e, 3, "");
}

#[test]
fn unknown_top_level_key_and_wrong_type() {
    has(
        &errors("name = \"x\"\ngretting = \"hi\"\n"),
        2,
        "unknown field `gretting`",
    );
    has(
        &errors("name = \"x\"\n[stream]\ndelay_ms = \"fast\"\n"),
        3,
        "invalid type",
    );
}

#[test]
fn step_errors_point_at_the_step() {
    let toml = r#"name = "x"

[[workflows]]
name = "w"
triggers = { keywords = ["a"], regex = ['(unclosed'] }
steps = [
  { say = "fine" },
  { shout = "loud" },
  { say = "x", ask = "y" },
  { ask = "v", prompt = "p", promt = "typo" },
  { goto = "nowhere" },
  { ask = "v", prompt = "p", pattern = '[z-a]' },
  { branch = "v", cases = [ { equals = "a", matches = "b", goto = "end" } ] },
]
"#;
    let e = errors(toml);
    has(&e, 5, "invalid regex `(unclosed`");
    has(&e, 8, "unknown step kind");
    has(&e, 9, "exactly one kind, found say and ask");
    has(&e, 10, "unknown field `promt`");
    has(&e, 11, "goto `nowhere`");
    has(&e, 12, "invalid regex `[z-a]`");
    has(&e, 13, "exactly one of equals, in, matches, present");
    assert_eq!(e.len(), 7, "{e:#?}");
}

#[test]
fn auth_and_cors_errors() {
    let e = errors("[auth]\nmode = \"jwt\"\nalgorithm = \"HS512\"\n");
    has(&e, 1, "expected \"HS256\" or \"RS256\"");
    let e = errors("[auth]\nmode = \"jwt\"\nalgorithm = \"HS256\"\nsecret = \"short\"\n");
    has(&e, 1, "at least 32 bytes");
    let e = errors(
        "[auth]\nmode = \"jwt\"\nalgorithm = \"RS256\"\npublic_key_file = \"missing.pem\"\n",
    );
    has(&e, 1, "missing.pem");
    let e = errors(
        "[cors]\nallowed_origins = [\n  \"https://ok.example\",\n  \"https://bad.example/\",\n]\n",
    );
    has(&e, 4, "no path or trailing slash");
}

#[test]
fn duplicate_workflow_names() {
    let e = errors("[[workflows]]\nname = \"a\"\nsteps = [{ say = \"x\" }]\n\n[[workflows]]\nname = \"a\"\nsteps = [{ say = \"y\" }]\n");
    assert!(
        e.iter().any(|m| m.contains("defined twice (first at line")),
        "{e:#?}"
    );
}

#[test]
fn the_demo_bot_is_valid() {
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/../bots/demo");
    load_bot(std::path::Path::new(demo)).unwrap();
}

#[test]
fn natter_check_cli() {
    let bin = env!("CARGO_BIN_EXE_natter");
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/../bots/demo");
    let ok = Command::new(bin).args(["check", demo]).output().unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let tmp = tempfile::tempdir().unwrap();
    crate::common::write_bot(
        tmp.path(),
        "bad",
        "name = \"x\"\n[[workflows]]\nname = \"w\"\nsteps = [ { dance = 1 } ]\n",
    );
    let bad = Command::new(bin)
        .args(["check"])
        .arg(tmp.path().join("bad"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("bad/bot.toml:4: workflow `w` step 1: unknown step kind"),
        "{err}"
    );
}

#[test]
fn natter_check_validates_handlers() {
    use natter_server::lifecycle::handlers::check_dir;
    let bin = env!("CARGO_BIN_EXE_natter");
    let tmp = tempfile::tempdir().unwrap();
    crate::common::write_bot(tmp.path(), "h", "name = \"x\"\n");
    let dir = tmp.path().join("h");
    let h = dir.join("handlers");
    std::fs::create_dir_all(h.join("conversation_closed")).unwrap();
    std::fs::create_dir_all(h.join("conversation_handed_off")).unwrap();
    std::fs::write(
        h.join("conversation_closed/good.py"),
        "import json\n\ndef handle_event(context):\n    return {}\n",
    )
    .unwrap();
    // Valid handlers only: check passes.
    assert!(check_dir(&dir).is_empty(), "{:?}", check_dir(&dir));
    let ok = Command::new(bin).arg("check").arg(&dir).output().unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );

    std::fs::create_dir_all(h.join("conversation_close")).unwrap();
    std::fs::write(
        h.join("conversation_handed_off/nodef.py"),
        "def handle(context):\n    pass\n",
    )
    .unwrap();
    std::fs::write(h.join("conversation_handed_off/notes.txt"), "hi\n").unwrap();
    let errs: Vec<String> = check_dir(&dir).iter().map(|e| e.to_string()).collect();
    assert_eq!(errs.len(), 3, "{errs:#?}");
    let bad = Command::new(bin).arg("check").arg(&dir).output().unwrap();
    assert_eq!(bad.status.code(), Some(1));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("h/handlers/conversation_close: unknown event folder `conversation_close`"),
        "{err}"
    );
    assert!(
        err.contains(
            "conversation_handed_off/nodef.py:1: handler does not define `handle_event(context)`"
        ),
        "{err}"
    );
    assert!(
        err.contains("conversation_handed_off/notes.txt: not a .py handler"),
        "{err}"
    );
}
