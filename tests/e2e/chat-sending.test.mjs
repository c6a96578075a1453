// Point 4 (sending) against a real `natter serve`: Enter and the send button; pre:send may
// rewrite the text and the rewritten text is what the server stores; `send` fires after the
// server acknowledged (the message is already stored then); send(text, {silent}) from the API.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { setup, bubbles, until } from "./chat-server.mjs";

let env;
before(async () => { env = await setup(); });
after(async () => { await env?.close(); });

test("sending: Enter and button; the server stores the pre:send rewrite; send after the ack; silent", async () => {
  const { page, ctx, problems } = await env.open();
  await page.evaluate(async (origin) => {
    window.acked = [];
    chat.on("pre:send", (e) => { e.message.message.content = "[" + e.message.message.content + "]"; });
    chat.on("send", async (e) => {
      // at `send` the server already has the message
      const tid = chat.getState().threadId;
      const h = await (await fetch(`${origin}/v1/threads/${tid}/messages`)).json();
      acked.push([e.message.message.content, h.messages.some((m) => m.role === "user" && m.content[0].text === e.message.message.content)]);
    });
    await chat.render();
  }, env.server.origin);
  await page.locator("[part=launcher]").click();
  await page.locator("[part=message].bot").first().waitFor();
  await page.locator("[part=input]").fill("by enter");
  await page.locator("[part=input]").press("Enter");
  await page.locator("[part=input]").fill("by button");
  await page.locator("[part=send]").click();
  await page.evaluate(() => chat.send("quiet one", { silent: true }));
  await until(page, () => acked.length === 3);
  assert.deepEqual(await page.evaluate(() => acked), [["[by enter]", true], ["[by button]", true], ["[quiet one]", true]]);
  const users = (await bubbles(page)).filter(([c]) => c.includes("user")).map(([, t]) => t);
  assert.deepEqual(users, ["[by enter]", "[by button]"], "silent messages are not shown");
  const tid = await page.evaluate(() => chat.getState().threadId);
  const { body } = await env.server.api(`/v1/threads/${tid}/messages`);
  const stored = body.messages.filter((m) => m.role === "user");
  assert.deepEqual(stored.map((m) => m.content[0].text), ["[by enter]", "[by button]", "[quiet one]"]);
  assert.equal(new Set(stored.map((m) => m.client_message_id)).size, 3, "one clientMessageId per message");
  assert.equal(await page.locator("[part=input]").inputValue(), "");
  assert.deepEqual(problems, []);
  await ctx.close();
});
