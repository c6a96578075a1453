//! The action tests' bot, `shop`: the seeds' examples as Python actions (verbatim but for the
//! URLs, which point at the stand-in APIs), an API action, a helper tour, runaway scripts,
//! and workflows that call them.

use std::path::Path;

use super::actions_standin::{PRIVATE_KEY, SA_EMAIL};

pub const BOT: &str = r#"
name = "Shop"
fallback = "Pardon?"

[stream]
chunk = "whole"
delay_ms = 0

[network]
allow_private_network = true   # the stand-in APIs listen on 127.0.0.1

[python]
egress = ["HOSTPORT"]          # the Python actions call the stand-ins too

[sheets]
service_account_file = "SAFILE"
token_url = "BASE/google/token"
api_base = "BASE/google"
range = "Sheet1!A1"

[[workflows]]
name = "track"
triggers = { keywords = ["track"] }
steps = [
  { ask = "orderId", prompt = "Order id?" },
  { ask = "email", prompt = "Email?", validate = "email" },
  { action = "getOrderWithTracking", args = { orderId = "$orderId", email = "$email" } },
  { branch = "result.error", cases = [ { present = true, goto = "bad" } ] },
  { say = "Order {{result.orderId}} is {{result.status}}, tracking {{result.trackingNumber}}, first: {{result.trackingEvents.0.what}}, eta {{result.estimatedDelivery}}, none: [{{result.nope.deeper}}]" },
  { goto = "end" },
  { id = "bad", say = "Sorry: {{result.error}}" },
]

[[workflows]]
name = "stock"
triggers = { keywords = ["stock"] }
steps = [
  { ask = "sku", prompt = "Which product?" },
  { action = "checkProductStock", args = { productId = "$sku" }, save_as = "stock" },
  { branch = "stock.inStock", cases = [ { equals = "true", goto = "yes" } ] },
  { say = "Not available ({{stock.status}}): {{stock.error}}" },
  { goto = "end" },
  { id = "yes", say = "{{stock.productId}} is in stock." },
]

[[workflows]]
name = "refund"
triggers = { keywords = ["refund"] }
steps = [
  { ask = "orderId", prompt = "Which order?" },
  { action = "processRefund", args = { orderId = "$orderId", reason = "asked in chat" }, save_as = "refund" },
  { branch = "refund.success", cases = [ { equals = "true", goto = "done" } ] },
  { say = "No refund: {{refund.error}}" },
  { goto = "end" },
  { id = "done", say = "Refunded {{refund.refundedAmount}}." },
]

[[workflows]]
name = "fraud"
triggers = { keywords = ["fraud check"] }
steps = [
  { action = "fraudCheck", args = { orderId = "13" } },
  { say = "Order looks fine: {{result.id}}" },
]

[[workflows]]
name = "create"
triggers = { keywords = ["new order"] }
steps = [
  { ask = "name", prompt = "Your name?" },
  { ask = "phone", prompt = "Phone?" },
  { ask = "items", prompt = "Items (JSON)?" },
  { action = "createOrder", args = { customerName = "$name", phone = "$phone", items = "$items" }, save_as = "order" },
  { say = "Order {{order.orderId}}, total {{order.total}}: {{order.confirmationUrl}}" },
]

[[workflows]]
name = "cancel"
triggers = { keywords = ["cancel"] }
steps = [
  { action = "cancelOrder", args = { orderId = "55" } },
  { say = "never said" },
]

[[workflows]]
name = "phone"
triggers = { keywords = ["call me"] }
steps = [
  { action = "transferCall" },
  { say = "never said" },
]

[[workflows]]
name = "helpers"
triggers = { keywords = ["helpers"] }
steps = [
  { action = "helperTour" },
  { say = "tag {{result.tag1.tagId}} twice {{result.tag2.tagId}}" },
]

[[workflows]]
name = "spin"
triggers = { keywords = ["spin"] }
steps = [
  { action = "spin" },
  { say = "spin ended: {{result.error}}" },
]

[[workflows]]
name = "ping"
triggers = { keywords = ["ping"] }
steps = [ { say = "pong" } ]
"#;

pub const ORDER_WITH_TRACKING: &str = r#"import requests

def execute_action(context):
    order_id = context["args"]["orderId"]
    email = context["args"]["email"]

    # Fetch order from ERP
    order_resp = requests.get(
        "BASE/erp/orders",
        params={"id": order_id, "email": email},
        headers={"Authorization": "Bearer ERP_KEY"},
        timeout=30,
    )
    if order_resp.status_code != 200:
        return {"error": "Order not found. Please check the order ID."}
    order = order_resp.json()

    # Fetch tracking from courier
    tracking = requests.get(
        "BASE/courier/shipments",
        params={"tracking_number": order["trackingNumber"]},
        timeout=30,
    ).json()

    return {
        "orderId": order_id,
        "status": order["status"],
        "trackingNumber": order["trackingNumber"],
        "trackingEvents": tracking.get("events", []),
        "estimatedDelivery": order.get("estimatedDelivery"),
    }
"#;

pub const REFUND: &str = r#"import requests

def execute_action(context):
    order_id = context["args"]["orderId"]
    reason = context["args"]["reason"]

    # Validate order state
    order = requests.get(
        "BASE/shop/orders",
        params={"id": order_id},
        timeout=30,
    ).json()

    if order.get("isRefunded"):
        return {"error": "This order has already been refunded."}

    if not order.get("isCancellable"):
        return {"error": "This order cannot be refunded in its current state."}

    # Process the refund
    result = requests.post(
        "BASE/shop/refund",
        json={"orderId": order_id, "reason": reason, "fullRefund": True},
        timeout=30,
    ).json()

    # Tag for analytics
    add_conversation_tag(context, "refunded")
    set_conversation_metadata(context, "refund_amount", str(result["amount"]))

    return {"success": True, "refundedAmount": result["amount"]}
"#;

pub const CREATE_ORDER: &str = r#"import requests
import json

def execute_action(context):
    name = context["args"]["customerName"]
    phone = context["args"]["phone"]
    items = context["args"]["items"]

    # Parse items if passed as string
    if isinstance(items, str):
        items = json.loads(items)

    # Normalize phone number
    if phone.startswith("+30"):
        phone = phone[3:]

    response = requests.post(
        "BASE/shop/orders",
        json={
            "customerName": name,
            "phone": phone,
            "items": items,
        },
        headers={"Authorization": "Bearer API_KEY"},
        timeout=30,
    )
    response.raise_for_status()
    result = response.json()

    return {
        "orderId": result["orderId"],
        "total": result["total"],
        "confirmationUrl": result["confirmationUrl"],
    }
"#;

/// Hand-off examples 1–3 of hand-off-conversation.txt (`fetch_order` / `process_cancellation`
/// are the seed's placeholders, defined here).
pub const FRAUD: &str = r#"
def fetch_order(order_id):
    return {"id": order_id, "hasFraudFlag": order_id == "13"}

def execute_action(context):
    order = fetch_order(context["args"]["orderId"])
    if order.get("hasFraudFlag"):
        hand_off_conversation(context, "Order flagged for fraud review")
        return {"handedOff": True, "reason": "fraud_flag"}
    return order
"#;

pub const CANCEL: &str = r#"
def process_cancellation(order_id):
    raise RuntimeError(f"the ERP refused to cancel {order_id}")

def execute_action(context):
    try:
        result = process_cancellation(context["args"]["orderId"])
        return result
    except Exception as e:
        hand_off_conversation(
            context,
            f"Automatic cancellation failed: {str(e)}"
        )
        return {"handedOff": True, "error": str(e)}
"#;

pub const PHONE: &str = r#"from datetime import datetime
from zoneinfo import ZoneInfo

def execute_action(context):
    now_et = datetime.now(ZoneInfo("America/New_York"))
    within_hours = now_et.weekday() <= 5 and 9 <= now_et.hour < 20

    if within_hours:
        hand_off_conversation(context, phone_destination="+15551234567")
        # Ignored when a phone transfer fires; useful on other channels.
        return {"success": True}

    hand_off_conversation(context)
    return {
        "success": False,
        "message": (
            "It's currently outside business hours (Mon–Sat 9 AM–8 PM ET). "
            "Let the customer know an agent will follow up within ~24 hours, "
            "and invite them to leave any details for the agent."
        ),
    }
"#;

/// Every helper, against the real store; each later call checks an earlier change.
pub const HELPER_TOUR: &str = r#"
def execute_action(context):
    out = {}
    assert get_conversation_metadata(context, "color") is None
    out["set"] = set_conversation_metadata(context, "color", {"name": "teal", "n": 1})
    out["get"] = get_conversation_metadata(context, "color")
    set_conversation_metadata(context, "temp", 5)
    out["deleted"] = delete_conversation_metadata(context, "temp")
    out["after_delete"] = get_conversation_metadata(context, "temp")
    out["tag1"] = add_conversation_tag(context, "vip")
    out["tag2"] = add_conversation_tag(context, "vip")
    out["event"] = add_conversation_event(context, {"name": "tour", "step": 1})
    out["ab1"] = get_ab_test_variant(context, "greeting", ["a", "b", "c"])
    out["ab2"] = get_ab_test_variant(context, "greeting", ["a", "b", "c"])
    out["llm_fallback"] = llm_classify_binary("Is this a complaint?", "it broke", fallback=True)
    try:
        llm_classify_category("Topic?", "x", ["a", "b"])
        out["llm_raised"] = False
    except HelperError as e:
        out["llm_raised"] = str(e)
    out["sheets"] = add_google_sheets_row("SHEET-1", {"name": "Ada", "n": 2, "ok": True})
    out["holiday"] = is_holiday("US", check_date="2026-07-04")
    out["workday"] = is_holiday("US", check_date="2026-07-07")
    out["functions"] = sorted(f["name"] for f in list_predefined_functions())
    out["conversation_id"] = context["conversation"]["id"]
    out["senders"] = [m["sender"] for m in context["conversation"]["messages"]]
    out["business"] = context["conversation"]["businessSlug"]
    out["browser"] = context["browser_session"]
    # A conversation's metadata is capped in total (1 MiB): a loop of big values is refused.
    big = "x" * 60000
    try:
        for i in range(40):
            set_conversation_metadata(context, f"big{i}", big)
        out["cap"] = "not refused"
    except ValueError as e:
        out["cap"] = str(e)
    for i in range(40):
        delete_conversation_metadata(context, f"big{i}")
    print("tour done")
    return out
"#;

/// For Run Test: what `context` holds, with output on both streams.
pub const PROBE: &str = r#"import sys
def execute_action(context):
    print("probe says", context["args"]["note"])
    print("to stderr", file=sys.stderr)
    conv = context["conversation"]
    return {"hasConversation": conv is not None, "id": conv and conv["id"], "publicId": conv and conv["publicId"], "messages": conv and len(conv["messages"])}
"#;

/// Runaway scripts: each must be stopped within its limit.
pub const SPIN: &str = "def execute_action(context):\n    print('spinning', flush=True)\n    while True:\n        pass\n";
pub const HOG: &str = "def execute_action(context):\n    chunks = []\n    while True:\n        chunks.append(bytearray(64 * 1024 * 1024))\n";
pub const FORKS: &str = "import os, time\ndef execute_action(context):\n    n = 0\n    while True:\n        pid = os.fork()\n        if pid == 0:\n            time.sleep(60)\n            os._exit(0)\n        n += 1\n";

fn action(dir: &Path, name: &str, toml: &str) {
    std::fs::write(dir.join("actions").join(format!("{name}.toml")), toml).unwrap();
}

fn python(
    dir: &Path,
    name: &str,
    workflows: &str,
    args: &[&str],
    code: &str,
    base: &str,
    timeout_ms: u64,
) {
    let file = format!("py/{name}.py");
    std::fs::write(dir.join(&file), code.replace("BASE", base)).unwrap();
    let mut t = format!(
        "description = \"The seed's {name}.\"\nkind = \"python\"\nworkflows = [{workflows}]\n[python]\nfile = \"{file}\"\ntimeout_ms = {timeout_ms}\n"
    );
    for a in args {
        t.push_str(&format!("[[args]]\nname = \"{a}\"\n"));
    }
    action(dir, name, &t);
}

/// Writes the bot into `bots/shop`, with `base` the stand-ins' base URL; the Sheets key goes
/// beside `bots/` (outside the bot's folder, as the loader requires).
pub fn write(bots: &Path, base: &str) {
    let dir = bots.join("shop");
    std::fs::create_dir_all(dir.join("actions")).unwrap();
    std::fs::create_dir_all(dir.join("py")).unwrap();
    let key = bots.parent().unwrap().join("service-account.json");
    std::fs::write(&key, service_account_json()).unwrap();
    let toml = BOT
        .replace("BASE", base)
        .replace("HOSTPORT", base.trim_start_matches("http://"))
        .replace("SAFILE", &key.display().to_string());
    std::fs::write(dir.join("bot.toml"), toml).unwrap();
    python(
        &dir,
        "getOrderWithTracking",
        "\"track\"",
        &["orderId", "email"],
        ORDER_WITH_TRACKING,
        base,
        20_000,
    );
    python(
        &dir,
        "processRefund",
        "\"refund\"",
        &["orderId", "reason"],
        REFUND,
        base,
        20_000,
    );
    python(
        &dir,
        "createOrder",
        "\"create\"",
        &["customerName", "phone", "items"],
        CREATE_ORDER,
        base,
        20_000,
    );
    python(
        &dir,
        "fraudCheck",
        "\"fraud\"",
        &["orderId"],
        FRAUD,
        base,
        20_000,
    );
    python(
        &dir,
        "cancelOrder",
        "\"cancel\"",
        &["orderId"],
        CANCEL,
        base,
        20_000,
    );
    python(&dir, "transferCall", "\"phone\"", &[], PHONE, base, 20_000);
    python(
        &dir,
        "helperTour",
        "\"helpers\"",
        &[],
        HELPER_TOUR,
        base,
        30_000,
    );
    python(&dir, "spin", "\"spin\"", &[], SPIN, base, 1_500);
    python(&dir, "contextProbe", "", &["note"], PROBE, base, 20_000);
    python(&dir, "hog", "", &[], HOG, base, 20_000);
    python(&dir, "forks", "", &[], FORKS, base, 3_000);
    action(
        &dir,
        "checkProductStock",
        &format!(
            "description = \"Checks whether a product is in stock, given its product ID.\"\nkind = \"api\"\nworkflows = [\"stock\"]\n[api]\nbase_url = \"{base}\"\npath = \"/stock/$productId\"\nmethod = \"GET\"\nheaders = {{ \"x-api-key\" = \"your-api-key\" }}\ntimeout_ms = 5000\n"
        ),
    );
}

/// The service-account key JSON the bot's `[sheets]` reads from the environment.
pub fn service_account_json() -> String {
    serde_json::json!({"client_email": SA_EMAIL, "private_key": PRIVATE_KEY, "private_key_id": "k1"}).to_string()
}
