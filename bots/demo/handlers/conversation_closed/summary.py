# Runs when a conversation is closed (by the visitor, the bot, an agent or the inactivity
# timeout). Keep handlers idempotent: the outbox runs them at least once.
def handle_event(context):
    conversation = context["conversation"]
    messages = conversation["messages"]
    summary = {
        "messageCount": len(messages),
        "customerMessageCount": len([m for m in messages if m["sender"] == "customer"]),
        "closedAt": messages[-1]["timestamp"] if messages else None,
    }
    set_conversation_metadata(context, "closing_summary", summary)
    return {"status": "synced", **summary}
