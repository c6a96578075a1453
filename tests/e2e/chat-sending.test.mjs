// Point 4 (sending) against a real `natter serve`: Enter and the send button; pre:send may
// rewrite the text and the rewritten text is what the server stores; `send` fires after the
// server acknowledged (the message is already stored then); send(text, {silent}) from the API.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { setup, bubbles, until } from "./chat-server.mjs";
import { noteSecret } from "./run-logs.mjs";

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

test("opening the window and sending at once start one conversation, and the reply comes back", async () => {
  // The window's opening and the send both need a thread: the second waits for the first's
  // creation, which must count as ended only once its thread id is set (else a second thread
  // is created, the stream follows one and the message goes to the other). A race, widest with
  // a signed-in visitor (tests/e2e/bots/jwt): 12 rounds.
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const body = b64({ alg: "HS256", typ: "JWT" }) + "." + b64({ sub: "visitor-once", exp: Math.floor(Date.now() / 1000) + 3600 });
  const token = noteSecret(body + "." + createHmac("sha256", "e2e-test-secret-e2e-test-secret-0123456789").update(body).digest("base64url"));
  for (let round = 0; round < 12; round++) {
    const { page, ctx, problems } = await env.open(`bot=jwt&token=${token}`);
    const created = [];
    page.on("request", (r) => r.method() === "POST" && /\/v1\/bots\/[^/]+\/threads$/.test(r.url()) && created.push(r.url()));
    await page.evaluate(async () => {
      window.got = [];
      chat.on("receive", (e) => got.push(e.message.content?.[0]?.text));
      await chat.render();
      await chat.changeView("mainWindow");
    });
    await page.evaluate(() => chat.send("at once"));
    await until(page, () => got.length >= 2, null, 10_000).catch(() => {});
    assert.equal(created.length, 1, `round ${round}: ${created.length} conversations started`);
    assert.equal((await page.evaluate(() => got)).length, 2, `round ${round}: the greeting and the reply, got ${await page.evaluate(() => JSON.stringify(got))}`);
    assert.deepEqual(problems, []);
    await ctx.close();
  }
});
