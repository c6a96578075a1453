// Two `natter serve` instances on one PostgreSQL behind a proxy that plays the load balancer:
// the visitor's page talks to instance A; A is killed (-9) in the middle of a streamed reply and
// the proxy sends everything after to instance B. The widget, in Chromium, resumes its event
// stream on B with its Last-Event-ID, B re-runs the interrupted reply once (its run lease
// expired), and the page ends showing exactly the store's transcript: no gap, nothing twice,
// no partial reply left, the connection back online.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, bubbles, until } from "./chat-server.mjs";
import { startProxy, openThrough } from "./proxy.mjs";
import { startCluster } from "./pg-cluster.mjs";
import { launch } from "./widget-browser.mjs";

const LONG = Array.from({ length: 40 }, (_, i) => `w${String(i + 1).padStart(2, "0")}`).join(" ") + " END";

let pg, a, b, browser;
before(async () => {
  pg = await startCluster();
  // A short lease: B takes over A's run 2 s after A's last heartbeat.
  const env = { DATABASE_URL: pg.database("natter"), NATTER_RUN_LEASE: "2" };
  a = await startServer({ env });
  b = await startServer({ env });
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await a?.kill();
  await b?.kill();
  pg?.stop();
});

test("instances: kill -9 of the instance streaming a reply — the widget resumes on another, transcript = store", async (t) => {
  const px = await startProxy(a.origin);
  t.after(() => px.close());
  const { page, ctx, problems } = await openThrough(browser, px, "bot=slow");
  t.after(() => ctx.close());
  const events = [];
  await page.exposeFunction("record", (e) => events.push(e));
  await page.evaluate(() => {
    for (const type of ["send", "receive"]) chat.on(type, (e) => window.record({ type, text: e.message?.content?.[0]?.text ?? "" }));
  });
  await page.evaluate(() => chat.render());
  await page.locator("[part=launcher]").click();
  await page.locator("[part=message].bot").first().waitFor();
  await page.evaluate(() => chat.send("long"));
  await until(page, () => /w05/.test(document.querySelector("[data-natter]").shadowRoot.querySelector("[part=messages]").textContent));
  const tid = await page.evaluate(() => chat.getState().threadId);

  await a.kill("SIGKILL");
  px.switchTo(b.origin);
  // the reply is answered again by B once A's lease ran out, and streams to the page through B
  await until(page, () => /END/.test(document.querySelector("[data-natter]").shadowRoot.querySelector("[part=messages]").textContent), null, 40_000);
  await until(page, () => document.querySelector("[data-natter]").getAttribute("data-connection") === "online");
  await page.evaluate(() => chat.send("after the move"));
  await until(page, () => /complete/.test(document.querySelector("[data-natter]").shadowRoot.textContent), null, 20_000);

  const { body } = await b.api(`/v1/threads/${tid}/messages`);
  const stored = body.messages.map((m) => [m.role === "user" ? "user" : "bot", m.content.map((c) => c.text).join("").replace(/\*\*/g, "")]);
  const shown = (await bubbles(page)).map(([c, t]) => [c.includes("user") ? "user" : "bot", t]);
  assert.deepEqual(shown, stored, "shown = stored: no gap, nothing twice");
  assert.equal(shown.filter(([r, t]) => r === "bot" && t === LONG).length, 1, "the re-run reply is shown once, complete");
  assert.equal(shown.filter(([r, t]) => r === "bot" && t.startsWith("w01") && t !== LONG).length, 0, "no partial reply is left");
  assert.equal(shown.filter(([, t]) => t === "after the move").length, 1);
  assert.equal(events.filter((e) => e.type === "receive" && e.text.startsWith("w01")).length, 1, "one receive for the long reply");
  assert.ok(px.state.attempts.length >= 2, "the event stream was opened again (through the proxy, on B)");
  assert.deepEqual(problems, []);
});
