// Point 5 (history) against a real `natter serve`: a reload fetches the stored thread's
// history, fires pre:threadLoaded (the messages its handlers leave are what is shown) and
// renders it; chat:ready never waits on the network.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { setup, bubbles, until } from "./chat-server.mjs";

let env;
before(async () => { env = await setup(); });
after(async () => { await env?.close(); });

test("history: reload restores the thread through pre:threadLoaded; chat:ready does not wait for it", async () => {
  const { page, ctx, problems } = await env.open();
  await page.evaluate(() => chat.render());
  await page.locator("[part=launcher]").click();
  await page.locator("[part=message].bot").first().waitFor();
  await page.evaluate(() => chat.send("markdown"));
  await until(page, () => /Some bold/.test(document.querySelector("[data-natter]").shadowRoot.textContent));
  const before = await bubbles(page);
  const tid = await page.evaluate(() => chat.getState().threadId);

  // slow history: chat:ready must not wait for it
  let release;
  const held = new Promise((r) => { release = r; });
  await page.route("**/v1/threads/*/messages", async (route) => { if (route.request().method() === "GET") await held; await route.continue(); });
  await page.reload();
  await page.waitForFunction(() => window.natterLoaded);
  await page.evaluate(() => {
    chat.on("pre:threadLoaded", (e) => {
      window.loaded = e.messages.map((m) => ({ id: typeof m.id, sender: m.sender, n: m.content.length }));
      e.messages = e.messages.filter((m) => m.sender !== "user");
    });
    return chat.render();
  });
  assert.equal(await page.evaluate(() => chat.getState().ready), true, "ready while history is still on its way");
  assert.equal(await page.evaluate(() => window.loaded), undefined);
  release();
  await until(page, () => window.loaded);
  assert.equal(await page.evaluate(() => chat.getState().threadId), tid);
  const loaded = await page.evaluate(() => window.loaded);
  assert.deepEqual(loaded.map((m) => m.sender), ["response", "user", "response"]);
  assert.ok(loaded.every((m) => m.id === "string" && m.n > 0));
  await until(page, () => document.querySelector("[data-natter]").shadowRoot.querySelectorAll("[part=message]").length === 2);
  assert.deepEqual(await bubbles(page), before.filter(([c]) => !c.includes("user")), "what the handler left is shown");
  const order = await page.evaluate(() => events.map((e) => e.type).filter((t) => t === "chat:ready" || t === "pre:threadLoaded"));
  assert.deepEqual(order, ["chat:ready", "pre:threadLoaded"]);

  // without a handler everything comes back, and the conversation goes on in the same thread
  await page.unroute("**/v1/threads/*/messages");
  await page.reload();
  await page.waitForFunction(() => window.natterLoaded);
  await page.evaluate(() => chat.render());
  await until(page, () => events.some((e) => e.type === "pre:threadLoaded"));
  await page.locator("[part=launcher]").click();
  await until(page, () => document.querySelector("[data-natter]").shadowRoot.querySelectorAll("[part=message]").length === 3);
  assert.deepEqual(await bubbles(page), before);
  await page.evaluate(() => chat.send("rate"));
  await until(page, () => /Rate this/.test(document.querySelector("[data-natter]").shadowRoot.textContent));
  assert.equal(await page.evaluate(() => chat.getState().threadId), tid);
  assert.deepEqual(problems, []);
  await ctx.close();
});
