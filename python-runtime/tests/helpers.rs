//! Every helper, through real python processes and the in-memory Host.
mod common;
use common::*;
use natter_python_runtime::*;
use serde_json::{json, Value};
use std::sync::Arc;

async fn run_with(host: Arc<InMemoryHost>, code: &str, ctx: Context, test_run: bool) -> RunOutcome {
    let bot = Bot::new();
    let s = bot.script("h.py", code);
    let rt = runtime_with(host).await;
    let mut req = action(&bot, &s, ctx);
    req.test_run = test_run;
    rt.run(req).await
}

fn web() -> Context {
    context(json!({}), Some(conversation("conv-1", "web")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_changes_are_visible_at_once() {
    let host = Arc::new(InMemoryHost::new());
    let out = run_with(
        host.clone(),
        r#"
        def execute_action(context):
            seen = [get_conversation_metadata(context, "plan")]
            r1 = set_conversation_metadata(context, "plan", "gold")
            seen.append(get_conversation_metadata(context, "plan"))
            set_conversation_metadata(context, "cart", {"items": [1, 2]})
            seen.append(get_conversation_metadata(context, "cart"))
            r2 = delete_conversation_metadata(context, "plan")
            seen.append(get_conversation_metadata(context, "plan"))
            r3 = delete_conversation_metadata(context, "plan")
            return {"seen": seen, "r1": r1, "r2": r2, "r3": r3}
    "#,
        web(),
        false,
    )
    .await;
    assert_eq!(out.status, RunStatus::Ok, "{out:#?}");
    assert_eq!(
        out.value["seen"],
        json!([null, "gold", {"items": [1, 2]}, null])
    );
    assert_eq!(out.value["r1"]["success"], json!(true));
    assert_eq!(out.value["r2"]["message"], json!("metadata 'plan' deleted"));
    assert_eq!(
        out.value["r3"]["message"],
        json!("metadata 'plan' was not set")
    );
    let c = host.conversation("conv-1");
    assert_eq!(c.metadata.get("cart"), Some(&json!({"items": [1, 2]})));
    assert!(!c.metadata.contains_key("plan"));
    assert!(
        out.log.iter().any(|l| l == "helper metadata.set: ok"),
        "{:?}",
        out.log
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_and_events() {
    let host = Arc::new(InMemoryHost::new());
    let out = run_with(
        host.clone(),
        r#"
        def execute_action(context):
            a = add_conversation_tag(context, "refunded")
            b = add_conversation_tag(context, "refunded")
            e1 = add_conversation_event(context, "refund_processed")
            e2 = add_conversation_event(context, {"name": "order_checked", "orderId": "42"})
            return [a, b, e1, e2]
    "#,
        web(),
        false,
    )
    .await;
    assert_eq!(out.status, RunStatus::Ok, "{out:#?}");
    let v = out.value.as_array().unwrap();
    assert_eq!(v[0]["success"], json!(true));
    assert_eq!(v[0]["message"], json!("tag 'refunded' added"));
    assert!(v[0]["tagId"].as_str().unwrap().starts_with("tag_"));
    assert_eq!(v[1]["tagId"], v[0]["tagId"], "idempotent");
    assert_eq!(v[1]["message"], json!("tag 'refunded' was already set"));
    assert!(v[2]["eventId"].is_string() && v[3]["success"] == json!(true));
    let c = host.conversation("conv-1");
    assert_eq!(c.tags.len(), 1);
    assert_eq!(
        c.events[0].1,
        ConversationEvent {
            name: "refund_processed".into(),
            data: None
        }
    );
    assert_eq!(
        c.events[1].1,
        ConversationEvent {
            name: "order_checked".into(),
            data: Some(json!({"orderId": "42"}))
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_validates_arguments_even_when_python_checks_are_bypassed() {
    let host = Arc::new(InMemoryHost::new());
    let out = run_with(
        host.clone(),
        r#"
        def execute_action(context):
            call = set_conversation_metadata.__globals__["_call"]   # skip the Python-side checks
            results = []
            for fn, args in [
                ("metadata.set", {"key": "", "value": 1}),
                ("metadata.set", {"key": "k" * 200, "value": 1}),
                ("metadata.set", {"key": "k", "value": "v" * 70000}),
                ("tag.add", {"tag": "bad\ntag"}),
                ("tag.add", {"tag": 5}),
                ("event.add", {"event": {"no": "name"}}),
                ("handoff", {"reason": "r" * 501}),
                ("sheets.append", {"sheet_id": "../../x", "data": [1]}),
                ("sheets.append", {"sheet_id": "abc", "data": [{"nested": 1}]}),
                ("ab.variant", {"test_name": "t", "variants": []}),
                ("no.such", {}),
            ]:
                try:
                    call(fn, **args)
                    results.append("ACCEPTED")
                except HelperArgumentError as e:
                    results.append(str(e))
            return results
    "#,
        web(),
        false,
    )
    .await;
    assert_eq!(out.status, RunStatus::Ok, "{out:#?}");
    let r: Vec<String> = serde_json::from_value(out.value).unwrap();
    assert!(r.iter().all(|m| m != "ACCEPTED"), "{r:#?}");
    assert_eq!(r[0], "key must not be empty");
    assert_eq!(r[1], "key is longer than 128 characters");
    assert!(r[2].starts_with("value is larger than"));
    assert_eq!(r[3], "tag must not contain control characters");
    assert_eq!(r[6], "reason is longer than 500 characters");
    assert!(
        host.conversation("conv-1").metadata.is_empty()
            && host.conversation("conv-1").hand_offs.is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversation_helpers_without_a_conversation_raise_clearly() {
    let out = run_with(
        Arc::new(InMemoryHost::new()),
        r#"
        def execute_action(context):
            try:
                get_conversation_metadata(context, "x")
            except HelperError as e:
                return str(e)
    "#,
        context(json!({}), None),
        false,
    )
    .await;
    assert_eq!(
        out.value,
        json!("this run has no conversation (a test run without a conversation id)")
    );
}

const HANDOFF: &str = r#"
def execute_action(context):
    a = context["args"]
    try:
        return hand_off_conversation(context, a.get("reason"), phone_destination=a.get("phone"))
    except ValueError as e:
        return {"raised": str(e)}
"#;

/// One runtime and host for all hand-off cases; each case has its own conversation.
struct HandOffCase {
    host: Arc<InMemoryHost>,
    rt: Runtime,
    bot: Bot,
    script: std::path::PathBuf,
}

impl HandOffCase {
    async fn new() -> Self {
        let host = Arc::new(InMemoryHost::new());
        let bot = Bot::new();
        let script = bot.script("handoff.py", HANDOFF);
        let rt = runtime_with(host.clone()).await;
        HandOffCase {
            host,
            rt,
            bot,
            script,
        }
    }

    async fn run(&self, conv: &str, channel: &str, args: Value, test_run: bool) -> RunOutcome {
        let mut req = action(
            &self.bot,
            &self.script,
            context(args, Some(conversation(conv, channel))),
        );
        req.test_run = test_run;
        self.rt.run(req).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hand_off_follows_its_seed() {
    let t = HandOffCase::new().await;
    // Plain hand-off with a reason.
    let out = t
        .run(
            "c1",
            "web",
            json!({"reason": "Order flagged for fraud review"}),
            false,
        )
        .await;
    assert_eq!(
        out.value,
        json!({"success": true, "message": "conversation handed off to a human agent"})
    );
    assert!(out.handed_off);
    let c = t.host.conversation("c1");
    assert!(c.handed_off);
    assert_eq!(
        c.hand_offs,
        vec![HandOffRequest {
            reason: Some("Order flagged for fraud review".into()),
            phone_destination: None
        }]
    );

    // Idempotent: a second hand-off succeeds without changes.
    let out = t.run("c1", "web", json!({}), false).await;
    assert_eq!(
        out.value,
        json!({"success": true, "message": "conversation was already handed off"})
    );
    assert!(!out.handed_off);

    // Reason of 500 characters is fine, 501 is refused; nothing reaches the host.
    let out = t
        .run("c2", "web", json!({"reason": "r".repeat(501)}), false)
        .await;
    assert_eq!(
        out.value,
        json!({"raised": "reason is longer than 500 characters"})
    );
    assert!(t.host.conversation("c2").hand_offs.is_empty());
    let out = t
        .run("c2", "web", json!({"reason": "é".repeat(500)}), false)
        .await;
    assert_eq!(out.value["success"], json!(true), "{out:#?}");

    // On the phone channel phone_destination must be E.164.
    for (i, bad) in [
        "5551234567",
        "+0123",
        "+1 555 123 4567",
        "+1555123456789012",
    ]
    .iter()
    .enumerate()
    {
        let conv = format!("c3-{i}");
        let out = t.run(&conv, "phone", json!({"phone": bad}), false).await;
        assert!(
            out.value["raised"].as_str().unwrap().contains("E.164"),
            "{bad}: {out:#?}"
        );
        assert!(t.host.conversation(&conv).hand_offs.is_empty());
    }
    // Elsewhere even a malformed number is silently ignored (noted in the run log only).
    let out = t
        .run("c3-web", "web", json!({"phone": "5551234567"}), false)
        .await;
    assert_eq!(
        out.value,
        json!({"success": true, "message": "conversation handed off to a human agent"})
    );
    assert!(
        out.log
            .iter()
            .any(|l| l.contains("not E.164; ignored here")),
        "{:?}",
        out.log
    );
    assert_eq!(
        t.host.conversation("c3-web").hand_offs[0].phone_destination,
        None
    );

    // Outside the phone channel the number is silently ignored: a normal hand-off.
    let out = t
        .run("c4", "web", json!({"phone": "+15551234567"}), false)
        .await;
    assert_eq!(
        out.value,
        json!({"success": true, "message": "conversation handed off to a human agent"})
    );
    assert_eq!(
        t.host.conversation("c4").hand_offs[0].phone_destination,
        None
    );

    // On the phone channel it transfers the call.
    let out = t
        .run("c5", "phone", json!({"phone": "+15551234567"}), false)
        .await;
    assert_eq!(
        out.value,
        json!({"success": true, "message": "call transferred to +15551234567"})
    );
    assert_eq!(
        t.host.conversation("c5").hand_offs[0]
            .phone_destination
            .as_deref(),
        Some("+15551234567")
    );
    assert!(out.handed_off);

    // Skipped in test runs (after validating the arguments).
    let out = t.run("c6", "web", json!({"reason": "test"}), true).await;
    assert_eq!(out.value["success"], json!(true));
    assert!(
        out.value["message"]
            .as_str()
            .unwrap()
            .starts_with("skipped"),
        "{out:#?}"
    );
    let c = t.host.conversation("c6");
    assert!(!out.handed_off && !c.handed_off && c.hand_offs.is_empty());
    let out = t.run("c6", "phone", json!({"phone": "bad"}), true).await;
    assert!(
        out.value["raised"].is_string(),
        "arguments are checked in test runs too: {out:#?}"
    );
    // A test run without a conversation also skips.
    let mut req = action(&t.bot, &t.script, context(json!({}), None));
    req.test_run = true;
    assert_eq!(t.rt.run(req).await.value["success"], json!(true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn llm_classification_with_and_without_an_llm() {
    let code = r#"
        def execute_action(context):
            out = {}
            out["binary_fallback"] = llm_classify_binary("Is this a complaint?", "I am angry", fallback=False)
            out["category_fallback"] = llm_classify_category("Topic?", "where is my parcel", ["shipping", "billing"], fallback="billing")
            try:
                llm_classify_binary("Is this a complaint?", "I am angry")
            except HelperError as e:
                out["no_fallback"] = str(e)
            return out
    "#;
    let out = run_with(Arc::new(InMemoryHost::new()), code, web(), false).await;
    assert_eq!(out.value["binary_fallback"], json!(false), "{out:#?}");
    assert_eq!(out.value["category_fallback"], json!("billing"));
    assert!(out.value["no_fallback"]
        .as_str()
        .unwrap()
        .contains("no LLM is configured"));

    let host = InMemoryHost::new().with_llm(|req| {
        Ok(if req.options == ["true", "false"] {
            "True".into()
        } else if req.input.contains("parcel") {
            "Shipping.".into()
        } else {
            "weather".into()
        })
    });
    let out = run_with(Arc::new(host), r#"
        def execute_action(context):
            return [
                llm_classify_binary("Is this a complaint?", "I am angry"),
                llm_classify_category("Topic?", "where is my parcel", ["shipping", "billing"]),
                llm_classify_category("Topic?", "something", ["shipping", "billing"], fallback="billing"),
            ]
    "#, web(), false).await;
    assert_eq!(out.value, json!([true, "shipping", "billing"]), "{out:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ab_variant_is_sticky_per_conversation_and_test() {
    let host = Arc::new(InMemoryHost::new());
    let bot = Bot::new();
    let s = bot.script(
        "ab.py",
        r#"
        def execute_action(context):
            v = [get_ab_test_variant(context, "greeting", ["a", "b", "c", "d"]) for _ in range(3)]
            v.append(get_ab_test_variant(context, "other_test", ["x", "y"]))
            return v
    "#,
    );
    let rt = runtime_with(host.clone()).await;
    let first = rt.run(action(&bot, &s, web())).await.value;
    let v = first.as_array().unwrap();
    assert!(
        ["a", "b", "c", "d"].contains(&v[0].as_str().unwrap()),
        "{first}"
    );
    assert_eq!(v[0], v[1]);
    assert_eq!(v[0], v[2]);
    assert!(["x", "y"].contains(&v[3].as_str().unwrap()));
    // Another run on the same conversation sees the same variants.
    let again = rt.run(action(&bot, &s, web())).await.value;
    assert_eq!(again, first);
    assert_eq!(
        host.conversation("conv-1").ab.get("greeting"),
        v[0].as_str().map(String::from).as_ref()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn is_holiday_uses_the_holidays_package() {
    let out = run_with(
        Arc::new(InMemoryHost::new()),
        r#"
        import datetime
        def execute_action(context):
            r = [
                is_holiday("US", check_date="2024-07-04"),
                is_holiday("US", check_date=datetime.date(2024, 7, 5)),
                is_holiday("DE", state="BY", check_date="2024-01-06"),
                is_holiday("DE", state="BE", check_date="2024-01-06"),
                is_holiday("ES", region="CT", check_date=datetime.datetime(2024, 9, 11, 15, 0)),
                isinstance(is_holiday("GR"), bool),
            ]
            try:
                is_holiday("XX", check_date="2024-01-01")
            except ValueError as e:
                r.append(str(e))
            return r
    "#,
        web(),
        false,
    )
    .await;
    assert_eq!(
        out.value,
        json!([
            true,
            false,
            true,
            false,
            true,
            true,
            "unknown country code 'XX'"
        ]),
        "{out:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_predefined_functions_names_every_helper() {
    let out = run_with(
        Arc::new(InMemoryHost::new()),
        r#"
        def execute_action(context):
            return list_predefined_functions()
    "#,
        web(),
        false,
    )
    .await;
    let names: Vec<&str> = out
        .value
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "get_conversation_metadata",
            "set_conversation_metadata",
            "delete_conversation_metadata",
            "add_conversation_tag",
            "add_conversation_event",
            "hand_off_conversation",
            "llm_classify_binary",
            "llm_classify_category",
            "get_ab_test_variant",
            "add_google_sheets_row",
            "is_holiday",
            "list_predefined_functions",
            "read_attachment",
        ]
    );
    let h = &out.value[5];
    assert_eq!(
        h["signature"],
        json!("hand_off_conversation(context, reason=None, phone_destination=None)")
    );
    assert!(h["description"].as_str().unwrap().contains("human agent"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_refund_example_tags_and_sets_metadata() {
    // The seed's refund example with its HTTP calls replaced by a local computation.
    let host = Arc::new(InMemoryHost::new());
    let out = run_with(
        host.clone(),
        r#"
        def execute_action(context):
            result = {"amount": 19.99}
            add_conversation_tag(context, "refunded")
            set_conversation_metadata(context, "refund_amount", str(result["amount"]))
            return {"success": True, "refundedAmount": result["amount"]}
    "#,
        web(),
        false,
    )
    .await;
    assert_eq!(out.value, json!({"success": true, "refundedAmount": 19.99}));
    let c = host.conversation("conv-1");
    assert_eq!(c.tags[0].1, "refunded");
    assert_eq!(c.metadata["refund_amount"], json!("19.99"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helper_calls_per_run_are_bounded_and_the_log_too() {
    let out = run_with(
        Arc::new(InMemoryHost::new()),
        r#"
        def execute_action(context):
            for i in range(1001):
                try:
                    get_conversation_metadata(context, "k")
                except HelperError as e:
                    return [i, str(e)]
    "#,
        web(),
        false,
    )
    .await;
    assert_eq!(
        out.value,
        json!([1000, "more than 1000 helper calls in one run"]),
        "{out:#?}"
    );
    assert!(out.log.len() < 120, "{}", out.log.len());
}
