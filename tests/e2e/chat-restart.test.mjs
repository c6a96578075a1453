// Point 6 (restart) against a real `natter serve`: the header button and restartConversation()
// fire pre:restartConversation (awaited), close the thread on the server, clear the view,
// fire restartConversation and start a fresh thread.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { setup, bubbles, until } from "./chat-server.mjs";

let env;
before(async () => { env = await setup(); });
after(async () => { await env?.close(); });

test("restart: header button and restartConversation() give a fresh thread; the old one is closed", async () => {
  const { page, ctx, problems } = await env.open();
  await page.evaluate(async () => {
    window.log = [];
    chat.on("pre:restartConversation", async () => { log.push("pre"); await new Promise((r) => setTimeout(r, 200)); log.push("pre-done"); });
    chat.on("restartConversation", () => {
      const n = document.querySelector("[data-natter]").shadowRoot.querySelectorAll("[part=message]").length;
      log.push("restart:" + n + ":" + chat.getState().threadId);
    });
    await chat.render();
  });
  await page.locator("[part=launcher]").click();
  await page.locator("[part=message].bot").first().waitFor();
  await page.evaluate(() => chat.send("markdown"));
  await until(page, () => /Some bold/.test(document.querySelector("[data-natter]").shadowRoot.textContent));
  const first = await page.evaluate(() => chat.getState().threadId);
  await page.locator("[part=restart]").click();
  await until(page, () => log.length === 3);
  assert.deepEqual(await page.evaluate(() => log), ["pre", "pre-done", "restart:0:null"]);
  await until(page, () => chat.getState().threadId && document.querySelector("[data-natter]").shadowRoot.querySelectorAll("[part=message]").length === 1);
  const second = await page.evaluate(() => chat.getState().threadId);
  assert.notEqual(second, first);
  assert.deepEqual(await bubbles(page), [["bot", "Hello from the test bot."]]);
  await until(page, async () => true);
  let old = await env.server.api(`/v1/threads/${first}/messages`);
  for (let i = 0; i < 50 && old.body.status !== "closed"; i++) { await page.waitForTimeout(50); old = await env.server.api(`/v1/threads/${first}/messages`); }
  assert.equal(old.body.status, "closed", "the old thread is closed on the server");
  // the API does the same
  await page.evaluate(() => chat.restartConversation());
  await until(page, (s) => chat.getState().threadId && chat.getState().threadId !== s, second);
  assert.equal(await page.evaluate(() => log.filter((l) => l === "pre-done").length), 2);
  assert.equal((await env.server.api(`/v1/threads/${second}/messages`)).body.status, "closed");
  assert.deepEqual(problems, []);
  await ctx.close();
});
