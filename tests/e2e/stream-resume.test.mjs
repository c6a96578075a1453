// Stream resume in Chromium against a real `natter serve`: a page reload in the middle of a
// streamed reply shows, once the reply ends, exactly the store's transcript (each message
// once, complete); and with a proxy in front answering 503 until the widget's retry delay has
// grown to its cap, the widget keeps retrying on its backoff schedule (no tight loop) and is
// back online within the cap + 1 s of the proxy answering again, with nothing lost or repeated.
// The proxy recovers right after the attempt that starts the first capped delay, the worst case.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { setup, bubbles, until } from "./chat-server.mjs";
import { startProxy, openThrough } from "./proxy.mjs";

/** The widget's backoff cap (src/transport.rs `CAP_MS`) and first delay (`BASE_MS`). */
const CAP_MS = 10_000;
const BASE_MS = 500;

let env;
before(async () => { env = await setup(); });
after(async () => { await env?.close(); });

/** The store's transcript of a thread as [role, text] pairs (the widget renders **x** as x). */
async function stored(tid) {
  const { body } = await env.server.api(`/v1/threads/${tid}/messages`);
  return body.messages.map((m) => [m.role === "user" ? "user" : "bot", m.content.map((c) => c.text).join("").replace(/\*\*/g, "")]);
}
const shownPairs = async (page) => (await bubbles(page)).map(([c, t]) => [c.includes("user") ? "user" : "bot", t]);
const LONG = Array.from({ length: 40 }, (_, i) => `w${String(i + 1).padStart(2, "0")}`).join(" ") + " END";

test("stream resume: a reload mid-reply shows the store's transcript, every message once and complete", async () => {
  const { page, ctx, problems } = await env.open("bot=slow");
  await page.evaluate(() => chat.render());
  await page.locator("[part=launcher]").click();
  await page.locator("[part=message].bot").first().waitFor();
  await page.evaluate(() => chat.send("long"));
  await until(page, () => /w05/.test(document.querySelector("[data-natter]").shadowRoot.textContent));
  const tid = await page.evaluate(() => chat.getState().threadId);
  await page.reload();
  await page.waitForFunction(() => window.natterLoaded);
  await page.evaluate(() => chat.render());
  await until(page, () => chat.getState().threadId);
  assert.equal(await page.evaluate(() => chat.getState().threadId), tid, "the same thread after the reload");
  await page.evaluate(() => chat.changeView("mainWindow"));
  await until(page, () => /END/.test(document.querySelector("[data-natter]").shadowRoot.textContent), null, 30_000);
  await until(page, () => document.querySelector("[data-natter]").getAttribute("data-connection") === "online");
  const kept = await stored(tid);
  assert.deepEqual(kept.at(-1), ["bot", LONG], "the reply is stored complete");
  assert.deepEqual(await shownPairs(page), kept, "shown = stored: no gap, no repeat, no partial left");
  assert.deepEqual(problems, []);
  await ctx.close();
});

test("stream resume: 503s from a proxy in front until the backoff is capped, then 200 — back within the cap + 1 s, nothing lost or repeated", async (t) => {
  const px = await startProxy(env.server.origin);
  t.after(() => px.close());
  const { page, ctx, problems } = await openThrough(env.browser, px, "bot=t");
  t.after(() => ctx.close());
  await page.evaluate(() => chat.render());
  await page.locator("[part=launcher]").click();
  await until(page, () => document.querySelector("[data-natter]").getAttribute("data-connection") === "online");
  await page.evaluate(() => chat.send("echo before"));
  await until(page, () => /Echo: echo before/.test(document.querySelector("[data-natter]").shadowRoot.textContent));
  const tid = await page.evaluate(() => chat.getState().threadId);

  const downAt = Date.now();
  px.goDown();
  await until(page, () => document.querySelector("[data-natter]").getAttribute("data-connection") === "reconnecting");
  // Typed during the outage: kept and sent once the proxy answers again.
  await page.evaluate(() => { chat.send("echo during"); });
  // The delay after the n-th refused attempt is min(BASE_MS·2^n, CAP_MS) jittered into [d/2, d]:
  // after this many refusals the widget waits a capped delay.
  const toCap = Math.ceil(Math.log2(CAP_MS / BASE_MS));
  const refusedAttempts = () => px.state.attempts.filter((a) => a.down).length;
  while (refusedAttempts() < toCap) {
    assert.ok(Date.now() - downAt < 30_000, `the widget stopped retrying (${refusedAttempts()} attempts)`);
    await new Promise((r) => setTimeout(r, 10));
  }
  px.state.down = false;
  const recovered = Date.now();
  const outage = recovered - downAt;
  const during = refusedAttempts();
  // The backoff's schedule: delays from BASE_MS/2 doubling, so at most this many attempts fit.
  let fit = 0;
  for (let t = 0, d = BASE_MS; t <= outage; d = Math.min(d * 2, CAP_MS)) { t += d / 2; fit++; }
  assert.ok(during <= fit, `no tight loop: ${during} attempts during ${outage} ms (the schedule allows ${fit})`);

  await until(page, () => document.querySelector("[data-natter]").getAttribute("data-connection") === "online", null, CAP_MS + 10_000);
  const backAfter = Date.now() - recovered;
  assert.ok(backAfter <= CAP_MS + 1000, `back online ${backAfter} ms after the proxy recovered (cap ${CAP_MS} ms + 1 s)`);
  await until(page, () => /Echo: echo during/.test(document.querySelector("[data-natter]").shadowRoot.textContent), null, 20_000);
  const kept = await stored(tid);
  assert.deepEqual(await shownPairs(page), kept, "shown = stored: no gap, no repeat");
  assert.equal(kept.filter(([r, t]) => r === "user" && t === "echo during").length, 1, "the message typed during the outage is stored once");
  console.log(`# 503 proxy: ${during} attempts in a ${outage} ms outage (the retry delay at its cap); back online ${backAfter} ms after the proxy recovered (cap ${CAP_MS} ms + 1 s = ${CAP_MS + 1000} ms)`);
  assert.deepEqual(problems, []);
});
