// The browser session end to end: a shop page (served by a real `natter serve`) loads the widget
// with a `context` option; a Python action of the bot answers with what it sees in
// `context["browser_session"]`; after SPA navigation (history.pushState) the next action sees
// the new page; the conversation_closed handler gets the last page too; a bad `context` option is
// a TypeError naming it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServer, bubbles, until } from "./chat-server.mjs";
import { launch } from "./widget-browser.mjs";

const TOKEN = "session-e2e-token-0123456789abcdefghij";
let server, browser;

const BOT = `name = "Session bot"
greeting = "Hi!"
fallback = "Hm?"
[auth]
mode = "none"
[stream]
delay_ms = 0
[[workflows]]
name = "where"
triggers = { keywords = ["where"] }
steps = [ { action = "page", save_as = "p" }, { say = "At {{p.url}} ({{p.title}}) for {{p.customer}} in {{p.tz}}, {{p.width}} wide, via {{p.channel}}" } ]
`;
const ACTION = `description = "What page is the visitor on?"
kind = "python"
workflows = ["where"]
[python]
file = "actions/page.py"
timeout_ms = 20000
`;
const PAGE_PY = `
def execute_action(context):
    b = context["browser_session"] or {}
    return {"url": b.get("url"), "title": b.get("title"), "customer": (b.get("context") or {}).get("customerId"),
            "tz": b.get("timeZone"), "width": (b.get("screen") or {}).get("width"),
            "channel": context["conversation"]["channel"]}
`;
const CLOSED_PY = `
def handle_event(context):
    return {"browser": context["browser_session"], "channel": context["conversation"]["channel"]}
`;
const SHOP = `<!doctype html>
<html lang="en"><meta charset="utf-8"><title>Cart</title>
<body><h1>Shop</h1>
<script>
  window.natterConfig = {
    bot: "s", persistence: "none", context: { customerId: "c-42" },
    onLoad: (chat) => { window.chat = chat; window.natterLoaded = true; },
  };
</script>
<script src="/widget/embed.js" async></script>
</html>`;

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), "natter-session-"));
  const bot = join(dir, "bots/s");
  mkdirSync(join(bot, "actions"), { recursive: true });
  mkdirSync(join(bot, "handlers/conversation_closed"), { recursive: true });
  writeFileSync(join(bot, "bot.toml"), BOT);
  writeFileSync(join(bot, "actions/page.toml"), ACTION);
  writeFileSync(join(bot, "actions/page.py"), PAGE_PY);
  writeFileSync(join(bot, "handlers/conversation_closed/record.py"), CLOSED_PY);
  mkdirSync(join(dir, "www"));
  writeFileSync(join(dir, "www/shop.html"), SHOP);
  server = await startServer({ bots: join(dir, "bots"), www: join(dir, "www"), env: { NATTER_ADMIN_TOKEN: TOKEN } });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.kill();
});

const lastBot = async (page) => (await bubbles(page)).filter(([c]) => c.includes("bot")).map(([, t]) => t).pop();

test("a Python action and a handler see the real page, the host's context, and SPA navigation", { timeout: 60_000 }, async () => {
  const ctx = await browser.newContext({ viewport: { width: 1000, height: 760 }, timezoneId: "Europe/Zurich" });
  const page = await ctx.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push("pageerror: " + e.message));
  await page.goto(`${server.origin}/shop.html?item=7`);
  await page.waitForFunction(() => window.natterLoaded);
  await page.evaluate(async () => { await chat.render(); await chat.changeView("mainWindow"); });
  await page.locator("[part=message].bot").first().waitFor();

  await page.evaluate(() => chat.send("where am I"));
  await until(page, () => document.querySelectorAll("[data-natter]")[0].shadowRoot.textContent.includes("At http"));
  assert.equal(await lastBot(page), `At ${server.origin}/shop.html?item=7 (Cart) for c-42 in Europe/Zurich, 1000 wide, via web`);

  // SPA navigation: the widget tells the server about the new page before the next question.
  const put = page.waitForResponse((r) => r.url().endsWith("/browser-session") && r.request().method() === "PUT");
  await page.evaluate(() => { document.title = "Checkout"; history.pushState({}, "", "/checkout?step=2"); });
  assert.equal((await put).status(), 204);
  await page.evaluate(() => chat.send("where now"));
  await until(page, () => document.querySelector("[data-natter]").shadowRoot.textContent.includes("/checkout?step=2"));
  assert.equal(await lastBot(page), `At ${server.origin}/checkout?step=2 (Checkout) for c-42 in Europe/Zurich, 1000 wide, via web`);

  // Back: popstate / the navigation entry change sends the old page again.
  const back = page.waitForResponse((r) => r.url().endsWith("/browser-session"));
  await page.evaluate(() => history.back());
  await back;

  // The conversation ends: its closed handler gets the last page, the whole session.
  const tid = await page.evaluate(() => chat.getState().threadId);
  await page.evaluate(() => chat.restartConversation());
  let run;
  for (let i = 0; i < 400 && !run; i++) {
    const r = await fetch(`${server.origin}/admin/v1/handler-runs?bot=s&limit=10`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    run = (await r.json()).runs.find((x) => x.threadId === tid);
    if (!run) await new Promise((r) => setTimeout(r, 25));
  }
  assert.ok(run, "the closed handler ran");
  assert.equal(run.status, "ok", JSON.stringify(run));
  const b = run.result.browser;
  assert.equal(b.url, `${server.origin}/shop.html?item=7`);
  assert.equal(b.title, "Checkout", "the document's title as it is now (back() does not restore it)");
  assert.deepEqual(b.context, { customerId: "c-42" });
  assert.equal(b.timeZone, "Europe/Zurich");
  assert.deepEqual(b.screen, { width: 1000, height: 760 });
  assert.equal(typeof b.userAgent, "string");
  assert.equal(b.language, await page.evaluate(() => navigator.language));
  assert.equal(run.result.channel, "web");
  assert.deepEqual(problems, []);
  await ctx.close();
});

test("a context option that is not a small JSON object is a TypeError naming it", async () => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(`${server.origin}/widget/embed.js`); // same origin, any page
  const errors = await page.evaluate(async () => {
    const { loadChat } = await import("/widget/natter.js");
    const out = [];
    for (const context of ["c-42", [1], { big: "x".repeat(5000) }, { n: 1n }]) {
      try {
        await loadChat({ serverUrl: location.origin, bot: "s", context });
        out.push("no error");
      } catch (e) {
        out.push(`${e.name}: ${e.message}`);
      }
    }
    return out;
  });
  for (const e of errors) assert.match(e, /^TypeError: loadChat: options\.context must be a plain object of JSON values/);
  await ctx.close();
});
