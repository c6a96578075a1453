// Token refresh in Chromium against a real `natter serve` with an HS256 JWT bot. Every fetch of
// the page is logged (method, URL, body, token, status) to check what went over the wire:
// - 20 requests in flight when the token expires: the widget sends one message at a time, but
//   each thumb clicked is a request of its own, so 18 thumbs on 18 bot messages, a send (19 more
//   queued behind it) and the event stream's reconnect (a proxy in front cuts it) all go out
//   with the expired token. The proxy speaks HTTP/2 (over HTTP/1.1 Chromium sends at most 6
//   requests to an origin at a time) and holds every 401 until it holds 20 — all 20 refused
//   while in flight at once — then lets one through, half of the rest while the token handler
//   runs and half after it has finished. Exactly one authTokenNeeded, every request that got a
//   401 retried exactly once with the new token, every message and every rating stored once,
//   every message shown once;
// - a handler that gives a bad token: each request retried at most once, then the visitor
//   sees a clear state (failed message, "unauthorized" connection with its text) and the
//   widget stops asking and requesting; updateAuthToken() with a good token brings it back.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { setup, until } from "./chat-server.mjs";
import { noteSecret } from "./run-logs.mjs";
import { startProxy, openThrough } from "./proxy.mjs";

const SECRET = "e2e-test-secret-e2e-test-secret-0123456789";
const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
function jwt(sub, expInSecs) {
  const body = b64({ alg: "HS256", typ: "JWT" }) + "." + b64({ sub, exp: Math.floor(Date.now() / 1000) + expInSecs });
  // noted: the logs of the run must not show it (zz-secrets-in-logs.test.mjs)
  return noteSecret(body + "." + createHmac("sha256", SECRET).update(body).digest("base64url"));
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
    const entry = { method: init.method || "GET", url: String(url), body: init.body || null, auth: (init.headers || {}).authorization || null, status: null, start: performance.now(), end: Infinity };
    wire.push(entry);
    try {
      const r = await real(url, init);
      entry.status = r.status;
      entry.end = performance.now();
      return r;
    } catch (e) {
      entry.status = 0;
      entry.end = performance.now();
      throw e;
    }
  };
}

/** The most of `wire`'s requests that were in flight at once (fetched, no answer yet). */
function mostInFlight(wire) {
  const edges = wire.flatMap((w) => [[w.start, 1], [w.end, -1]]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let n = 0, most = 0;
  for (const [, d] of edges) most = Math.max(most, (n += d));
  return most;
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

test("token refresh: 20 requests in flight when the token expires — one authTokenNeeded, each 401 retried once, nothing lost or doubled", async (t) => {
  const RATED = 18;
  const first = jwt("visitor-r", 3600);
  const fresh = jwt("visitor-r", 7200);
  const px = await startProxy(env.server.origin, { h2: true });
  t.after(() => px.close());
  const { page, ctx, problems } = await openThrough(env.browser, px, `bot=jwt&token=${first}`);
  t.after(() => ctx.close());
  await page.evaluate(logFetches);
  await page.evaluate(async (fresh) => {
    window.asked = [];
    // Slow: the refusals let through meanwhile wait for this same refresh.
    chat.on("authTokenNeeded", async (e) => { asked.push(e.authToken); await new Promise((r) => setTimeout(r, 1000)); e.authToken = fresh; });
    await chat.render();
    await chat.changeView("mainWindow");
  }, fresh);
  await page.locator("[part=message].bot").first().waitFor();
  // bot messages to rate
  await page.evaluate((n) => { for (let i = 1; i <= n; i++) chat.send(`rate ${String(i).padStart(2, "0")}`); }, RATED);
  await until(page, (n) => document.querySelector("[data-natter]").shadowRoot.querySelectorAll("[part=feedback] button[data-a=up]").length === n, RATED, 30_000);
  // The token in use expires.
  const short = jwt("visitor-r", 2);
  await page.evaluate((t) => chat.updateAuthToken(t), short);
  await page.waitForFunction((exp) => Date.now() / 1000 > exp + 1, expOf(short), { timeout: 10_000 });

  const IN_FLIGHT = RATED + 2;
  // The first refusal comes back once all 20 are refused, the others during and after the
  // refresh (its handler takes 1 s).
  px.state.gather401 = { count: IN_FLIGHT, delay: (i) => (i === 0 ? 0 : i % 2 ? 300 : 2500) };
  const sentBefore = await page.evaluate(() => wire.length);
  px.cut();
  await page.evaluate(() => {
    for (const b of document.querySelector("[data-natter]").shadowRoot.querySelectorAll("[part=feedback] button[data-a=up]")) b.click();
    for (let i = 1; i <= 20; i++) chat.send(`message ${String(i).padStart(2, "0")}`);
  });
  for (const t0 = Date.now(); px.state.held401 < IN_FLIGHT; await new Promise((r) => setTimeout(r, 20))) {
    assert.ok(Date.now() - t0 < 10_000, `${IN_FLIGHT} requests refused while in flight at once (${px.state.held401} held)`);
  }
  await until(page, () => events.filter((e) => e.type === "send").length === 18 + 20, null, 30_000);
  await until(page, () => events.filter((e) => e.type === "receive" && /^Reply/.test(e.message.content[0].text)).length === 20, null, 60_000);

  assert.deepEqual(await page.evaluate(() => asked), [short], "exactly one authTokenNeeded, carrying the expired token");
  const wire = (await page.evaluate(() => wire)).slice(sentBefore);
  const refused = wire.filter((w) => w.status === 401);
  const expired = wire.filter((w) => w.auth === "Bearer " + short);
  const inFlight = mostInFlight(expired);
  assert.ok(inFlight >= IN_FLIGHT, `${IN_FLIGHT} requests in flight at once with the expired token (${inFlight})`);
  assert.ok(refused.length >= IN_FLIGHT, `each of them refused (${refused.length} 401s)`);
  for (const [what, ts] of tries(wire)) {
    const n401 = ts.filter((t) => t.status === 401).length;
    assert.ok(n401 <= 1, `${what}: refused ${n401} times`);
    if (n401 === 1) {
      const i = ts.findIndex((t) => t.status === 401);
      assert.equal(ts[i].auth, "Bearer " + short, `${what}: refused for the expired token`);
      assert.ok(ts[i + 1], `${what}: retried after its 401`);
      assert.equal(ts[i + 1].auth, "Bearer " + fresh, `${what}: retried with the new token`);
    }
  }
  const groups = [...tries(wire)];
  const ratings = groups.filter(([k]) => k.startsWith("POST") && k.includes("/feedback"));
  assert.equal(ratings.length, RATED, `${RATED} distinct ratings`);
  for (const [what, ts] of ratings) {
    assert.deepEqual(ts.map((t) => [t.auth, t.status < 300]), [["Bearer " + short, false], ["Bearer " + fresh, true]], `${what}: refused once, retried once`);
  }
  const sends = groups.filter(([k]) => k.startsWith("POST") && k.includes("/messages"));
  assert.equal(sends.length, 20, "20 distinct sends");
  for (const [what, ts] of sends) assert.ok(ts.filter((t) => t.status === 401).length + 1 >= ts.filter((t) => t.status === 202).length, what);

  const tid = await page.evaluate(() => chat.getState().threadId);
  const { body } = await env.server.api(`/v1/threads/${tid}/messages`, { headers: { authorization: "Bearer " + fresh } });
  const users = body.messages.filter((m) => m.role === "user").map((m) => m.content[0].text);
  const n2 = (i) => String(i + 1).padStart(2, "0");
  assert.deepEqual(users, [...Array.from({ length: RATED }, (_, i) => `rate ${n2(i)}`), ...Array.from({ length: 20 }, (_, i) => `message ${n2(i)}`)], "each message stored once, in order");
  // each rating stored once, on its message
  const ratedIds = body.messages.filter((m) => m.role !== "user" && m.content[0].text === "Rated.").map((m) => m.id).sort();
  let rows = [];
  for (let i = 0; i < 100 && rows.length < RATED; i++) {
    rows = execFileSync("sqlite3", [join(env.server.data, "natter.db"), `select message_id from feedback where thread_id='${tid}'`]).toString().split("\n").filter(Boolean);
    if (rows.length < RATED) await page.waitForTimeout(50);
  }
  assert.deepEqual(rows.sort(), ratedIds, "every rating stored once");
  const kept = body.messages.map((m) => [m.role === "user" ? "user" : "bot", m.content.map((c) => c.text).join("")]);
  // the bubbles' text without their thumbs
  const shown = await page.locator("[part=message]").evaluateAll((els) => els.map((e) => {
    const c = e.cloneNode(true);
    c.querySelectorAll("[part=feedback]").forEach((f) => f.remove());
    return [e.className.includes("user") ? "user" : "bot", c.textContent];
  }));
  // The widget shows queued messages as they are typed and replies as they come, so the two
  // interleave differently from the store: compare each side's messages, once each.
  const side = (pairs, role) => pairs.filter(([r]) => r === role).map(([, t]) => t);
  assert.deepEqual(side(shown, "user"), side(kept, "user"), "every message shown once, in order");
  assert.deepEqual(side(shown, "bot").sort(), side(kept, "bot").sort(), "every reply shown exactly once");
  console.log(`# token refresh: ${inFlight} requests in flight at once with the expired token (${RATED} ratings, a send, the stream), ${px.state.held401} refused at once at the server: ${refused.length} got 401, ${(await page.evaluate(() => asked)).length} authTokenNeeded, each retried once; ${wire.length} requests in all`);
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
