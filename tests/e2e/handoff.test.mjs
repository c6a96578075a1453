// The full hand-off loop against one real `natter serve` (no feeding of events):
// widget → bot → hand-off (escalate accepted by the built-in local CRM) → the visitor's
// message reaches the CRM (widgetMessage through the outbox) → an agent answers through the
// public agent API (/agent/converse/send-message-to-widget, as the agent console does) → the
// widget shows the agent joining and the agent's message, streamed over SSE.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { setup, bubbles, until } from "./chat-server.mjs";

const KEY = "e2e-agent-key";
let env;
before(async () => { env = await setup(); });
after(async () => { await env?.close(); });

async function agent(body) {
  const r = await fetch(env.server.origin + "/agent/converse/send-message-to-widget", {
    method: "POST", headers: { Authorization: KEY, "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  assert.equal(r.status, 200, await r.text());
}

async function crmConversations() {
  const r = await fetch(env.server.origin + "/local-crm/api/conversations", { headers: { Authorization: KEY } });
  assert.equal(r.status, 200);
  return (await r.json()).conversations;
}

test("handoff loop: widget → bot → hand-off → CRM → agent reply → widget", async () => {
  const { page, ctx, problems } = await env.open("bot=handoff");
  await page.evaluate(() => chat.render());
  await page.locator("[part=launcher]").click();
  await page.locator("[part=message].bot").first().waitFor();
  await page.evaluate(() => chat.send("human"));
  await until(page, () => /Connecting you with a person/.test(document.querySelector("[data-natter]").shadowRoot.textContent));
  const tid = await page.evaluate(() => chat.getState().threadId);
  const { body } = await env.server.api(`/v1/threads/${tid}/messages`);
  assert.equal(body.status, "handed_off");

  // The visitor writes; the bot stays silent and the CRM gets the words.
  await page.evaluate(() => chat.send("My parcel never arrived"));
  let conv;
  for (let i = 0; i < 400 && !conv?.lines.some((l) => l.from === "visitor"); i++) {
    conv = (await crmConversations()).find((c) => c.platformConversationId === tid);
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.ok(conv, "the local CRM heard of the hand-off (widgetEscalate)");
  assert.deepEqual(conv.lines.filter((l) => l.from === "visitor").map((l) => l.text), ["My parcel never arrived"]);

  // An agent joins and answers; the widget shows both, live.
  await agent({ eventType: "escalationSuccess", platformConversationId: tid, agent: "Ana" });
  await agent({ eventType: "message", platformConversationId: tid, text: "Hi, **Ana** here. Let me check." });
  await until(page, () => /Let me check/.test(document.querySelector("[data-natter]").shadowRoot.textContent));
  const fromAgent = (await bubbles(page)).filter(([c]) => c.includes("agent"));
  assert.deepEqual(fromAgent, [["agent", "Hi, Ana here. Let me check."]]);
  assert.equal(await page.evaluate(() => events.filter((e) => e.type === "receive" && e.message.role === "agent").length), 1);
  const notes = await page.locator(".note").allTextContents();
  assert.ok(notes.some((n) => n.includes("Ana")), `agent joined is shown: ${notes}`);
  const history = (await env.server.api(`/v1/threads/${tid}/messages`)).body.messages;
  assert.equal(history.filter((m) => m.role === "assistant").length, 2, "greeting + hand-off text: the bot said nothing after the hand-off");
  assert.deepEqual(problems, []);
  await ctx.close();
});
