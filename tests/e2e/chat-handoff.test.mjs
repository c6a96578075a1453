// Point 9 (handoff) against a real `natter serve`: the bot hands off ("human") and the widget
// shows thread.handed_off. The agent side (agent.joined / typing / message / left) is fed
// through the widget's internal `_feed` seam — the same code path the SSE reader uses — so
// each event is checked alone; tests/e2e/handoff.test.mjs runs the whole loop through the
// real agent API.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { setup, bubbles, until } from "./chat-server.mjs";

let env;
before(async () => { env = await setup(); });
after(async () => { await env?.close(); });

test("handoff: thread.handed_off, agent joined/typing/message/left shown, agent messages as the agent's", async () => {
  const { page, ctx, problems } = await env.open();
  await page.evaluate(() => chat.render());
  await page.locator("[part=launcher]").click();
  await page.locator("[part=message].bot").first().waitFor();
  await page.evaluate(() => chat.send("human"));
  await until(page, () => /connected to a person/.test(document.querySelector("[data-natter]").shadowRoot.textContent));
  const tid = await page.evaluate(() => chat.getState().threadId);
  const { body } = await env.server.api(`/v1/threads/${tid}/messages`);
  assert.equal(body.status, "handed_off");
  const seq = body.lastSeq;
  const ev = (n, type, rest) => JSON.stringify({ seq: seq + n, threadId: tid, createdAt: "2026-01-01T00:00:00.000Z", type, ...rest });
  await page.evaluate((e) => chat._feed(e), ev(1, "agent.joined", { agent: "Ana", agentAvatar: null }));
  await page.evaluate((e) => chat._feed(e), ev(2, "agent.typing", { typing: true }));
  assert.equal(await page.locator(".typing").isVisible(), true);
  const msg = { id: "msg_agent1", role: "agent", content: [{ id: "c0", response_type: "text", text: "Hi, **Ana** here." }], message_options: {}, created_at: "2026-01-01T00:00:00.000Z" };
  await page.evaluate((e) => chat._feed(e), ev(3, "agent.message", { message: msg }));
  await page.evaluate((e) => chat._feed(e), ev(3, "agent.message", { message: msg })); // a repeat is ignored
  await page.evaluate((e) => chat._feed(e), ev(4, "agent.left", { agent: "Ana" }));
  assert.equal(await page.locator(".typing").isVisible(), false, "the agent's message ends typing");
  const agent = (await bubbles(page)).filter(([c]) => c.includes("agent"));
  assert.deepEqual(agent, [["agent", "Hi, Ana here."]]);
  const notes = await page.locator(".note").allTextContents();
  assert.deepEqual(notes, ["You're being connected to a person.", "Ana: An agent joined the conversation.", "Ana: The agent left the conversation."]);
  assert.equal(await page.evaluate(() => events.filter((e) => e.type === "receive" && e.message.role === "agent").length), 1);
  assert.deepEqual(problems, []);
  await ctx.close();
});
