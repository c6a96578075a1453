//! The widget's JS binding in headless Chromium (wasm-bindgen-test): registration forms,
//! order, once/off, async handlers, errors, timeouts, delta ordering, every read-back, views by
//! click and by call, bad input, destroy. Run with `scripts/test-widget-browser`.
//!
//! Handlers are real JS functions (built with `new Function`), the instance they receive is the
//! real `NatterChat` wrapper, and the transport side (deltas, messages, history, 401s) is driven
//! through the crate's Rust seam, the same path the SSE transport takes.
#![cfg(target_arch = "wasm32")]

use js_sys::{Array, Function, Object, Promise, Reflect};
use natter::web::Chat;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;
use web_sys::{Element, HtmlElement};

wasm_bindgen_test_configure!(run_in_browser);

fn eval(body: &str) -> JsValue {
    Function::new_no_args(body).call0(&JsValue::NULL).unwrap()
}

/// A JS handler `function (e, i) { body }` that can use `log` (an array) and `t` (test state).
fn handler(log: &Array, body: &str) -> JsValue {
    let make = Function::new_with_args("log", &format!("return function (e, i) {{ {body} }}"));
    make.call1(&JsValue::NULL, log).unwrap()
}

fn get(v: &JsValue, path: &str) -> JsValue {
    path.split('.').fold(v.clone(), |o, k| {
        Reflect::get(&o, &k.into()).unwrap_or(JsValue::UNDEFINED)
    })
}

fn joined(log: &Array) -> String {
    log.join(",").into()
}

async fn sleep(ms: i32) {
    let p = Promise::new(&mut |r, _| {
        web_sys::window()
            .unwrap()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&r, ms)
            .unwrap();
    });
    JsFuture::from(p).await.unwrap();
}

/// Polls (no wall-clock assertion: only a bound on how long to keep trying).
async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..300 {
        if cond() {
            return;
        }
        sleep(10).await;
    }
    panic!("never happened: {what}");
}

async fn wait(p: Promise) -> JsValue {
    JsFuture::from(p).await.unwrap()
}

/// Replaces `fetch` (once) with a stand-in Natter server: threads are created, sends
/// acknowledged (recorded in `__natterStub.posts`; held while `__natterStub.hold`), history is
/// empty and the event stream stays open without events. The chat-*.test.mjs e2e tests use the
/// real server.
fn stub_fetch() {
    eval(
        "if (!globalThis.__natterStub) { const S = globalThis.__natterStub = {posts: [], hold: false, held: []};
        globalThis.fetch = async (url, init = {}) => {
          const u = String(url), m = init.method || 'GET';
          const json = (s, b) => new Response(JSON.stringify(b), {status: s, headers: {'content-type': 'application/json'}});
          if (m === 'POST' && u.endsWith('/threads')) return json(201, {threadId: 'thr_stub', publicId: 'P'});
          if (m === 'POST' && u.endsWith('/messages')) {
            S.posts.push(JSON.parse(init.body));
            if (S.hold) await new Promise((r) => S.held.push(r));
            return json(202, {messageId: 'msg_' + S.posts.length, runId: null});
          }
          if (u.includes('/events')) return new Response(new ReadableStream({start() {}}), {status: 200});
          if (m === 'GET') return json(200, {messages: [], status: 'open', lastSeq: 0});
          return json(200, {});
        }; }",
    );
}

/// A widget plus its JS wrapper (what handlers get as `instance`), like `loadChat` makes.
fn new_chat(extra: &str) -> (Chat, JsValue) {
    stub_fetch();
    let o = eval(&format!(
        "return {{serverUrl: 'https://chat.example.com', bot: 'demo', persistence: 'none', handlerTimeoutMs: 60, {extra}}}"
    ));
    let chat = Chat::create(o).unwrap();
    let instance: JsValue = chat.clone().into();
    chat.attach(instance.clone(), JsValue::UNDEFINED);
    (chat, instance)
}

fn on(c: &Chat, ty: &str, h: JsValue) {
    c.on(ty.into(), h).unwrap();
}

fn emit(c: &Chat, ty: &str) {
    c.emit_raw(ty.into(), JsValue::UNDEFINED).unwrap();
}

fn part(c: &Chat, name: &str) -> HtmlElement {
    let root = c.host().unwrap().shadow_root().unwrap();
    root.query_selector(&format!("[part={name}]"))
        .unwrap()
        .unwrap()
        .unchecked_into()
}

fn parts(c: &Chat, name: &str) -> Vec<Element> {
    let root = c.host().unwrap().shadow_root().unwrap();
    let list = root.query_selector_all(&format!("[part={name}]")).unwrap();
    (0..list.length())
        .map(|i| list.item(i).unwrap().unchecked_into())
        .collect()
}

fn visible(e: &HtmlElement) -> bool {
    !e.has_attribute("hidden")
}

/// Captures console.error / console.warn first arguments into `window.__console`.
fn capture_console() -> Array {
    eval("window.__console = []; for (const k of ['error','warn']) { console['__' + k] ??= console[k]; console[k] = (m) => __console.push(k + ':' + m); } return __console;")
        .unchecked_into()
}

fn restore_console() {
    eval(
        "for (const k of ['error','warn']) if (console['__' + k]) console[k] = console['__' + k];",
    );
}

fn type_error(r: Result<JsValue, JsValue>) -> String {
    let e = r.expect_err("expected a TypeError");
    assert!(
        e.is_instance_of::<js_sys::TypeError>(),
        "not a TypeError: {e:?}"
    );
    get(&e, "message").as_string().unwrap()
}

#[wasm_bindgen_test]
fn registration_forms_order_once_wildcard_instance_and_chaining() {
    let (c, inst) = new_chat("");
    let log = Array::new();
    let ret = c
        .on(
            "send".into(),
            handler(&log, "log.push('a' + (i === t.inst))"),
        )
        .unwrap();
    assert!(Object::is(&ret, &inst), "on returns the instance");
    eval("globalThis.t = {}");
    Reflect::set(&get(&eval("return globalThis"), "t"), &"inst".into(), &inst).unwrap();
    let hb = handler(&log, "log.push('b')");
    let obj = Object::new();
    Reflect::set(&obj, &"type".into(), &"send".into()).unwrap();
    Reflect::set(&obj, &"handler".into(), &hb).unwrap();
    c.on(obj.into(), JsValue::UNDEFINED).unwrap();
    let arr = Array::of2(
        &eval("return {type: '*', handler: null}"),
        &eval("return {type: 'send', handler: null}"),
    );
    Reflect::set(
        &arr.get(0),
        &"handler".into(),
        &handler(&log, "log.push('*' + e.type)"),
    )
    .unwrap();
    Reflect::set(
        &arr.get(1),
        &"handler".into(),
        &handler(&log, "log.push('c')"),
    )
    .unwrap();
    c.on(arr.into(), JsValue::UNDEFINED).unwrap();
    c.once("send".into(), handler(&log, "log.push('once')"))
        .unwrap();

    emit(&c, "send");
    emit(&c, "send");
    assert_eq!(joined(&log), "atrue,b,*send,c,once,atrue,b,*send,c");
    log.set_length(0);
    c.off("send".into(), hb).unwrap();
    emit(&c, "send");
    assert_eq!(
        joined(&log),
        "atrue,*send,c",
        "off(type, fn) removes only fn"
    );
    log.set_length(0);
    c.off("send".into(), JsValue::UNDEFINED).unwrap();
    emit(&c, "send");
    emit(&c, "receive");
    assert_eq!(
        joined(&log),
        "*send,*receive",
        "off(type) keeps the * handlers"
    );
    log.set_length(0);
    c.off("*".into(), JsValue::UNDEFINED).unwrap();
    emit(&c, "send");
    assert_eq!(joined(&log), "");
    c.destroy();
}

#[wasm_bindgen_test]
fn changes_during_a_dispatch_apply_from_the_next_one() {
    let (c, inst) = new_chat("");
    let log = Array::new();
    Reflect::set(&inst, &"log".into(), &log).unwrap();
    let hb = handler(&log, "log.push('b')");
    Reflect::set(&inst, &"hb".into(), &hb).unwrap();
    let ha = handler(
        &log,
        "log.push('a'); if (!i.added) { i.added = true; i.off('send', i.hb); i.on('send', function () { log.push('late') }); }",
    );
    on(&c, "send", ha);
    on(&c, "send", hb);
    emit(&c, "send");
    assert_eq!(
        joined(&log),
        "a,b",
        "b was removed during the dispatch but still runs in it"
    );
    log.set_length(0);
    emit(&c, "send");
    assert_eq!(joined(&log), "a,late");
    // a once handler that re-enters the bus runs once
    log.set_length(0);
    c.once(
        "receive".into(),
        handler(&log, "log.push('o'); i._emit('receive')"),
    )
    .unwrap();
    emit(&c, "receive");
    assert_eq!(joined(&log), "o");
    c.destroy();
}

#[wasm_bindgen_test]
async fn async_handlers_are_awaited_in_order_and_errors_are_logged_and_skipped() {
    let console = capture_console();
    let (c, _) = new_chat("handlerTimeoutMs: 5000");
    let log = Array::new();
    on(&c, "send", handler(&log, "log.push('1start'); return new Promise(r => setTimeout(r, 20)).then(() => log.push('1end'))"));
    on(
        &c,
        "send",
        handler(&log, "log.push('2'); throw new Error('boom')"),
    );
    on(
        &c,
        "send",
        handler(
            &log,
            "log.push('3'); return Promise.reject(new Error('nope'))",
        ),
    );
    on(&c, "send", handler(&log, "log.push('4')"));
    emit(&c, "send");
    assert_eq!(
        joined(&log),
        "1start",
        "the next handler waits for the promise"
    );
    until("all handlers ran", || log.length() == 5).await;
    assert_eq!(joined(&log), "1start,1end,2,3,4");
    restore_console();
    let msgs = joined(&console);
    assert!(
        msgs.contains("error:natter: a \"send\" handler threw"),
        "{msgs}"
    );
    assert!(
        msgs.contains("error:natter: a \"send\" handler rejected"),
        "{msgs}"
    );
    c.destroy();
}

#[wasm_bindgen_test]
async fn a_slow_handler_times_out_and_its_late_settle_is_ignored() {
    let console = capture_console();
    let (c, _) = new_chat("handlerTimeoutMs: 30");
    let log = Array::new();
    on(
        &c,
        "send",
        handler(
            &log,
            "log.push('slow'); return new Promise(r => { globalThis.releaseSlow = r; })",
        ),
    );
    on(&c, "send", handler(&log, "log.push('next')"));
    emit(&c, "send");
    until("the next handler ran after the timeout", || {
        log.length() == 2
    })
    .await;
    assert!(joined(&console)
        .contains("warn:natter: a \"send\" handler took longer than handlerTimeoutMs"));
    eval("globalThis.releaseSlow()");
    sleep(20).await;
    assert_eq!(joined(&log), "slow,next", "the late settle resumes nothing");
    restore_console();
    assert!(!joined(&console).contains("error"), "{}", joined(&console));
    c.destroy();
}

fn delta(mid: &str, text: &str) -> JsValue {
    eval(&format!(
        "return {{messageId: '{mid}', threadId: 't', runId: 'r', delta: {{role: 'assistant', content: [{{id: 'c', response_type: 'text', text: '{text}'}}]}}}}"
    ))
}

#[wasm_bindgen_test]
async fn deltas_wait_in_order_behind_a_pending_handler_and_are_read_back() {
    let (c, _) = new_chat("handlerTimeoutMs: 5000, openOnLoad: true");
    wait(c.render().unwrap()).await;
    let log = Array::new();
    eval("globalThis.gate = new Promise(r => { globalThis.openGate = r; })");
    on(
        &c,
        "pre:stream:delta",
        handler(
            &log,
            "const it = e.delta.content[0]; log.push(it.text + e.message.content.length);
             if (it.text === 'X') { e.delta.content = []; return; }
             it.text = it.text.toLowerCase();
             if (it.text === 'a') return globalThis.gate;",
        ),
    );
    c.stream_delta(delta("m1", "A"));
    c.stream_delta(delta("m1", "B"));
    c.stream_delta(delta("m1", "C"));
    assert_eq!(
        joined(&log),
        "A0",
        "B and C wait while A's handler is pending"
    );
    assert_eq!(
        parts(&c, "message").len(),
        0,
        "nothing rendered before the handler is done"
    );
    eval("globalThis.openGate()");
    until("B and C delivered", || log.length() == 3).await;
    assert_eq!(
        joined(&log),
        "A0,B1,C2",
        "in order, each seeing the message so far"
    );
    c.stream_delta(delta("m1", "X"));
    let bubble = &parts(&c, "message")[0];
    assert_eq!(
        bubble.text_content().unwrap(),
        "abc",
        "rewritten text rendered, X suppressed"
    );

    // the complete message: pre:receive rewrites, user_defined goes to userDefinedResponse
    on(
        &c,
        "pre:receive",
        handler(&log, "e.message.content[0].text = '<b>Edited</b>'"),
    );
    on(
        &c,
        "userDefinedResponse",
        handler(
            &log,
            "e.hostElement.textContent = 'custom:' + e.contentItem.foo; log.push('ud')",
        ),
    );
    on(
        &c,
        "receive",
        handler(&log, "log.push('received ' + e.message.id)"),
    );
    c.receive_message(eval(
        "return {id: 'm1', role: 'assistant', content: [{response_type: 'text', text: 'Final'}, {response_type: 'user_defined', foo: 7}]}",
    ));
    let msgs = parts(&c, "message");
    assert_eq!(msgs.len(), 1, "the streamed bubble is reused");
    assert_eq!(
        msgs[0].text_content().unwrap(),
        "<b>Edited</b>",
        "text, never HTML"
    );
    assert!(
        msgs[0].query_selector("b").unwrap().is_none(),
        "markup in a message is text, not elements"
    );
    // the user_defined item's host element: light DOM, slotted into the bubble
    let host = c.host().unwrap().query_selector("[slot]").unwrap().unwrap();
    assert_eq!(host.text_content().unwrap(), "custom:7");
    let slot_name = host.get_attribute("slot").unwrap();
    assert!(msgs[0]
        .query_selector(&format!("slot[name={slot_name}]"))
        .unwrap()
        .is_some());
    assert!(joined(&log).ends_with("ud,received m1"), "{}", joined(&log));
    c.destroy();
}

#[wasm_bindgen_test]
async fn pre_send_is_read_back_and_can_cancel() {
    let (c, inst) = new_chat("openOnLoad: true");
    wait(c.render().unwrap()).await;
    let log = Array::new();
    on(&c, "pre:send", handler(&log, "if (e.message.message.content === 'drop') e.message.message.content = ''; else e.message.message.content += '!'"));
    on(
        &c,
        "send",
        handler(&log, "log.push(e.message.message.content)"),
    );
    wait(c.send("hi".into(), JsValue::UNDEFINED).unwrap()).await;
    wait(
        c.send("quiet".into(), eval("return {silent: true}"))
            .unwrap(),
    )
    .await;
    wait(c.send("drop".into(), JsValue::UNDEFINED).unwrap()).await;
    assert_eq!(
        joined(&log),
        "hi!,quiet!",
        "send fires after the server acknowledged"
    );
    let posted = eval("return __natterStub.posts.slice(-2).map((p) => p.content).join()");
    assert_eq!(posted.as_string().as_deref(), Some("hi!,quiet!"));
    let shown: Vec<String> = parts(&c, "message")
        .iter()
        .map(|m| m.text_content().unwrap())
        .collect();
    assert_eq!(shown, vec!["hi!"], "silent messages are not shown");
    // typing into the input and submitting goes the same way
    let input: web_sys::HtmlInputElement = part(&c, "input").unchecked_into();
    input.set_value("typed");
    part(&c, "send").click();
    until("typed message sent", || log.length() == 3).await;
    assert_eq!(joined(&log), "hi!,quiet!,typed!");
    assert_eq!(input.value(), "");
    let _ = inst;
    c.destroy();
}

#[wasm_bindgen_test]
async fn views_change_by_click_and_by_call_with_reasons_rewrites_and_vetoes() {
    let (c, _) = new_chat("");
    let log = Array::new();
    on(&c, "view:change", handler(&log, "log.push(e.reason + ':' + e.oldViewState.mainWindow + '>' + e.newViewState.mainWindow)"));
    on(&c, "chat:ready", handler(&log, "log.push('ready')"));
    let p1 = c.render().unwrap();
    let p2 = c.render().unwrap();
    wait(p1).await;
    wait(p2).await;
    wait(c.render().unwrap()).await;
    assert_eq!(
        joined(&log),
        "chatLoaded:false>false,ready",
        "chat:ready once"
    );
    let (launcher, window) = (part(&c, "launcher"), part(&c, "window"));
    assert!(visible(&launcher) && !visible(&window));

    log.set_length(0);
    launcher.click();
    until("launcher click handled", || log.length() == 1).await;
    assert!(!visible(&launcher) && visible(&window));
    part(&c, "minimize").click();
    until("minimize handled", || log.length() == 2).await;
    wait(c.change_view("mainWindow".into()).unwrap()).await;
    assert_eq!(
        joined(&log),
        "launcherClicked:false>true,mainWindowMinimized:true>false,calledChangeView:false>true"
    );

    // a pre:change handler can veto (new = old) or rewrite
    log.set_length(0);
    let veto = handler(&log, "e.newViewState = e.oldViewState");
    on(&c, "view:pre:change", veto.clone());
    wait(c.change_view("launcher".into()).unwrap()).await;
    assert_eq!(joined(&log), "", "vetoed: no view:change");
    assert!(visible(&window) && !visible(&launcher));
    c.off("view:pre:change".into(), veto).unwrap();
    c.once(
        "view:pre:change".into(),
        handler(&log, "e.newViewState.launcher = true"),
    )
    .unwrap();
    wait(c.change_view(eval("return {mainWindow: true}")).unwrap()).await;
    assert!(
        visible(&window) && visible(&launcher),
        "rewritten to show both"
    );

    // properties: click maximize; a handler can veto
    log.set_length(0);
    on(
        &c,
        "view:properties:change",
        handler(&log, "log.push('max:' + e.newViewState.maximized)"),
    );
    part(&c, "maximize").click();
    until("maximized", || log.length() == 1).await;
    assert!(c.host().unwrap().has_attribute("maximized"));
    c.once(
        "view:properties:pre:change".into(),
        handler(&log, "e.newViewState.maximized = true"),
    )
    .unwrap();
    wait(
        c.change_view_properties(eval("return {maximized: false}"))
            .unwrap(),
    )
    .await;
    assert!(c.host().unwrap().has_attribute("maximized"), "vetoed");
    wait(
        c.change_view_properties(eval("return {maximized: false}"))
            .unwrap(),
    )
    .await;
    assert_eq!(joined(&log), "max:true,max:false");
    let state = c.get_state().unwrap();
    assert_eq!(get(&state, "view.maximized").as_bool(), Some(false));
    assert_eq!(get(&state, "view.mainWindow").as_bool(), Some(true));
    c.destroy();
}

#[wasm_bindgen_test]
async fn history_restart_and_auth_token_are_read_back() {
    let (c, _) = new_chat("openOnLoad: true, authToken: 'old-token'");
    wait(c.render().unwrap()).await;
    let log = Array::new();
    on(
        &c,
        "pre:threadLoaded",
        handler(
            &log,
            "log.push(e.messages[0].sender + ':' + e.messages[0].content[0].type + ':' + JSON.stringify(e.messages[0].message_state)); e.messages.push({sender: 'response', content: [{text: 'added'}]})",
        ),
    );
    // as the server answers GET …/messages
    let history = eval(
        "return {messages: [{id: '1', role: 'user', content: [{id: 'c0', response_type: 'text', text: 'old'}]}], lastSeq: 3, feedback: []}",
    );
    wait(c.history_loaded("t1", history)).await;
    let shown: Vec<String> = parts(&c, "message")
        .iter()
        .map(|m| m.text_content().unwrap())
        .collect();
    assert_eq!(shown, vec!["old", "added"]);
    assert_eq!(
        joined(&log),
        "user:text:{}",
        "sender, type and message_state added"
    );
    log.set_length(0);
    assert_eq!(
        get(&c.get_state().unwrap(), "threadId")
            .as_string()
            .as_deref(),
        Some("t1")
    );

    on(
        &c,
        "pre:restartConversation",
        handler(&log, "log.push('pre')"),
    );
    on(
        &c,
        "restartConversation",
        handler(&log, "log.push('restarted')"),
    );
    wait(c.restart_conversation().unwrap()).await;
    assert_eq!(joined(&log), "pre,restarted");
    assert!(parts(&c, "message").is_empty());
    assert!(get(&c.get_state().unwrap(), "threadId").is_null());

    on(&c, "authTokenNeeded", handler(&log, "log.push(e.authToken); return Promise.resolve().then(() => { e.authToken = 'new-token' })"));
    let token = wait(c.auth_token_needed()).await;
    assert_eq!(token.as_string().as_deref(), Some("new-token"));
    assert_eq!(c.auth_token().as_deref(), Some("new-token"));
    assert!(joined(&log).ends_with("old-token"));
    c.destroy();
}

#[wasm_bindgen_test]
async fn thread_id_persists_per_option() {
    let _ = web_sys::window()
        .unwrap()
        .local_storage()
        .unwrap()
        .unwrap()
        .clear();
    let (c, _) = new_chat("persistence: 'local', bot: 'p'");
    wait(c.load_thread_by_id("t9".into()).unwrap()).await;
    c.destroy();
    let (c2, _) = new_chat("persistence: 'local', bot: 'p'");
    assert_eq!(
        get(&c2.get_state().unwrap(), "threadId")
            .as_string()
            .as_deref(),
        Some("t9")
    );
    let (other, _) = new_chat("persistence: 'local', bot: 'q'");
    assert!(
        get(&other.get_state().unwrap(), "threadId").is_null(),
        "another bot has its own thread"
    );
    wait(c2.restart_conversation().unwrap()).await;
    let (c3, _) = new_chat("persistence: 'local', bot: 'p'");
    assert_ne!(
        get(&c3.get_state().unwrap(), "threadId")
            .as_string()
            .as_deref(),
        Some("t9"),
        "restart forgets the thread (a fresh one follows)"
    );
    for x in [c2, other, c3] {
        x.destroy();
    }
}

#[wasm_bindgen_test]
fn bad_input_throws_type_errors_that_say_what_to_fix() {
    let (c, _) = new_chat("");
    let log = Array::new();
    let m = type_error(c.on("pre:sned".into(), handler(&log, "")));
    assert!(
        m.contains("unknown event name \"pre:sned\"")
            && m.contains("pre:send")
            && m.contains("authTokenNeeded"),
        "{m}"
    );
    let m = type_error(c.on("send".into(), "nope".into()));
    assert_eq!(
        m,
        "on: the handler for \"send\" must be a function, not string"
    );
    let m = type_error(c.once(JsValue::from(5), JsValue::UNDEFINED));
    assert!(m.starts_with("once: expected (type, handler)"), "{m}");
    // an array with one bad entry registers nothing
    let arr = Array::of2(
        &eval("return {type: 'send', handler: () => {}}"),
        &eval("return {type: 'send', handler: 1}"),
    );
    assert!(
        type_error(c.on(arr.into(), JsValue::UNDEFINED)).contains("must be a function, not number")
    );
    c.once("send".into(), handler(&log, "log.push('only')"))
        .unwrap();
    emit(&c, "send");
    assert_eq!(
        joined(&log),
        "only",
        "the good half of the bad array was not registered"
    );
    assert!(
        type_error(c.off("nope".into(), JsValue::UNDEFINED)).contains("off: unknown event name")
    );
    assert!(
        type_error(c.send(JsValue::from(3), JsValue::UNDEFINED).map(Into::into))
            .contains("must be a string")
    );
    assert!(type_error(c.change_view("window".into()).map(Into::into)).contains("\"mainWindow\""));
    assert!(
        type_error(c.change_view_properties(JsValue::UNDEFINED).map(Into::into))
            .contains("maximized")
    );
    assert!(
        type_error(c.update_locale("!!".into()).map(|_| JsValue::UNDEFINED))
            .contains("language tag")
    );

    let opts = |s: &str| Chat::create(eval(&format!("return {s}"))).map(JsValue::from);
    assert!(type_error(opts("{bot: 'x'}")).contains("serverUrl is required"));
    assert!(type_error(opts("undefined")).contains("options must be an object"));
    assert!(type_error(opts("{serverUrl: 'chat.example.com'}")).contains("absolute http"));
    let m = type_error(opts("{serverUrl: 'https://a', element: '#does-not-exist'}"));
    assert!(
        m.contains("no element matches the selector \"#does-not-exist\""),
        "{m}"
    );
    assert!(
        type_error(opts("{serverUrl: 'https://a', handlerTimeoutMs: -1}"))
            .contains("handlerTimeoutMs")
    );
    assert!(
        type_error(opts("{serverUrl: 'https://a', theme: {colour: 'red'}}"))
            .contains("primaryColor")
    );
    assert!(type_error(opts("{serverUrl: 'https://a', onLoad: 'x'}"))
        .contains("onLoad must be a function"));
    c.destroy();
}

#[wasm_bindgen_test]
async fn inline_element_and_theme() {
    let doc = web_sys::window().unwrap().document().unwrap();
    let slot = doc.create_element("div").unwrap();
    slot.set_id("slot-inline");
    doc.body().unwrap().append_child(&slot).unwrap();
    let (c, _) = new_chat(
        "element: '#slot-inline', theme: {primaryColor: 'rgb(1, 2, 3)'}, strings: {title: 'Acme'}",
    );
    wait(c.render().unwrap()).await;
    let host = c.host().unwrap();
    assert!(
        Object::is(&host.parent_node().unwrap(), &slot),
        "rendered inside the element"
    );
    assert!(
        visible(&part(&c, "window")) && !visible(&part(&c, "launcher")),
        "inline: open, no launcher"
    );
    assert_eq!(
        host.style().get_property_value("--natter-primary").unwrap(),
        "rgb(1, 2, 3)"
    );
    assert_eq!(part(&c, "title").text_content().unwrap(), "Acme");
    c.destroy();
    assert_eq!(slot.child_element_count(), 0);
    slot.remove();
}

#[wasm_bindgen_test]
async fn destroy_removes_everything_and_later_calls_throw() {
    let console = capture_console();
    let (c, inst) = new_chat("handlerTimeoutMs: 50");
    wait(c.render().unwrap()).await;
    let doc = web_sys::window().unwrap().document().unwrap();
    assert_eq!(doc.query_selector_all("[data-natter]").unwrap().length(), 1);
    let log = Array::new();
    on(
        &c,
        "send",
        handler(
            &log,
            "log.push('pending'); return new Promise(r => { globalThis.releaseLate = r; })",
        ),
    );
    on(&c, "send", handler(&log, "log.push('never')"));
    emit(&c, "send");
    let launcher = part(&c, "launcher");
    c.destroy();
    c.destroy(); // idempotent
    assert_eq!(doc.query_selector_all("[data-natter]").unwrap().length(), 0);
    launcher.click(); // a detached node: its listener is gone, nothing happens
    eval("globalThis.releaseLate()");
    sleep(80).await; // past the timeout too
    assert_eq!(joined(&log), "pending");
    let e = c.on("send".into(), handler(&log, "")).unwrap_err();
    assert!(!e.is_instance_of::<js_sys::TypeError>() && e.is_instance_of::<js_sys::Error>());
    assert!(get(&e, "message")
        .as_string()
        .unwrap()
        .contains("destroyed"));
    assert!(c.render().is_err() && c.get_state().is_err());
    restore_console();
    assert_eq!(joined(&console), "", "nothing logged after destroy");
    // a handler may destroy the widget mid-dispatch
    let (c2, inst2) = new_chat("");
    on(
        &c2,
        "send",
        handler(&log, "i.destroy(); log.push('destroyed-in-handler')"),
    );
    on(&c2, "send", handler(&log, "log.push('after-destroy')"));
    emit(&c2, "send");
    assert!(
        joined(&log).ends_with("destroyed-in-handler"),
        "{}",
        joined(&log)
    );
    let _ = (inst, inst2);
}

fn wasm_memory_bytes() -> u32 {
    let mem: js_sys::WebAssembly::Memory = wasm_bindgen::memory().unchecked_into();
    mem.buffer()
        .unchecked_into::<js_sys::ArrayBuffer>()
        .byte_length()
}

#[wasm_bindgen_test]
fn the_allocator_reuses_freed_memory() {
    fn churn(round: usize) {
        let mut v: Vec<Vec<u8>> = Vec::new();
        for i in 0..3000 {
            let mut b = vec![round as u8; (i * 37) % 6000];
            b.push(1);
            v.push(b);
        }
        let mut s = String::new();
        for i in 0..5000 {
            s.push(char::from(b'a' + (i % 26) as u8)); // grows by realloc
        }
        assert_eq!(s.len(), 5000);
        assert!(v
            .iter()
            .enumerate()
            .all(|(i, b)| b.len() == (i * 37) % 6000 + 1 && b[b.len() - 1] == 1));
    }
    churn(0);
    let before = wasm_memory_bytes();
    for round in 1..40 {
        churn(round);
    }
    assert_eq!(
        wasm_memory_bytes(),
        before,
        "freed blocks are reused, memory does not grow"
    );
    let big = vec![7u8; 3 << 20]; // many pages
    assert!(big.iter().all(|&b| b == 7));
    let huge = vec![9u8; 20 << 20]; // a 20 MB message must not abort
    assert_eq!((huge.len(), huge[huge.len() - 1]), (20 << 20, 9));
}

#[wasm_bindgen_test]
async fn load_render_destroy_cycles_do_not_grow_wasm_memory() {
    let cycle = || async {
        let o = eval("return {serverUrl: 'https://chat.example.com', persistence: 'none'}");
        let chat = Chat::create(o).unwrap();
        chat.attach(eval("return {}"), JsValue::UNDEFINED);
        chat.on("view:change".into(), handler(&Array::new(), ""))
            .unwrap();
        wait(chat.render().unwrap()).await;
        wait(chat.send("hello".into(), JsValue::UNDEFINED).unwrap()).await;
        chat.destroy();
    };
    for _ in 0..20 {
        cycle().await;
    }
    let before = wasm_memory_bytes();
    for _ in 0..300 {
        cycle().await;
    }
    assert_eq!(wasm_memory_bytes(), before);
    let doc = web_sys::window().unwrap().document().unwrap();
    assert_eq!(doc.query_selector_all("[data-natter]").unwrap().length(), 0);
}

#[wasm_bindgen_test]
async fn host_page_listeners_may_call_the_api_from_synchronous_dom_events() {
    // focus() fires focusin synchronously; the widget must hold no borrow while it runs
    let (c, inst) = new_chat("");
    wait(c.render().unwrap()).await;
    let log = Array::new();
    let listener = handler(
        &log,
        "t.inst.on('send', function () {}); t.inst.getState(); log.push('focus-ok')",
    );
    eval("globalThis.t = globalThis.t || {}");
    Reflect::set(&get(&eval("return globalThis"), "t"), &"inst".into(), &inst).unwrap();
    let doc = web_sys::window().unwrap().document().unwrap();
    doc.add_event_listener_with_callback("focusin", listener.unchecked_ref())
        .unwrap();
    part(&c, "launcher").click();
    until("focusin listener ran", || log.length() >= 1).await;
    doc.remove_event_listener_with_callback("focusin", listener.unchecked_ref())
        .unwrap();
    assert_eq!(joined(&log), "focus-ok");
    c.destroy();
}

#[wasm_bindgen_test]
async fn the_outbox_is_bounded_until_the_transport_drains_it() {
    let console = capture_console();
    let (c, _) = new_chat("");
    let log = Array::new();
    eval("__natterStub.hold = true");
    let mut queued = Vec::new();
    for _ in 0..natter::thread::OUTBOX_LIMIT {
        queued.push(c.send("queued".into(), JsValue::UNDEFINED).unwrap());
    }
    on(&c, "send", handler(&log, "log.push('sent')"));
    wait(c.send("one too many".into(), JsValue::UNDEFINED).unwrap()).await;
    restore_console();
    assert_eq!(joined(&log), "", "not queued, so no send event");
    assert!(
        joined(&console).contains("warn:send: 256 messages are already waiting"),
        "{}",
        joined(&console)
    );
    // the server answers: every waiting message is sent, then there is room again
    eval("__natterStub.hold = false; __natterStub.held.splice(0).forEach((r) => r())");
    for p in queued {
        wait(p).await;
    }
    assert_eq!(log.length() as usize, natter::thread::OUTBOX_LIMIT);
    wait(c.send("room again".into(), JsValue::UNDEFINED).unwrap()).await;
    assert_eq!(log.length() as usize, natter::thread::OUTBOX_LIMIT + 1);
    c.destroy();
}
