// The console (/console/) against a real `natter serve` with the demo bot (copied to a temp
// folder with one more action: an API action calling a stand-in API on 127.0.0.1), real
// widget sessions in Chromium, and the console in Chromium: sign-in, conversation list and
// filters, detail, live updates, Run Test of actions and handlers, bad input, a stopped
// server, CSP (0 violations). Screenshots of every screen at 1280 and 390 px go to
// test-artifacts/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, writeFileSync, appendFileSync, mkdirSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startServer, until } from "./chat-server.mjs";
import { noteSecret } from "./run-logs.mjs";
import { launch } from "./widget-browser.mjs";

const root = resolve(new URL("../..", import.meta.url).pathname);
const TOKEN = "console-e2e-token-0123456789abcdefghij";
const SHOTS = join(root, "test-artifacts");
let server, browser, standin, standinHits = [];

/** A stand-in stock API: GET /stock/{productId}?qty=N → {productId, inStock, qty}. */
function startStandin() {
  return new Promise((ok) => {
    const s = createServer((req, res) => {
      const url = new URL(req.url, "http://x");
      standinHits.push(url.pathname + url.search);
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ productId: url.pathname.split("/").pop(), inStock: true, qty: Number(url.searchParams.get("qty")) }));
    });
    s.listen(0, "127.0.0.1", () => ok(s));
  });
}

before(async () => {
  standin = await startStandin();
  const bots = mkdtempSync(join(tmpdir(), "natter-console-bots-"));
  cpSync(join(root, "bots/demo"), join(bots, "demo"), { recursive: true });
  appendFileSync(join(bots, "demo/bot.toml"), "\n[network]\nallow_private_network = true\n");
  writeFileSync(join(bots, "demo/actions/checkStock.toml"), `description = "Checks whether a product is in stock."
kind = "api"
[api]
base_url = "http://127.0.0.1:${standin.address().port}"
path = "/stock/$productId"
method = "GET"
query = { qty = "$quantity" }
[[args]]
name = "productId"
description = "The product's SKU"
[[args]]
name = "quantity"
type = "integer"
description = "How many"
`);
  server = await startServer({ bots, env: { NATTER_ADMIN_TOKEN: TOKEN } });
  browser = await launch();
  mkdirSync(SHOTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  await server?.kill();
  standin?.close();
});

/** A console page with CSP-violation and error collectors. */
async function consolePage(ctx) {
  const page = await ctx.newPage();
  const problems = [];
  await page.addInitScript(() => {
    window.__csp = [];
    document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  page.on("pageerror", (e) => problems.push("pageerror: " + e.message));
  return { page, problems };
}

async function signIn(page) {
  await page.goto(`${server.origin}/console/`);
  await page.waitForURL(/\/console\/sign-in$/);
  await page.fill("#token", TOKEN);
  await page.click("button[type=submit]");
  await page.waitForURL(/\/console\/$/);
}

const csp = (page) => page.evaluate(() => window.__csp);

async function shots(page, name) {
  for (const width of [1280, 390]) {
    await page.setViewportSize({ width, height: 900 });
    await page.waitForTimeout(100);
    await page.screenshot({ path: join(SHOTS, `console-${name}-${width}.png`), fullPage: true });
  }
  await page.setViewportSize({ width: 1280, height: 900 });
}

/** A widget visitor on the demo bot saying `texts`; returns the thread id. */
async function visitor(texts, { keep = false } = {}) {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(`${server.origin}/chat.html?bot=demo&persistence=none`);
  await page.waitForFunction(() => window.natterLoaded);
  await page.evaluate(() => chat.render());
  await page.locator("[part=launcher]").click();
  await page.locator("[part=message].bot").first().waitFor();
  for (const t of texts) {
    const n = await page.locator("[part=message].bot").count();
    await page.evaluate((t) => chat.send(t), t);
    await until(page, (n) => document.querySelector("[data-natter]").shadowRoot.querySelectorAll("[part=message].bot:not(.pending)").length > n, n);
    await page.waitForTimeout(400);
  }
  const id = await page.evaluate(() => chat.getState().threadId);
  if (!keep) await ctx.close();
  return { id, page, ctx };
}

test("sign-in: off-site and wrong tokens refused, cookie flags, CSRF token required", async () => {
  const ctx = await browser.newContext();
  const { page, problems } = await consolePage(ctx);
  await page.goto(`${server.origin}/console/sign-in`);
  await shots(page, "sign-in");
  await page.fill("#token", "not-the-token-not-the-token-not-the-token");
  await page.click("button[type=submit]");
  await page.locator("#error").waitFor();
  assert.match(await page.locator("#error").textContent(), /not the admin token/);
  assert.equal((await ctx.cookies()).length, 0, "no session for a wrong token");
  await page.fill("#token", TOKEN);
  await page.click("button[type=submit]");
  await page.waitForURL(/\/console\/$/);
  const [cookie] = await ctx.cookies();
  assert.equal(cookie.name, "natter_console");
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, "Strict");
  assert.equal(cookie.secure, false, "Secure only over https");
  assert.ok(!cookie.value.includes(TOKEN) && !page.url().includes(TOKEN));
  noteSecret(cookie.value); // the session token: never in the logs (zz-secrets-in-logs.test.mjs)
  assert.equal(await page.evaluate(() => localStorage.length), 0);
  // A state-changing request with the cookie but without the CSRF token is refused.
  const refused = await page.evaluate(async () => {
    const r = await fetch("/admin/v1/bots/demo/actions/getOrderStatus/test", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ argText: { orderId: "123456", email: "a@b.example" } }) });
    return [r.status, (await r.json()).error.code];
  });
  assert.deepEqual(refused, [403, "csrf_failed"]);
  const runs = await server.api("/admin/v1/action-runs?bot=demo", { headers: { Authorization: `Bearer ${TOKEN}` } });
  assert.equal(runs.body.runs.length, 0, "nothing ran");
  // Sign out ends the session.
  await page.click("#sign-out");
  await page.waitForURL(/sign-in$/);
  const after = await page.evaluate(async () => (await fetch("/admin/v1/bots")).status);
  assert.equal(after, 401);
  assert.deepEqual(await csp(page), []);
  assert.deepEqual(problems, []);
  await ctx.close();
});

test("conversations: list, filters, search, detail with transcript, live updates; overview", async () => {
  const hours = await visitor(["hours"]);
  const shipping = await visitor(["shipping", "EU"]);
  const human = await visitor(["human"]);
  // The hand-off is committed after the reply that announces it: wait for the store, not the widget.
  const auth = { headers: { Authorization: `Bearer ${TOKEN}` } };
  for (let i = 0; ; i++) {
    const { body } = await server.api(`/admin/v1/conversations?bot=demo&status=handed_off`, auth);
    if (body.conversations?.some((c) => c.id === human.id)) break;
    assert.ok(i < 100, "the conversation is handed off within 10 s");
    await new Promise((r) => setTimeout(r, 100));
  }
  const ctx = await browser.newContext();
  const { page, problems } = await consolePage(ctx);
  await signIn(page);
  await page.locator(".chart").waitFor();
  await shots(page, "overview");
  assert.equal(await page.locator(".chart rect").count() > 0, true, "the chart draws today's conversations");

  await page.click("[data-nav=conversations]");
  await page.locator("tr.row").first().waitFor();
  const ids = await page.locator("tr.row").evaluateAll((rows) => rows.map((r) => r.dataset.id));
  assert.deepEqual(ids.slice(0, 3), [human.id, shipping.id, hours.id], "newest first");
  assert.match(await page.locator(".tab[data-status=handed_off]").textContent(), /Handed off\s*1/);
  await shots(page, "conversations");

  await page.click(".tab[data-status=handed_off]");
  await until(page, () => document.querySelectorAll("tr.row").length === 1);
  assert.equal(await page.locator("tr.row").getAttribute("data-id"), human.id);

  await page.click(".tab[data-status=all]");
  await page.fill("input[name=q]", "where should");
  await page.click(".filters button[type=submit]");
  await until(page, () => document.querySelectorAll("tr.row").length === 1 && location.hash.includes("q=where"));
  assert.equal(await page.locator("tr.row").getAttribute("data-id"), shipping.id);

  // Detail: the transcript as the visitor saw it (buttons included), ids with copy buttons.
  await page.click("tr.row");
  await page.locator(".transcript .msg").first().waitFor();
  const text = await page.locator(".transcript").textContent();
  assert.match(text, /Where should we ship to\?/);
  assert.match(text, /Within the EU/);
  assert.match(text, /free/);
  assert.equal(await page.locator(".idrow button.copy").count(), 2);
  await shots(page, "conversation");

  // Live: a visitor writes while the console shows the conversation.
  const live = await visitor(["hours"], { keep: true });
  await page.goto(`${server.origin}/console/#/conversations/${live.id}`);
  await page.locator(".live:not([hidden])").waitFor();
  const before = await page.locator(".transcript .msg").count();
  await live.page.evaluate(() => chat.send("shipping"));
  await until(page, (n) => document.querySelectorAll(".transcript .msg").length >= n + 2, before);
  assert.match(await page.locator(".transcript").textContent(), /Where should we ship to\?/);
  await live.ctx.close();

  // Bad input: an unknown conversation id.
  await page.goto(`${server.origin}/console/#/conversations/nope-nope`);
  await page.locator("#notice:not([hidden])").waitFor();
  assert.match(await page.locator("#notice").textContent(), /no conversation with id or public id `nope-nope`/);
  assert.deepEqual(await csp(page), []);
  assert.deepEqual(problems, []);
  await ctx.close();
});

test("Run Test: an API action and a Python action with a conversation, a wrong-typed argument, a handler", async () => {
  const conv = await visitor(["hours"]);
  const { body: t } = await server.api(`/admin/v1/threads/${conv.id}`, { headers: { Authorization: `Bearer ${TOKEN}` } });
  const ctx = await browser.newContext();
  const { page, problems } = await consolePage(ctx);
  await signIn(page);
  await page.goto(`${server.origin}/console/#/actions`);
  await page.locator("a.card").first().waitFor();
  await shots(page, "actions");

  // Python action, with the conversation's public id: result, stdout, side effects.
  await page.goto(`${server.origin}/console/#/actions/getOrderStatus`);
  await page.locator("form.test").waitFor();
  assert.match(await page.locator(".note").textContent(), /source of truth/);
  await page.fill("#arg-orderId", "912345");
  await page.fill("#arg-email", "a@b.example");
  await page.fill("#conversation", t.publicId);
  await page.click("form.test button[type=submit]");
  await page.locator(".result .run-body").waitFor();
  const py = await page.locator(".result").textContent();
  assert.match(py, /"status": "delayed"/);
  assert.match(py, /looking up order 912345 for a@b\.example/, "stdout");
  assert.match(py, /\bok\b/);
  await page.locator(".runs details.run").first().waitFor();
  await shots(page, "action");
  const { body: after } = await server.api(`/admin/v1/threads/${conv.id}`, { headers: { Authorization: `Bearer ${TOKEN}` } });
  assert.equal(after.metadata.last_order, "912345", "context[conversation] was the real one");

  // API action with the conversation id: the stand-in got the request.
  await page.goto(`${server.origin}/console/#/actions/checkStock`);
  await page.locator("#arg-productId").waitFor();
  await page.fill("#arg-productId", "SKU-1");
  await page.fill("#arg-quantity", "abc");
  await page.click("form.test button[type=submit]");
  await page.locator(".result .error").waitFor();
  assert.match(await page.locator(".result").textContent(), /quantity/);
  assert.equal(standinHits.length, 0, "a wrong-typed argument runs nothing");
  await page.fill("#arg-quantity", "3");
  await page.fill("#conversation", conv.id);
  await page.click("form.test button[type=submit]");
  await page.locator(".result .run-body").waitFor();
  const apiText = await page.locator(".result").textContent();
  assert.match(apiText, /"inStock": true/);
  assert.match(apiText, /"qty": 3/);
  assert.deepEqual(standinHits, ["/stock/SKU-1?qty=3"]);

  // A handler's Run Test, the event type passed as context["args"]["event_type"].
  await page.goto(`${server.origin}/console/#/handlers`);
  await page.locator("section.panel a").first().waitFor();
  await shots(page, "handlers");
  await page.goto(`${server.origin}/console/#/handlers/conversation_handed_off/note_handoff`);
  await page.locator("#conversation").waitFor();
  await page.fill("#conversation", conv.id);
  await page.click("form.test button[type=submit]");
  await page.locator(".result .run-body").waitFor();
  const hres = await page.locator(".result").textContent();
  assert.match(hres, /"status": "notified"/);
  assert.match(hres, /handed off; recent: \['hours'\]/, "stdout");
  await shots(page, "handler");

  // Unknown conversation in a Run Test: a clear message, nothing logged.
  await page.fill("#conversation", "no-such-conversation");
  await page.click("form.test button[type=submit]");
  await page.locator(".result .error").waitFor();
  assert.match(await page.locator(".result").textContent(), /no-such-conversation/);

  assert.deepEqual(await csp(page), []);
  assert.deepEqual(problems, []);
  await ctx.close();
});

test("a stopped server: a clear message on the page, nothing half-done", async () => {
  const ctx = await browser.newContext();
  const { page } = await consolePage(ctx);
  await signIn(page);
  await page.goto(`${server.origin}/console/#/actions/getOrderStatus`);
  await page.locator("#arg-orderId").waitFor();
  await server.kill();
  await page.fill("#arg-orderId", "123456");
  await page.fill("#arg-email", "a@b.example");
  await page.click("form.test button[type=submit]");
  await page.locator(".result .error").waitFor();
  assert.match(await page.locator(".result").textContent(), /Natter is not answering/);
  assert.equal(await page.locator(".result .run-body").count(), 0);
  await page.evaluate(() => { location.hash = "#/conversations"; });
  await page.locator("#notice:not([hidden])").waitFor();
  assert.match(await page.locator("#notice").textContent(), /not answering.*stopped/);
  await shots(page, "stopped");
  assert.deepEqual(await csp(page), []);
  await ctx.close();
});
