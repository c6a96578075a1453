// Token refresh in Chromium against a real `natter serve` with an HS256 JWT bot. Every fetch of
// the page is logged (method, URL, body, token, status) to check what went over the wire:
// - 20 messages sent once the token has expired, while the event stream reconnects (a proxy
//   in front cuts it): the first send and the stream both go out with the expired token, and
//   the proxy holds the second 401 until the first one's refresh is done. Exactly one
//   authTokenNeeded, every request that got a 401 retried exactly once with the new token,
//   every message stored once and shown once (the widget sends them in order, one at a time);
// - a handler that gives a bad token: each request retried at most once, then the visitor
//   sees a clear state (failed message, "unauthorized" connection with its text) and the
//   widget stops asking and requesting; updateAuthToken() with a good token brings it back.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { setup, bubbles, until } from "./chat-server.mjs";
import { startProxy, openThrough } from "./proxy.mjs";

const SECRET = "e2e-test-secret-e2e-test-secret-0123456789";
const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
function jwt(sub, expInSecs) {
  const body = b64({ alg: "HS256", typ: "JWT" }) + "." + b64({ sub, exp: Math.floor(Date.now() / 1000) + expInSecs });
  return body + "." + createHmac("sha256", SECRET).update(body).digest("base64url");
}
const expOf = (t) => JSON.parse(Buffer.from(t.split(".")[1], "base64url")).exp;

let env;
before(async () => { env = await setup(); });
after(async () => { await env?.close(); });

/** Wraps window.fetch: every request and its status into window.wire. */
function logFetches() {
  window.wire = [];
  const real = window.fetch.bind(window);
  window.fetch = async (url, init = {}) => {
    const entry = { method: init.method || "GET", url: String(url), body: init.body || null, auth: (init.headers || {}).authorization || null, status: null };
    wire.push(entry);
    try {
      const r = await real(url, init);
      entry.status = r.status;
      return r;
    } catch (e) {
      entry.status = 0;
      throw e;
    }
  };
}

/** Requests grouped by what they ask for (method, URL, body): each group's tries in order. */
function tries(wire) {
  const groups = new Map();
  for (const w of wire) {
    const k = `${w.method} ${w.url.replace(/^https?:\/\/[^/]+/, "")} ${w.body || ""}`;
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k).push(w);
  }
  return groups;
}

const connection = (page) => page.evaluate(() => document.querySelector("[data-natter]").getAttribute("data-connection"));

test("token refresh: 20 requests when the token expires — one authTokenNeeded, each 401 retried once, nothing lost or doubled", async (t) => {
  const short = jwt("visitor-r", 3);
  const fresh = jwt("visitor-r", 3600);
  const px = await startProxy(env.server.origin);
  t.after(() => px.close());
  const { page, ctx, problems } = await openThrough(env.browser, px, `bot=jwt&token=${short}`);
  t.after(() => ctx.close());
  await page.evaluate(logFetches);
  await page.evaluate(async (fresh) => {
    window.asked = [];
    // Slow enough that the stream's reconnect goes out with the expired token meanwhile.
    chat.on("authTokenNeeded", async (e) => { asked.push(e.authToken); await new Promise((r) => setTimeout(r, 1000)); e.authToken = fresh; });
    await chat.render();
    await chat.changeView("mainWindow");
  }, fresh);
  await page.locator("[part=message].bot").first().waitFor();
  await page.waitForFunction((exp) => Date.now() / 1000 > exp + 1, expOf(short), { timeout: 10_000 });
  // The first refusal is held until the stream's reconnect (backoff ≤ 500 ms) has gone out with
  // the same expired token; later refusals arrive after the refresh (handler: 1 s) is done.
  px.state.first401 = 1500;
  px.state.late401 = 3500;
  px.cut();
  await page.evaluate(() => { for (let i = 1; i <= 20; i++) chat.send(`message ${String(i).padStart(2, "0")}`); });
  await until(page, () => events.filter((e) => e.type === "send").length === 20, null, 30_000);
  await until(page, () => events.filter((e) => e.type === "receive" && /^Reply/.test(e.message.content[0].text)).length === 20, null, 60_000);

  assert.deepEqual(await page.evaluate(() => asked), [short], "exactly one authTokenNeeded, carrying the expired token");
  const wire = await page.evaluate(() => wire);
  const refused = wire.filter((w) => w.status === 401);
  assert.ok(refused.length >= 2, `two requests in flight with the expired token were refused (${refused.length})`);
  for (const [what, ts] of tries(wire)) {
    const n401 = ts.filter((t) => t.status === 401).length;
    assert.ok(n401 <= 1, `${what}: refused ${n401} times`);
    if (n401 === 1) {
      const i = ts.findIndex((t) => t.status === 401);
      assert.ok(ts[i + 1], `${what}: retried after its 401`);
      assert.equal(ts[i + 1].auth, "Bearer " + fresh, `${what}: retried with the new token`);
    }
  }
  const sends = [...tries(wire)].filter(([k]) => k.startsWith("POST") && k.includes("/messages"));
  assert.equal(sends.length, 20, "20 distinct sends");
  for (const [what, ts] of sends) assert.ok(ts.filter((t) => t.status === 401).length + 1 >= ts.filter((t) => t.status === 202).length, what);

  const tid = await page.evaluate(() => chat.getState().threadId);
  const { body } = await env.server.api(`/v1/threads/${tid}/messages`, { headers: { authorization: "Bearer " + fresh } });
  const users = body.messages.filter((m) => m.role === "user").map((m) => m.content[0].text);
  assert.deepEqual(users, Array.from({ length: 20 }, (_, i) => `message ${String(i + 1).padStart(2, "0")}`), "each message stored once, in order");
  const kept = body.messages.map((m) => [m.role === "user" ? "user" : "bot", m.content.map((c) => c.text).join("")]);
  const shown = (await bubbles(page)).map(([c, t]) => [c.includes("user") ? "user" : "bot", t]);
  // The widget shows queued messages as they are typed and replies as they come, so the two
  // interleave differently from the store: compare each side's messages, once each.
  const side = (pairs, role) => pairs.filter(([r]) => r === role).map(([, t]) => t);
  assert.deepEqual(side(shown, "user"), side(kept, "user"), "every message shown once, in order");
  assert.deepEqual(side(shown, "bot").sort(), side(kept, "bot").sort(), "every reply shown exactly once");
  console.log(`# token refresh: 20 sends + a stream reconnect with an expired token: ${refused.length} requests got 401, 1 authTokenNeeded, ${wire.length} requests in all`);
  assert.deepEqual(problems, []);
});

test("token refresh: a handler giving a bad token — at most one retry each, a clear state, no request loop", async () => {
  const short = jwt("visitor-b", 3);
  const { page, ctx, problems } = await env.open(`bot=jwt&token=${short}`);
  await page.evaluate(logFetches);
  await page.evaluate(async () => {
    window.asked = [];
    chat.on("authTokenNeeded", (e) => { asked.push(e.authToken); e.authToken = "not-a-valid-token"; });
    await chat.render();
    await chat.changeView("mainWindow");
  });
  await page.locator("[part=message].bot").first().waitFor();
  await page.waitForFunction((exp) => Date.now() / 1000 > exp + 1, expOf(short), { timeout: 10_000 });
  await env.server.kill("SIGKILL");
  await env.server.start();
  await page.evaluate(() => { chat.send("refused"); });
  await until(page, () => document.querySelector("[data-natter]").shadowRoot.querySelector("[part=message].user.failed"), null, 20_000);
  await until(page, () => document.querySelector("[data-natter]").getAttribute("data-connection") === "unauthorized", null, 30_000);
  const settled = await page.evaluate(() => wire.length);
  const askedThen = await page.evaluate(() => asked.length);
  // Quiet afterwards: no request and no authTokenNeeded in a loop.
  await page.waitForTimeout(3_000);
  assert.equal(await page.evaluate(() => wire.length), settled, "no more requests once refused");
  assert.equal(await page.evaluate(() => asked.length), askedThen, "no more authTokenNeeded once refused");
  assert.ok(askedThen >= 1 && askedThen <= 2, `one authTokenNeeded per refused request (${askedThen})`);
  for (const [what, ts] of tries(await page.evaluate(() => wire))) {
    assert.ok(ts.filter((t) => t.status === 401).length <= 2, `${what}: at most one retry`);
    assert.ok(ts.length <= 2 || ts.some((t) => t.status !== 401), `${what}: tried ${ts.length} times`);
  }
  const status = page.locator("[part=status]");
  assert.ok(await status.isVisible(), "the state is shown to the visitor");
  assert.equal(await status.textContent(), "Your session has ended. Sign in again to continue.");
  // A good token brings the conversation back.
  await page.evaluate((t) => chat.updateAuthToken(t), jwt("visitor-b", 3600));
  await until(page, () => document.querySelector("[data-natter]").getAttribute("data-connection") === "online", null, 20_000);
  await page.evaluate(() => chat.send("again"));
  await until(page, () => events.some((e) => e.type === "receive" && /^Reply/.test(e.message.content[0].text)), null, 20_000);
  assert.equal(await connection(page), "online");
  assert.equal(await status.isVisible(), false);
  assert.deepEqual(problems, []);
  await ctx.close();
});
