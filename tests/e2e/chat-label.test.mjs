// send(text, {label, context}) against a real `natter serve`: the transcript shows the label,
// the bot and the server get the text, with the context as pre:send handlers left it; a bad
// option is a TypeError naming the allowed ones.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { setup, bubbles, until } from "./chat-server.mjs";

let env;
before(async () => { env = await setup(); });
after(async () => { await env?.close(); });

test("send with a label and a context: the label is shown, the text and the context are sent", async () => {
  const { page, ctx, problems } = await env.open("persistence=none");
  await page.evaluate(async () => { await chat.render(); await chat.changeView("mainWindow"); });
  await page.locator("[part=message].bot").first().waitFor();
  const posted = page.waitForRequest((r) => r.url().endsWith("/messages") && r.method() === "POST");
  await page.evaluate(() => {
    chat.once("pre:send", (e) => { e.message.context.step = 2; }); // handlers may change it
    chat.send("echo size M", { label: "Medium", context: { sku: "T-1" } });
  });
  assert.deepEqual((await posted).postDataJSON().context, { sku: "T-1", step: 2 }, "the context goes with the message");
  await until(page, () => /Echo: echo size M/.test(document.querySelector("[data-natter]").shadowRoot.textContent));
  const mine = (await bubbles(page)).filter(([c]) => c.includes("user")).map(([, t]) => t);
  assert.deepEqual(mine, ["Medium"]);
  const tid = await page.evaluate(() => chat.getState().threadId);
  const stored = (await env.server.api(`/v1/threads/${tid}/messages`)).body.messages.filter((m) => m.role === "user");
  assert.deepEqual(stored.map((m) => m.content[0].text), ["echo size M"]);
  const err = await page.evaluate(() => { try { chat.send("x", { label: 3 }); return "no error"; } catch (e) { return `${e.name}: ${e.message}`; } });
  assert.equal(err, "TypeError: send: the second argument must be {silent?: boolean, label?: string, context?: object, attachments?: array}");
  assert.deepEqual(problems, []);
  await ctx.close();
});
