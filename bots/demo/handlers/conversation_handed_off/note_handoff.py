# Runs when a conversation is handed off (docs/actions.md, "Event handlers"). A real bot
# would post to Slack here; the demo tags the conversation and logs the last words.
def handle_event(context):
    conversation = context["conversation"]
    recent = [m["content"] for m in conversation["messages"] if m["sender"] == "customer"][-3:]
    add_conversation_tag(context, "handed-off")
    print(f"Conversation {conversation['publicId']} handed off; recent: {recent}")
    return {"status": "notified", "recent": recent}
