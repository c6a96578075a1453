//! Parsing and validation of `bot.toml` into a [`Bot`].
//!
//! Two passes: serde (with `toml::Spanned` to keep positions) checks syntax, types and
//! unknown keys; then each step table is interpreted by its kind key and every cross-reference
//! (regexes, `goto` targets, key files) is checked. Every error carries file and line.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use jsonwebtoken::{Algorithm, DecodingKey};
use natter_protocol::{Button, Card};
use regex::{Regex, RegexBuilder};
use serde::Deserialize;
use toml::Spanned;

use super::model::*;
use super::ConfigError;
use crate::auth::{Auth, JwtAuth};
use crate::text::{strip_accents, words};

/// Step kinds known to this version (the key that names a step's kind).
pub const STEP_KINDS: &[&str] = &[
    "say",
    "ask",
    "buttons",
    "carousel",
    "branch",
    "goto",
    "handoff",
    "close",
    "user_defined",
    "action",
    "team_online",
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBot {
    name: Option<String>,
    agent: Option<Spanned<String>>,
    greeting: Option<String>,
    fallback: Option<String>,
    auth: Option<Spanned<RawAuth>>,
    #[serde(default)]
    cors: RawCors,
    stream: Option<Spanned<RawStream>>,
    #[serde(default)]
    feedback: RawFeedback,
    #[serde(default)]
    workflows: Vec<Spanned<RawWorkflow>>,
    /// The outbound-address policy of API actions (natter-actions' `NetPolicy`).
    #[serde(default)]
    network: natter_actions::NetPolicy,
    sheets: Option<Spanned<SheetsSettings>>,
    /// `agent = "llm"`: natter-llm's config plus the server's keys (see `bots::llm`).
    llm: Option<Spanned<toml::Table>>,
    /// The CRM connection (`crate::crm::CrmBotSettings`).
    crm: Option<Spanned<toml::Table>>,
    /// Automatic close after inactivity.
    lifecycle: Option<Spanned<crate::lifecycle::LifecycleConfig>>,
    /// The IBM web chat ids this bot answers for (docs/ibm.md).
    #[serde(default)]
    ibm: super::ibm::IbmIds,
    /// Files in conversations: limits and accepted types.
    attachments: Option<Spanned<crate::attachments::AttachmentsConfig>>,
    /// Python actions and handlers: where their code may connect (`bots::egress`).
    #[serde(default)]
    python: RawPython,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPython {
    #[serde(default)]
    egress: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAuth {
    mode: String,
    algorithm: Option<String>,
    secret: Option<String>,
    secret_env: Option<String>,
    public_key_file: Option<String>,
    issuer: Option<String>,
    audience: Option<String>,
    leeway_secs: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawCors {
    #[serde(default)]
    allowed_origins: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStream {
    chunk: Option<String>,
    chunk_size: Option<usize>,
    delay_ms: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawFeedback {
    #[serde(default)]
    all_messages: bool,
    #[serde(default)]
    positive: Vec<String>,
    #[serde(default)]
    negative: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkflow {
    name: String,
    #[serde(default)]
    interrupts: bool,
    #[serde(default)]
    triggers: RawTriggers,
    #[serde(default)]
    steps: Vec<Spanned<toml::Table>>,
    /// LLM bots: what the model is told while this workflow is active.
    instructions: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawTriggers {
    #[serde(default)]
    keywords: Vec<String>,
    #[serde(default)]
    regex: Vec<Spanned<String>>,
}

// Per-kind step shapes. The kind key holds the main value; `id` names the step for `goto`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SayStep {
    #[allow(dead_code)]
    id: Option<String>,
    say: String,
    #[serde(default)]
    feedback: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AskStep {
    #[allow(dead_code)]
    id: Option<String>,
    ask: String,
    prompt: String,
    validate: Option<String>,
    pattern: Option<String>,
    choices: Option<Vec<String>>,
    #[serde(default)]
    buttons: bool,
    retry: Option<String>,
    max_attempts: Option<u32>,
    on_fail: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ButtonsStep {
    #[allow(dead_code)]
    id: Option<String>,
    buttons: String,
    options: Vec<RawButton>,
    save: Option<String>,
    retry: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawButton {
    label: String,
    value: Option<String>,
    url: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CarouselStep {
    #[allow(dead_code)]
    id: Option<String>,
    carousel: String,
    cards: Vec<RawCard>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCard {
    title: String,
    description: Option<String>,
    image_url: Option<String>,
    #[serde(default)]
    buttons: Vec<RawButton>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BranchStep {
    #[allow(dead_code)]
    id: Option<String>,
    branch: String,
    #[serde(default)]
    cases: Vec<RawCase>,
    default: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase {
    equals: Option<String>,
    #[serde(rename = "in")]
    in_: Option<Vec<String>>,
    matches: Option<String>,
    present: Option<bool>,
    goto: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GotoStep {
    #[allow(dead_code)]
    id: Option<String>,
    goto: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HandOffStep {
    #[allow(dead_code)]
    id: Option<String>,
    handoff: String,
    reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ActionStep {
    #[allow(dead_code)]
    id: Option<String>,
    action: String,
    #[serde(default)]
    args: toml::Table,
    save_as: Option<String>,
}

/// `team_online = "var"`: asks the CRM `isTeamOnline` and stores "true"/"false".
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TeamOnlineStep {
    #[allow(dead_code)]
    id: Option<String>,
    team_online: String,
    team: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CloseStep {
    #[allow(dead_code)]
    id: Option<String>,
    close: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserDefinedStep {
    #[allow(dead_code)]
    id: Option<String>,
    user_defined: toml::Value,
    text: Option<String>,
}

/// Collects errors with positions in one file.
struct Ctx<'a> {
    file: PathBuf,
    src: &'a str,
    errors: Vec<ConfigError>,
}

impl Ctx<'_> {
    fn line(&self, span: &Range<usize>) -> usize {
        let end = span.start.min(self.src.len());
        self.src[..end].matches('\n').count() + 1
    }
    fn err(&mut self, span: Option<&Range<usize>>, message: impl Into<String>) {
        let line = span.map(|s| self.line(s));
        self.errors.push(ConfigError {
            file: self.file.clone(),
            line,
            message: message.into(),
        });
    }
}

/// Loads and validates the bot in folder `dir` (its slug is the folder name).
pub fn load_bot(dir: &Path) -> Result<Bot, Vec<ConfigError>> {
    let file = dir.join("bot.toml");
    let one = |line, message: String| {
        vec![ConfigError {
            file: file.clone(),
            line,
            message,
        }]
    };
    let slug = dir
        .file_name()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_string();
    if slug.is_empty()
        || !slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
    {
        return Err(one(
            None,
            format!("bot folder name `{slug}` is not a valid slug (use a-z, 0-9, - and _)"),
        ));
    }
    let src = std::fs::read_to_string(&file).map_err(|e| one(None, format!("cannot read: {e}")))?;
    let mut cx = Ctx {
        file: file.clone(),
        src: &src,
        errors: vec![],
    };
    let raw: RawBot = match toml::from_str(&src) {
        Ok(r) => r,
        Err(e) => {
            let msg = e.message().trim().to_string();
            cx.err(e.span().as_ref(), msg);
            return Err(cx.errors);
        }
    };

    let agent = match raw.agent.as_ref().map(|a| a.get_ref().as_str()) {
        None | Some("scripted") => AgentKind::Scripted,
        Some("llm") => AgentKind::Llm,
        Some(other) => {
            cx.err(
                Some(&raw.agent.as_ref().unwrap().span()),
                format!("unknown agent `{other}` (expected `scripted` or `llm`)"),
            );
            AgentKind::Scripted
        }
    };
    let auth = match &raw.auth {
        None => Auth::None,
        Some(a) => parse_auth(&mut cx, dir, a),
    };
    let mut cors_origins = Vec::new();
    for o in &raw.cors.allowed_origins {
        let v = o.get_ref();
        let ok = (v.starts_with("http://") || v.starts_with("https://"))
            && !v.ends_with('/')
            && v.matches('/').count() == 2;
        if ok {
            cors_origins.push(v.clone());
        } else {
            cx.err(Some(&o.span()), format!("allowed origin `{v}` must be scheme://host[:port] with no path or trailing slash"));
        }
    }
    let stream = match &raw.stream {
        None => StreamConfig::default(),
        Some(s) => {
            let d = StreamConfig::default();
            let chunk = match s.get_ref().chunk.as_deref() {
                None | Some("word") => Chunking::Word,
                Some("char") => Chunking::Char,
                Some("sentence") => Chunking::Sentence,
                Some("whole") => Chunking::Whole,
                Some(other) => {
                    cx.err(
                        Some(&s.span()),
                        format!("stream.chunk `{other}`: expected char, word, sentence or whole"),
                    );
                    Chunking::Word
                }
            };
            let chunk_size = s.get_ref().chunk_size.unwrap_or(1);
            if chunk_size == 0 {
                cx.err(Some(&s.span()), "stream.chunk_size must be at least 1");
            }
            StreamConfig {
                chunk,
                chunk_size: chunk_size.max(1),
                delay_ms: s.get_ref().delay_ms.unwrap_or(d.delay_ms),
            }
        }
    };
    let feedback = FeedbackConfig {
        all_messages: raw.feedback.all_messages,
        positive: raw.feedback.positive,
        negative: raw.feedback.negative,
    };

    let mut workflows = Vec::new();
    let mut names = HashMap::new();
    for wf in raw.workflows {
        let span = wf.span();
        let w = wf.into_inner();
        if let Some(prev) = names.insert(w.name.clone(), cx.line(&span)) {
            cx.err(
                Some(&span),
                format!("workflow `{}` defined twice (first at line {prev})", w.name),
            );
        }
        workflows.push(parse_workflow(&mut cx, w, &span, agent == AgentKind::Llm));
    }
    let llm = match (agent, &raw.llm) {
        (AgentKind::Llm, Some(t)) => {
            let names: Vec<&str> = workflows
                .iter()
                .map(|w: &Workflow| w.name.as_str())
                .collect();
            match super::llm::parse(&file, &src, &t.span(), t.get_ref(), &names) {
                Ok(l) => Some(l),
                Err(errs) => {
                    cx.errors.extend(errs);
                    None
                }
            }
        }
        (AgentKind::Llm, None) => {
            cx.err(
                raw.agent.as_ref().map(|a| a.span()).as_ref(),
                "agent = \"llm\" needs an [llm] table (base_url, model, …; see docs/llm.md)",
            );
            None
        }
        (AgentKind::Scripted, Some(t)) => {
            cx.err(Some(&t.span()), "[llm] is only used with agent = \"llm\"");
            None
        }
        (AgentKind::Scripted, None) => None,
    };

    let sheets = raw
        .sheets
        .as_ref()
        .map(|s| (s.get_ref(), cx.line(&s.span())));
    let actions =
        super::actions::check(dir, &file, &raw.network, sheets, &workflows, &mut cx.errors);

    let crm = raw.crm.as_ref().and_then(|t| {
        match crate::crm::CrmBotSettings::parse(&slug, t.get_ref()) {
            Ok(c) => Some(c),
            Err(e) => {
                cx.err(Some(&t.span()), e);
                None
            }
        }
    });
    let lifecycle = raw.lifecycle.map(|l| {
        let span = l.span();
        let l = l.into_inner();
        if let Err(e) = l.check() {
            cx.err(Some(&span), e);
        }
        l
    });

    let attachments = raw.attachments.map(|a| {
        let span = a.span();
        let a = a.into_inner();
        if let Err(e) = a.check() {
            cx.err(Some(&span), e);
        }
        a
    });

    let mut egress = Vec::new();
    for e in &raw.python.egress {
        match super::egress::parse_entry(e.get_ref()) {
            Ok(entry) => egress.push(entry),
            Err(err) => cx.err(Some(&e.span()), format!("python.egress: {err}")),
        }
    }

    if !cx.errors.is_empty() {
        return Err(cx.errors);
    }
    Ok(Bot {
        name: raw.name.unwrap_or_else(|| slug.clone()),
        slug,
        dir: dir.to_path_buf(),
        agent,
        greeting: raw.greeting,
        fallback: raw
            .fallback
            .unwrap_or_else(|| "Sorry, I didn't understand that.".into()),
        auth,
        cors_origins,
        stream,
        feedback,
        workflows,
        llm,
        actions,
        network: raw.network,
        python_egress: super::egress::EgressList::new(egress),
        sheets: raw.sheets.map(Spanned::into_inner),
        crm,
        lifecycle: lifecycle.unwrap_or_default(),
        ibm: raw.ibm,
        attachments: attachments.unwrap_or_default(),
    })
}

fn parse_auth(cx: &mut Ctx, dir: &Path, a: &Spanned<RawAuth>) -> Auth {
    let span = a.span();
    let a = a.get_ref();
    match a.mode.as_str() {
        "none" => Auth::None,
        "jwt" => {
            let leeway = a.leeway_secs.unwrap_or(30);
            let (alg, key) = match a.algorithm.as_deref() {
                Some("HS256") => {
                    let secret = match (&a.secret, &a.secret_env) {
                        (Some(s), None) => Some(s.clone()),
                        (None, Some(var)) => {
                            match std::env::var(var) {
                                Ok(v) if !v.is_empty() => Some(v),
                                _ => {
                                    cx.err(Some(&span), format!("auth.secret_env: environment variable `{var}` is not set"));
                                    None
                                }
                            }
                        }
                        _ => {
                            cx.err(
                                Some(&span),
                                "HS256 needs exactly one of auth.secret or auth.secret_env",
                            );
                            None
                        }
                    };
                    match secret {
                        Some(s) if s.len() < 32 => {
                            cx.err(Some(&span), "HS256 secret must be at least 32 bytes");
                            return Auth::None;
                        }
                        Some(s) => (Algorithm::HS256, DecodingKey::from_secret(s.as_bytes())),
                        None => return Auth::None,
                    }
                }
                Some("RS256") => {
                    let Some(f) = &a.public_key_file else {
                        cx.err(Some(&span), "RS256 needs auth.public_key_file (a PEM public key, relative to the bot folder)");
                        return Auth::None;
                    };
                    let path = dir.join(f);
                    let pem = match std::fs::read(&path) {
                        Ok(p) => p,
                        Err(e) => {
                            cx.err(
                                Some(&span),
                                format!("auth.public_key_file {}: {e}", path.display()),
                            );
                            return Auth::None;
                        }
                    };
                    match DecodingKey::from_rsa_pem(&pem) {
                        Ok(k) => (Algorithm::RS256, k),
                        Err(e) => {
                            cx.err(
                                Some(&span),
                                format!(
                                    "auth.public_key_file {}: not an RSA public key in PEM: {e}",
                                    path.display()
                                ),
                            );
                            return Auth::None;
                        }
                    }
                }
                other => {
                    cx.err(
                        Some(&span),
                        format!("auth.algorithm {other:?}: expected \"HS256\" or \"RS256\""),
                    );
                    return Auth::None;
                }
            };
            Auth::Jwt(Box::new(JwtAuth::new(
                alg,
                key,
                a.issuer.clone(),
                a.audience.clone(),
                leeway,
            )))
        }
        other => {
            cx.err(
                Some(&span),
                format!("auth.mode `{other}`: expected \"none\" or \"jwt\""),
            );
            Auth::None
        }
    }
}

fn regex(cx: &mut Ctx, span: &Range<usize>, what: &str, pattern: &str) -> Option<Regex> {
    // Accents are stripped from the pattern like from the input; case is ignored by the flag.
    match RegexBuilder::new(&strip_accents(pattern))
        .case_insensitive(true)
        .size_limit(1 << 20)
        .build()
    {
        Ok(r) => Some(r),
        Err(e) => {
            cx.err(
                Some(span),
                format!(
                    "{what}: invalid regex `{pattern}`: {}",
                    e.to_string().lines().last().unwrap_or("")
                ),
            );
            None
        }
    }
}

/// `llm`: the bot is an LLM bot, whose workflows may have instructions instead of steps.
fn parse_workflow(cx: &mut Ctx, w: RawWorkflow, span: &Range<usize>, llm: bool) -> Workflow {
    let mut triggers = Triggers::default();
    for k in &w.triggers.keywords {
        let ws = words(k);
        if ws.is_empty() {
            cx.err(
                Some(span),
                format!("workflow `{}`: keyword `{k}` has no words", w.name),
            );
        } else {
            triggers.keywords.push(ws);
        }
    }
    for r in &w.triggers.regex {
        if let Some(re) = regex(
            cx,
            &r.span(),
            &format!("workflow `{}` trigger", w.name),
            r.get_ref(),
        ) {
            triggers.regex.push(re);
        }
    }
    // First pass: step ids, so gotos may point forward.
    let mut ids: StepIds = HashMap::new();
    for (i, s) in w.steps.iter().enumerate() {
        if let Some(toml::Value::String(id)) = s.get_ref().get("id") {
            if id == "end" {
                cx.err(
                    Some(&s.span()),
                    "step id `end` is reserved (it means: end the workflow)",
                );
            } else if ids.insert(id.clone(), i).is_some() {
                cx.err(
                    Some(&s.span()),
                    format!("workflow `{}`: step id `{id}` used twice", w.name),
                );
            }
        }
    }
    let mut steps = Vec::new();
    for (i, s) in w.steps.iter().enumerate() {
        let what = format!("workflow `{}` step {}", w.name, i + 1);
        if let Some(step) = parse_step(cx, &what, &s.span(), s.get_ref(), &ids) {
            steps.push(step);
        }
    }
    if w.steps.is_empty() && !llm {
        cx.err(Some(span), format!("workflow `{}` has no steps", w.name));
    }
    if llm && !w.steps.is_empty() {
        cx.err(
            Some(span),
            format!(
                "workflow `{}`: an LLM bot's workflows have `instructions`, not steps",
                w.name
            ),
        );
    }
    if !llm && w.instructions.is_some() {
        cx.err(Some(span), format!("workflow `{}`: `instructions` are for LLM bots (agent = \"llm\"); scripted workflows have steps", w.name));
    }
    Workflow {
        name: w.name,
        triggers,
        interrupts: w.interrupts,
        steps,
        instructions: w.instructions,
    }
}

fn target(cx: &mut Ctx, span: &Range<usize>, what: &str, name: &str, ids: &StepIds) -> Target {
    if name == "end" {
        return Target::End;
    }
    match ids.get(name) {
        Some(i) => Target::Step(*i),
        None => {
            cx.err(
                Some(span),
                format!(
                    "{what}: goto `{name}`: no step with that id in this workflow (or use `end`)"
                ),
            );
            Target::End
        }
    }
}

fn button(b: RawButton) -> Button {
    Button {
        value: b.value.unwrap_or_else(|| b.label.clone()),
        label: b.label,
        url: b.url,
    }
}

/// Interprets one step table; `None` after reporting an error.
fn parse_step(
    cx: &mut Ctx,
    what: &str,
    span: &Range<usize>,
    t: &toml::Table,
    ids: &StepIds,
) -> Option<Step> {
    // `buttons = true` on an `ask` is an option of that step, not the `buttons` kind.
    let kinds: Vec<&str> = STEP_KINDS
        .iter()
        .copied()
        .filter(|k| t.get(*k).is_some_and(|v| !(*k == "buttons" && v.is_bool())))
        .collect();
    let kind = match kinds.as_slice() {
        [k] => *k,
        [] => {
            let keys: Vec<&String> = t.keys().filter(|k| *k != "id").collect();
            cx.err(
                Some(span),
                format!(
                    "{what}: unknown step kind (keys: {keys:?}); a step has exactly one of: {}",
                    STEP_KINDS.join(", ")
                ),
            );
            return None;
        }
        many => {
            cx.err(
                Some(span),
                format!(
                    "{what}: a step has exactly one kind, found {}",
                    many.join(" and ")
                ),
            );
            return None;
        }
    };
    let what = format!("{what} ({kind})");
    macro_rules! shape {
        ($ty:ty) => {
            match toml::Value::Table(t.clone()).try_into::<$ty>() {
                Ok(v) => v,
                Err(e) => {
                    cx.err(Some(span), format!("{what}: {}", e.message().trim()));
                    return None;
                }
            }
        };
    }
    Some(match kind {
        "say" => {
            let s = shape!(SayStep);
            Step::Say {
                text: s.say,
                feedback: s.feedback,
            }
        }
        "ask" => {
            let s = shape!(AskStep);
            let validate = match (s.validate.as_deref(), &s.pattern, &s.choices) {
                (None | Some("any"), None, None) => Validation::Any,
                (Some("number"), None, None) => Validation::Number,
                (Some("email"), None, None) => Validation::Email,
                (None | Some("regex"), Some(p), None) => {
                    Validation::Regex(regex(cx, span, &what, p)?)
                }
                (None | Some("choice"), None, Some(c)) if !c.is_empty() => {
                    Validation::Choice(c.clone())
                }
                (v, p, c) => {
                    cx.err(
                        Some(span),
                        format!(
                            "{what}: validate {v:?} with pattern={} choices={}: use validate = any | number | email, \
                             or `pattern = \"regex\"`, or `choices = [..]` (non-empty)",
                            p.is_some(),
                            c.is_some()
                        ),
                    );
                    return None;
                }
            };
            if s.buttons && !matches!(validate, Validation::Choice(_)) {
                cx.err(
                    Some(span),
                    format!("{what}: `buttons = true` needs `choices`"),
                );
            }
            if s.max_attempts == Some(0) {
                cx.err(
                    Some(span),
                    format!("{what}: max_attempts must be at least 1"),
                );
            }
            if !valid_var(&s.ask) {
                cx.err(
                    Some(span),
                    format!(
                        "{what}: variable name `{}` must be letters, digits and _",
                        s.ask
                    ),
                );
            }
            Step::Ask(Ask {
                var: s.ask,
                prompt: s.prompt,
                validate,
                buttons: s.buttons,
                retry: s
                    .retry
                    .unwrap_or_else(|| "Sorry, that doesn't look right.".into()),
                max_attempts: s.max_attempts.unwrap_or(3).max(1),
                on_fail: s.on_fail,
            })
        }
        "buttons" => {
            let s = shape!(ButtonsStep);
            if s.options.is_empty() {
                cx.err(Some(span), format!("{what}: needs at least one option"));
            }
            if let Some(v) = &s.save {
                if !valid_var(v) {
                    cx.err(
                        Some(span),
                        format!("{what}: variable name `{v}` must be letters, digits and _"),
                    );
                }
            }
            Step::Buttons {
                text: s.buttons,
                options: s.options.into_iter().map(button).collect(),
                save: s.save,
                retry: s.retry,
            }
        }
        "carousel" => {
            let s = shape!(CarouselStep);
            if s.cards.is_empty() {
                cx.err(Some(span), format!("{what}: needs at least one card"));
            }
            let cards = s
                .cards
                .into_iter()
                .map(|c| Card {
                    title: c.title,
                    description: c.description,
                    image_url: c.image_url,
                    buttons: c.buttons.into_iter().map(button).collect(),
                })
                .collect();
            Step::Carousel {
                text: (!s.carousel.is_empty()).then_some(s.carousel),
                cards,
            }
        }
        "branch" => {
            let s = shape!(BranchStep);
            let mut cases = Vec::new();
            for c in s.cases {
                let n = [
                    c.equals.is_some(),
                    c.in_.is_some(),
                    c.matches.is_some(),
                    c.present.is_some(),
                ]
                .iter()
                .filter(|b| **b)
                .count();
                if n != 1 {
                    cx.err(
                        Some(span),
                        format!(
                            "{what}: each case needs exactly one of equals, in, matches, present"
                        ),
                    );
                    continue;
                }
                let cond = if let Some(e) = c.equals {
                    Condition::Equals(e)
                } else if let Some(i) = c.in_ {
                    Condition::In(i)
                } else if let Some(m) = c.matches {
                    match regex(cx, span, &what, &m) {
                        Some(r) => Condition::Matches(r),
                        None => continue,
                    }
                } else {
                    Condition::Present
                };
                cases.push((cond, target(cx, span, &what, &c.goto, ids)));
            }
            let default = s.default.map(|d| target(cx, span, &what, &d, ids));
            Step::Branch {
                var: s.branch,
                cases,
                default,
            }
        }
        "goto" => {
            let s = shape!(GotoStep);
            Step::Goto(target(cx, span, &what, &s.goto, ids))
        }
        "handoff" => {
            let s = shape!(HandOffStep);
            Step::HandOff {
                text: (!s.handoff.is_empty()).then_some(s.handoff),
                reason: s.reason,
            }
        }
        "team_online" => {
            let s = shape!(TeamOnlineStep);
            if !valid_var(&s.team_online) {
                cx.err(
                    Some(span),
                    format!(
                        "{what}: `{}` must be a variable name (letters, digits and _)",
                        s.team_online
                    ),
                );
            }
            Step::TeamOnline {
                var: s.team_online,
                team: s.team,
            }
        }
        "close" => {
            let s = shape!(CloseStep);
            Step::Close {
                text: (!s.close.is_empty()).then_some(s.close),
            }
        }
        "action" => {
            let s = shape!(ActionStep);
            let save_as = s.save_as.unwrap_or_else(|| "result".into());
            if !valid_var(&save_as) {
                cx.err(
                    Some(span),
                    format!("{what}: save_as `{save_as}` must be letters, digits and _"),
                );
            }
            let args = match serde_json::to_value(&s.args) {
                Ok(serde_json::Value::Object(m)) => m,
                _ => serde_json::Map::new(),
            };
            Step::Action {
                name: s.action,
                args,
                save_as,
                line: cx.line(span),
            }
        }
        "user_defined" => {
            let s = shape!(UserDefinedStep);
            let data = serde_json::to_value(&s.user_defined).unwrap_or_default();
            Step::UserDefined { text: s.text, data }
        }
        _ => unreachable!("every STEP_KINDS entry is handled"),
    })
}

fn valid_var(v: &str) -> bool {
    !v.is_empty()
        && v.chars().all(|c| c.is_alphanumeric() || c == '_')
        && !v.starts_with(|c: char| c.is_ascii_digit())
}
