// The event order after a hand-off, against a real `natter serve` and the real agent API: the
// agent answers each visitor message as soon as the CRM has it (often before the widget got
// its 202), and still every visitor message's pre:send → send comes before the agent reply's
// pre:receive → receive.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { setup, until } from "./chat-server.mjs";

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

/** The visitor lines the local CRM has for the conversation. */
async function visitorLines(tid) {
  const r = await fetch(env.server.origin + "/local-crm/api/conversations", { headers: { Authorization: KEY } });
  const conv = (await r.json()).conversations.find((c) => c.platformConversationId === tid);
  return conv ? conv.lines.filter((l) => l.from === "visitor").map((l) => l.text) : [];
}

test("after a hand-off: each visitor message's send comes before the agent's answer to it", { timeout: 60_000 }, async () => {
  const { page, ctx, problems } = await env.open("bot=handoff&persistence=none");
  await page.evaluate(() => chat.render());
  await page.locator("[part=launcher]").click();
  await page.locator("[part=message].bot").first().waitFor();
  await page.evaluate(() => chat.send("human"));
  await until(page, () => /Connecting you with a person/.test(document.querySelector("[data-natter]").shadowRoot.textContent));
  const tid = await page.evaluate(() => chat.getState().threadId);
  await agent({ eventType: "escalationSuccess", platformConversationId: tid, agent: "Ana" });
  await page.evaluate(() => { window.events.length = 0; });

  const N = 10;
  for (let i = 0; i < N; i++) {
    await page.evaluate((t) => { chat.send(t); }, "question " + i);
    for (let k = 0; k < 400 && !(await visitorLines(tid)).includes("question " + i); k++) await new Promise((r) => setTimeout(r, 10));
    await agent({ eventType: "message", platformConversationId: tid, text: "answer " + i });
  }
  await until(page, () => events.filter((e) => e.type === "receive" && e.message.role === "agent").length >= 10, null, 30_000);
  const log = await page.evaluate(() => events.map((e) => [e.type, e.type.endsWith("send") ? e.message.message.content : e.message?.content?.[0]?.text]));
  for (let i = 0; i < N; i++) {
    const at = (type, text) => log.findIndex(([t, x]) => t === type && x === text);
    const order = [at("pre:send", "question " + i), at("send", "question " + i), at("pre:receive", "answer " + i), at("receive", "answer " + i)];
    assert.ok(order.every((x) => x >= 0), `all four events of round ${i}: ${JSON.stringify(log)}`);
    assert.deepEqual([...order].sort((a, b) => a - b), order, `round ${i} in order: ${JSON.stringify(log)}`);
  }
  assert.deepEqual(problems, []);
  await ctx.close();
});
