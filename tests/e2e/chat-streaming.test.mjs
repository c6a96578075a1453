// Point 3 (streaming) against a real `natter serve`: each message.delta goes through
// pre:stream:delta in order; [] suppresses it (nothing reaches the DOM) but the completed
// message still goes through pre:receive (what the handler leaves is rendered) and `receive`
// fires once it is on screen; the typing indicator shows from run.started and never sticks.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { setup, botTexts, until } from "./chat-server.mjs";

let env;
before(async () => { env = await setup(); });
after(async () => { await env?.close(); });

const FINAL = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty twenty-one twenty-two twenty-three twenty-four twenty-five twenty-six twenty-seven twenty-eight twenty-nine thirty END";

test("streaming: deltas in order; [] suppresses; pre:receive rewrite is rendered; receive after it is on screen; typing ends", async () => {
  const { page, ctx, problems } = await env.open();
  await page.evaluate(async () => {
    window.deltas = []; window.seen = []; window.typingSeen = false;
    chat.on("pre:stream:delta", async (e) => {
      deltas.push({ text: e.delta.content.map((c) => c.text).join(""), mid: e.messageId, tid: e.threadId, run: e.runId, role: e.delta.role, soFar: e.message.content.length });
      if (deltas.length % 3 === 0) await new Promise((r) => setTimeout(r, 5)); // async handlers keep order
      e.delta.content = []; // suppress every chunk: only the completed message may show
    });
    chat.on("pre:receive", (e) => { e.message.content = [{ ...e.message.content[0], text: "REWRITTEN " + e.message.content[0].text }]; });
    chat.on("receive", (e) => {
      const root = document.querySelector("[data-natter]").shadowRoot;
      window.onScreen = root.querySelector("[part=messages]").textContent.includes(e.message.content[0].text);
    });
    await chat.render();
    await chat.changeView("mainWindow");
  });
  await page.locator("[part=message].bot").first().waitFor();
  await page.evaluate(() => {
    const root = document.querySelector("[data-natter]").shadowRoot;
    new MutationObserver((records) => {
      for (const m of root.querySelectorAll("[part=message].bot,[part=message]:not(.user)")) if (/twenty/.test(m.textContent) && !/REWRITTEN/.test(m.textContent)) seen.push(m.textContent);
      // a change of .typing's `hidden` from present (oldValue "") means it was shown
      for (const r of records) if (r.target.classList?.contains("typing") && r.attributeName === "hidden" && r.oldValue !== null) typingSeen = true;
    }).observe(root, { subtree: true, childList: true, characterData: true, attributes: true, attributeOldValue: true });
    window.receivedBefore = events.filter((e) => e.type === "receive").length;
    chat.send("long");
  });
  await until(page, () => events.filter((e) => e.type === "receive").length > receivedBefore && window.onScreen !== undefined);
  const r = await page.evaluate(() => ({ deltas, seen, onScreen, typingSeen, typingHidden: document.querySelector("[data-natter]").shadowRoot.querySelector(".typing").hidden }));
  assert.equal(r.deltas.map((d) => d.text).join(""), FINAL, "every delta, in order");
  assert.ok(r.deltas.length > 20);
  const d0 = r.deltas[0];
  assert.match(d0.mid, /^msg_/); assert.match(d0.tid, /^thr_/); assert.match(d0.run, /^run_/); assert.equal(d0.role, "assistant");
  assert.deepEqual(r.seen, [], "suppressed deltas never reached the DOM");
  assert.equal(r.onScreen, true, "receive fired after the message was on screen");
  assert.equal((await botTexts(page)).at(-1), "REWRITTEN " + FINAL);
  assert.ok(r.typingSeen, "the typing indicator showed");
  assert.ok(r.typingHidden, "and ended");
  assert.deepEqual(problems, []);
  await ctx.close();
});

test("streaming: without handlers the reply grows in the DOM before it completes, then is rendered as markdown", async () => {
  const { page, ctx, problems } = await env.open("bot=slow");
  await page.evaluate(async () => { await chat.render(); await chat.changeView("mainWindow"); });
  await page.locator("[part=message].bot").first().waitFor();
  await page.evaluate(() => chat.send("long"));
  await until(page, () => /w05/.test(document.querySelector("[data-natter]").shadowRoot.querySelector("[part=messages]").textContent));
  assert.equal(await page.evaluate(() => events.some((e) => e.type === "receive" && /w05/.test(JSON.stringify(e)))), false, "shown while streaming");
  await until(page, () => /END/.test(document.querySelector("[data-natter]").shadowRoot.querySelector("[part=messages]").textContent), null, 20_000);
  await until(page, () => events.some((e) => e.type === "receive" && /END/.test(JSON.stringify(e))));
  assert.match((await botTexts(page)).at(-1), /^w01 w02 .* w40 END$/);
  assert.deepEqual(problems, []);
  await ctx.close();
});
