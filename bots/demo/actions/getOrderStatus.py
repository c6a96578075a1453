# The demo bot's order lookup: a stand-in for an ERP call (see the seed's "Fetch order with
# tracking"). Deterministic, so the demo always answers the same for the same order.
from datetime import date, timedelta


def execute_action(context):
    order_id = str(context["args"]["orderId"]).strip()
    email = context["args"]["email"].strip().lower()
    if not (order_id.isdigit() and len(order_id) == 6):
        return {"error": "Order not found. Please check the order ID."}
    print(f"looking up order {order_id} for {email}")  # goes to the run log, not to the bot
    delayed = order_id.startswith("9")
    days = 1 + int(order_id) % 4
    result = {
        "orderId": order_id,
        "status": "delayed" if delayed else "shipped",
        "trackingNumber": "NT" + order_id[::-1],
        "estimatedDelivery": (date.today() + timedelta(days=days + (7 if delayed else 0))).isoformat(),
    }
    if context.get("conversation"):
        # Side effects on the conversation, visible at once (admin API: GET /admin/v1/threads/{id}).
        set_conversation_metadata(context, "last_order", order_id)
        add_conversation_tag(context, "order-status")
    return result
