//! The scripted workflow engine: the default [`Agent`].
//!
//! A turn either answers a pending question (an `ask`, or `buttons` with `save`), or starts
//! the first workflow whose trigger matches the message, or says the bot's fallback. A running
//! workflow executes steps until one waits for the user or the workflow ends. State between
//! turns (current workflow, step, pending question, attempts, `$variables`) is the JSON
//! [`State`] saved with each run.
//!
//! Matching is case- and accent-insensitive: keywords are compared as normalized word
//! sequences, regexes run case-insensitively on the accent-stripped message. Workflows marked
//! `interrupts = true` may start while a question is pending (e.g. "talk to a human").
//!
//! Text is rendered with `{{var}}` templates, then streamed as deltas cut and paced by the
//! bot's `[stream]` config; buttons and cards arrive with `message.completed`.
//!
//! An `action` step calls one of the bot's actions through [`ActionRunner`] (arguments from
//! `$variables`, see `actions::args`) and stores what the bot gets — the result or
//! `{"error": …}` — in its `save_as` variable, for `{{result.status}}` and `branch`. An action
//! that hands the conversation off ends the workflow: the bot says nothing more.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use natter_protocol::{response_type, Button, ContentItem, FeedbackOptions, MessageOptions, Role};
use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Agent, AgentError, Reply, ReplyError, Turn};
use crate::actions::args::render_args;
use crate::actions::{ActionRunner, CallSite};
use crate::bots::{Ask, Bot, Condition, Step, Target, Validation, Workflow};
use crate::store::Thread;
use crate::text::{
    chunks, contains_words, lookup, normalize, render, strip_accents, value_text, words,
};

/// A workflow that jumps more than this many steps in one turn is looping.
const MAX_STEPS_PER_TURN: usize = 200;

pub struct ScriptedAgent {
    bot: Arc<Bot>,
    /// `None`: `action` steps answer `{"error": …}` (a bot loaded without a server).
    actions: Option<Arc<ActionRunner>>,
}

impl ScriptedAgent {
    pub fn new(bot: Arc<Bot>) -> Self {
        ScriptedAgent { bot, actions: None }
    }

    pub fn with_actions(mut self, actions: Arc<ActionRunner>) -> Self {
        self.actions = Some(actions);
        self
    }
}

#[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct State {
    #[serde(default)]
    pub workflow: Option<String>,
    #[serde(default)]
    pub step: usize,
    /// Set while waiting for the answer to the step at `step`.
    #[serde(default)]
    pub waiting: Option<Waiting>,
    #[serde(default)]
    pub vars: Map<String, Value>,
}

#[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Waiting {
    pub attempts: u32,
}

struct Run<'a> {
    bot: &'a Bot,
    actions: Option<&'a ActionRunner>,
    thread: &'a Thread,
    run_id: &'a str,
    out: &'a mut dyn Reply,
    cancel: tokio_util::sync::CancellationToken,
    st: State,
}

#[async_trait]
impl Agent for ScriptedAgent {
    fn greeting(&self, _thread: &Thread) -> Option<(Vec<ContentItem>, MessageOptions)> {
        let g = self.bot.greeting.as_ref()?;
        Some((
            vec![ContentItem::text("c0", render(g, &Map::new()))],
            MessageOptions::default(),
        ))
    }

    async fn turn(&self, turn: Turn<'_>, out: &mut dyn Reply) -> Result<Value, AgentError> {
        let st: State = serde_json::from_value(turn.state).unwrap_or_default();
        let mut run = Run {
            bot: &self.bot,
            actions: self.actions.as_deref(),
            thread: turn.thread,
            run_id: turn.run_id,
            out,
            cancel: turn.cancel,
            st,
        };
        let input = turn.input.trim();
        run.st
            .vars
            .insert("last_message".into(), Value::String(input.to_string()));
        if let Some(ctx) = turn.context {
            run.st.vars.insert("context".into(), ctx.clone());
        }
        let pending = run.st.waiting.is_some() && run.current().is_some();
        if pending {
            if let Some(wf) = run.find_workflow(input, true) {
                run.start(wf);
            } else {
                run.answer(input).await?;
                return run.finish();
            }
        } else if let Some(wf) = run.find_workflow(input, false) {
            run.start(wf);
        } else {
            run.end_workflow();
            let text = self.bot.fallback.clone();
            run.say(&text, vec![], false).await?;
            return run.finish();
        }
        run.execute().await?;
        run.finish()
    }
}

impl<'a> Run<'a> {
    fn finish(self) -> Result<Value, AgentError> {
        serde_json::to_value(self.st).map_err(|e| AgentError::Failed(e.to_string()))
    }

    /// The running workflow (borrowing the bot, not `self`, so steps can run while it is held).
    fn current(&self) -> Option<&'a Workflow> {
        let bot: &'a Bot = self.bot;
        let name = self.st.workflow.as_ref()?;
        bot.workflows.iter().find(|w| &w.name == name)
    }

    fn find_workflow(&self, input: &str, interrupts_only: bool) -> Option<usize> {
        let ws = words(input);
        let stripped = strip_accents(input);
        self.bot.workflows.iter().position(|w| {
            (!interrupts_only || w.interrupts)
                && (w.triggers.keywords.iter().any(|k| contains_words(&ws, k))
                    || w.triggers.regex.iter().any(|r| r.is_match(&stripped)))
        })
    }

    fn start(&mut self, wf: usize) {
        self.st.workflow = Some(self.bot.workflows[wf].name.clone());
        self.st.step = 0;
        self.st.waiting = None;
    }

    fn end_workflow(&mut self) {
        self.st.workflow = None;
        self.st.step = 0;
        self.st.waiting = None;
    }

    /// Handles the user's answer to the pending question at `st.step`.
    async fn answer(&mut self, input: &str) -> Result<(), AgentError> {
        let bot = self.bot;
        let wf = self.current().expect("pending implies a workflow");
        let step = &wf.steps[self.st.step];
        let (var, value, retry, max, on_fail) = match step {
            Step::Ask(a) => (
                a.var.clone(),
                validate(&a.validate, input),
                a.retry.clone(),
                a.max_attempts,
                a.on_fail.clone(),
            ),
            Step::Buttons {
                options,
                save: Some(var),
                retry,
                ..
            } => (
                var.clone(),
                choose(options, input),
                retry
                    .clone()
                    .unwrap_or_else(|| "Please choose one of the options.".into()),
                3,
                None,
            ),
            _ => {
                // The config changed under a waiting conversation: start over.
                self.end_workflow();
                return self.say(&bot.fallback.clone(), vec![], false).await;
            }
        };
        match value {
            Some(v) => {
                self.st.vars.insert(var, Value::String(v));
                self.st.waiting = None;
                self.st.step += 1;
                self.execute().await
            }
            None => {
                let attempts = self.st.waiting.as_ref().map_or(0, |w| w.attempts) + 1;
                if attempts >= max {
                    let text = on_fail.unwrap_or_else(|| bot.fallback.clone());
                    self.end_workflow();
                    return self.say(&text, vec![], false).await;
                }
                self.st.waiting = Some(Waiting { attempts });
                self.say(&retry, vec![], false).await?;
                // Re-ask: run the same step again (it shows the prompt and waits).
                self.execute().await
            }
        }
    }

    /// Runs steps from `st.step` until one waits or the workflow ends.
    async fn execute(&mut self) -> Result<(), AgentError> {
        for _ in 0..MAX_STEPS_PER_TURN {
            let Some(wf) = self.current() else {
                return Ok(());
            };
            let Some(step) = wf.steps.get(self.st.step) else {
                self.end_workflow();
                return Ok(());
            };
            match step {
                Step::Say { text, feedback } => {
                    self.say(text, vec![], *feedback).await?;
                    self.st.step += 1;
                }
                Step::Ask(a) => {
                    self.ask(a).await?;
                    return Ok(());
                }
                Step::Buttons {
                    text,
                    options,
                    save,
                    ..
                } => {
                    let item = option_item(options.clone());
                    self.say(text, vec![item], false).await?;
                    if save.is_some() {
                        let attempts = self.st.waiting.as_ref().map_or(0, |w| w.attempts);
                        self.st.waiting = Some(Waiting { attempts });
                        return Ok(());
                    }
                    self.st.step += 1;
                }
                Step::Carousel { text, cards } => {
                    let item = ContentItem {
                        id: "c1".into(),
                        response_type: response_type::CAROUSEL.into(),
                        cards: Some(cards.clone()),
                        ..Default::default()
                    };
                    self.say(text.as_deref().unwrap_or(""), vec![item], false)
                        .await?;
                    self.st.step += 1;
                }
                Step::Branch {
                    var,
                    cases,
                    default,
                } => {
                    let value = lookup(&self.st.vars, var).map(value_text);
                    let hit = cases
                        .iter()
                        .find(|(c, _)| condition(c, value.as_deref()))
                        .map(|(_, t)| *t);
                    match hit.or(*default) {
                        Some(t) => self.jump(t),
                        None => self.st.step += 1,
                    }
                }
                Step::Goto(t) => self.jump(*t),
                Step::Action {
                    name,
                    args,
                    save_as,
                    ..
                } => {
                    let handed_off = self.call_action(&wf.name, name, args, save_as).await;
                    if handed_off {
                        self.end_workflow();
                        return Ok(());
                    }
                    self.st.step += 1;
                }
                Step::HandOff { text, reason } => {
                    // With a CRM, `escalate` first: a refusal is told and the workflow goes on.
                    if self.out.escalate().await? == Some(false) {
                        let refused = self
                            .bot
                            .crm
                            .as_ref()
                            .map(|c| c.escalation_refused.clone())
                            .unwrap_or_default();
                        self.say(&refused, vec![], false).await?;
                        self.st.step += 1;
                        continue;
                    }
                    if let Some(t) = text {
                        self.say(t, vec![], false).await?;
                    }
                    let reason = reason.as_ref().map(|r| render(r, &self.st.vars));
                    self.end_workflow();
                    self.out.hand_off(reason).await?;
                    return Ok(());
                }
                Step::TeamOnline { var, team } => {
                    let online = self.out.team_online(team.clone()).await?.unwrap_or(false);
                    self.st
                        .vars
                        .insert(var.clone(), Value::String(online.to_string()));
                    self.st.step += 1;
                }
                Step::Close { text } => {
                    if let Some(t) = text {
                        self.say(t, vec![], false).await?;
                    }
                    self.end_workflow();
                    self.out.close(None).await?;
                    return Ok(());
                }
                Step::UserDefined { text, data } => {
                    let item = ContentItem {
                        id: "c0".into(),
                        response_type: response_type::USER_DEFINED.into(),
                        user_defined: Some(data.clone()),
                        ..Default::default()
                    };
                    self.say(text.as_deref().unwrap_or(""), vec![item], false)
                        .await?;
                    self.st.step += 1;
                }
            }
        }
        let name = self.st.workflow.clone().unwrap_or_default();
        self.end_workflow();
        Err(AgentError::Failed(format!(
            "workflow `{name}` ran {MAX_STEPS_PER_TURN} steps in one turn (a goto loop?)"
        )))
    }

    /// Runs an `action` step; `true` when the action handed the conversation off.
    async fn call_action(
        &mut self,
        workflow: &str,
        name: &str,
        args: &Map<String, Value>,
        save_as: &str,
    ) -> bool {
        let bot = self.bot;
        let (value, handed_off) = match (self.actions, bot.actions.get(name)) {
            (Some(runner), Some(action)) => {
                let args = render_args(action, args, &self.st.vars);
                let site = CallSite {
                    thread: Some(self.thread),
                    run_id: Some(self.run_id),
                    test: false,
                };
                let called = runner
                    .call_in_workflow(bot, workflow, name, args, site, Some(&mut *self.out))
                    .await;
                (called.value, called.handed_off)
            }
            _ => (
                serde_json::json!({"error": format!("action `{name}` is not available")}),
                false,
            ),
        };
        self.st.vars.insert(save_as.to_string(), value);
        handed_off
    }

    fn jump(&mut self, t: Target) {
        match t {
            Target::Step(i) => self.st.step = i,
            Target::End => self.end_workflow(),
        }
    }

    async fn ask(&mut self, a: &Ask) -> Result<(), AgentError> {
        let extra = match (&a.validate, a.buttons) {
            (Validation::Choice(c), true) => {
                vec![option_item(
                    c.iter()
                        .map(|c| Button {
                            label: c.clone(),
                            value: c.clone(),
                            url: None,
                        })
                        .collect(),
                )]
            }
            _ => vec![],
        };
        self.say(&a.prompt, extra, false).await?;
        let attempts = self.st.waiting.as_ref().map_or(0, |w| w.attempts);
        self.st.waiting = Some(Waiting { attempts });
        Ok(())
    }

    /// One bot message: `text` (templated, streamed) then `extra` items.
    async fn say(
        &mut self,
        text: &str,
        extra: Vec<ContentItem>,
        feedback: bool,
    ) -> Result<(), AgentError> {
        let text = render(text, &self.st.vars);
        let cfg = &self.bot.stream;
        self.out.begin(Role::Assistant).await?;
        let pieces = chunks(&text, cfg.chunk, cfg.chunk_size);
        if cfg.delay_ms == 0 {
            // Unpaced: the whole text is ready, write its deltas in one commit.
            let refs: Vec<&str> = pieces.iter().map(String::as_str).collect();
            if !refs.is_empty() {
                self.out.deltas("c0", &refs).await?;
            }
        } else {
            for (i, piece) in pieces.iter().enumerate() {
                if i > 0 {
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(cfg.delay_ms)) => {}
                        _ = self.cancel.cancelled() => return Err(ReplyError::Cancelled.into()),
                    }
                }
                self.out.delta("c0", piece).await?;
            }
        }
        let mut content = extra;
        match content.first_mut() {
            // A `user_defined` reply is one item with its text in it (the deltas' `c0`): the host
            // page draws it whole, as IBM web chat pages do, not a text bubble and then the item.
            Some(it) if it.response_type == response_type::USER_DEFINED => {
                it.text = (!text.is_empty()).then_some(text);
            }
            _ if !text.is_empty() => content.insert(0, ContentItem::text("c0", text)),
            _ => {}
        }
        let fb = &self.bot.feedback;
        let options = MessageOptions {
            feedback: (feedback || fb.all_messages).then(|| FeedbackOptions {
                enabled: true,
                positive_categories: fb.positive.clone(),
                negative_categories: fb.negative.clone(),
            }),
        };
        self.out.complete(content, options).await?;
        Ok(())
    }
}

fn option_item(options: Vec<Button>) -> ContentItem {
    ContentItem {
        id: "c1".into(),
        response_type: response_type::OPTION.into(),
        options: Some(options),
        ..Default::default()
    }
}

fn email_re() -> &'static Regex {
    static RE: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| Regex::new(r"^[^@\s]+@[^@\s]+\.[^@\s]+$").unwrap())
}

/// The value to keep, or `None` when `input` is not a valid answer.
pub fn validate(v: &Validation, input: &str) -> Option<String> {
    let input = input.trim();
    if input.is_empty() {
        return None;
    }
    match v {
        Validation::Any => Some(input.to_string()),
        Validation::Number => input
            .replace(',', ".")
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(|_| input.to_string()),
        Validation::Email => email_re().is_match(input).then(|| input.to_string()),
        Validation::Regex(re) => {
            let stripped = strip_accents(input);
            let caps = re.captures(&stripped)?;
            Some(caps.get(1).or_else(|| caps.get(0))?.as_str().to_string())
        }
        Validation::Choice(choices) => {
            let n = normalize(input);
            choices.iter().find(|c| normalize(c) == n).cloned()
        }
    }
}

fn choose(options: &[Button], input: &str) -> Option<String> {
    let n = normalize(input.trim());
    options
        .iter()
        .find(|o| normalize(&o.value) == n || normalize(&o.label) == n)
        .map(|o| o.value.clone())
}

fn condition(c: &Condition, value: Option<&str>) -> bool {
    match (c, value) {
        (Condition::Present, v) => v.is_some_and(|v| !v.trim().is_empty()),
        (_, None) => false,
        (Condition::Equals(e), Some(v)) => normalize(e) == normalize(v),
        (Condition::In(list), Some(v)) => list.iter().any(|e| normalize(e) == normalize(v)),
        (Condition::Matches(re), Some(v)) => re.is_match(&strip_accents(v)),
    }
}
