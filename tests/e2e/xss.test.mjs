// XSS corpus in Chromium against a real `natter serve`: every string of the Big List of Naughty
// Strings (tests/fixtures/blns), plus payloads that would fetch from a canary server on
// 127.0.0.1 and script URLs in the spellings browsers accept, shown by the widget as bot replies, option button labels, carousel card titles,
// descriptions, image URLs, button labels and URLs, feedback categories, and human agent
// messages (through the CRM inbound API). Pass: 0 script executions (alert/confirm/prompt/print
// and dialogs in any frame), 0 requests to the canary, 0 javascript:/vbscript:/data:text/html
// URLs and 0 on* attributes in the widget, no script/iframe/object/embed elements in messages.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startServer, until } from "./chat-server.mjs";
import { launch } from "./widget-browser.mjs";

const root = resolve(new URL("../..", import.meta.url).pathname);
const CRM_KEY = "xss-crm-key";
/** Options per button step, cards per carousel. */
const CHUNK = 40;
/** Replies per turn. */
const SAYS = 100;

/** TOML basic string: JSON's escapes, plus DEL, which TOML wants escaped too. */
const toml = (s) => JSON.stringify(s).replace(/\x7f/g, "\\u007F");
const chunks = (list, n) => Array.from({ length: Math.ceil(list.length / n) }, (_, i) => list.slice(i * n, i * n + n));

let canary, canaryHits = [], server, browser, corpus;

/** Script URLs in the spellings browsers accept (as card image and button URLs they must be
 * dropped; clicking their buttons must run nothing). */
const SCRIPT_URLS = [
  "javascript:alert(1)", " javascript:alert(2)", "JaVaScRiPt:alert(3)", "java\tscript:alert(4)",
  "java\nscript:alert(5)", "\u0001javascript:alert(6)", "vbscript:msgbox(7)",
  "data:text/html,<script>alert(8)</script>", "data:text/html;base64,PHNjcmlwdD5hbGVydCg5KTwvc2NyaXB0Pg==",
  "javascript&colon;alert(10)", "&#106;avascript:alert(11)", "javascript://%0aalert(12)",
];

function canaryVectors(c) {
  return [
    `<img src="${c}/img">`, `<img src=x onerror="fetch('${c}/onerror')">`, `<iframe src="${c}/iframe"></iframe>`,
    `<script src="${c}/script"></script>`, `<link rel=stylesheet href="${c}/css">`, `<style>@import "${c}/import";</style>`,
    `<svg><image href="${c}/svg"/></svg>`, `<video poster="${c}/poster"></video>`, `<object data="${c}/object"></object>`,
    `<embed src="${c}/embed">`, `<meta http-equiv="refresh" content="0;url=${c}/meta">`, `<base href="${c}/base/">`,
    `<input type=image src="${c}/input">`, `<body background="${c}/bg">`, `<div style="background:url(${c}/style)">x</div>`,
    `<a ping="${c}/ping" href="#">x</a>`, `<form action="${c}/form"><button>go</button></form>`,
    `<audio src="${c}/audio"></audio>`, `<source src="${c}/source">`, `<track src="${c}/track">`,
  ];
}

function scriptedBot(strings) {
  const lines = [
    'name = "XSS corpus bot"',
    'greeting = "ready"',
    'fallback = "?"',
    "[stream]",
    'chunk = "word"',
    "delay_ms = 0",
    "[feedback]",
    "all_messages = true",
    `positive = [${strings.filter((_, i) => i % 2 === 0).map(toml).join(", ")}]`,
    `negative = [${strings.filter((_, i) => i % 2 === 1).map(toml).join(", ")}]`,
  ];
  const wf = (name, steps) => lines.push("[[workflows]]", `name = "${name}"`, "interrupts = true", `triggers = { keywords = ["${name}"] }`, `steps = [\n${steps.join(",\n")}\n]`);
  // A turn runs at most 200 steps: the replies come in turns of SAYS.
  chunks(strings, SAYS).forEach((part, i) => wf(`xsay${i}`, part.map((s) => `{ say = ${toml(s)} }`)));
  chunks(strings, CHUNK).forEach((part, i) =>
    wf(`xbuttons${i}`, [`{ buttons = "pick", options = [${part.map((s, j) => `{ label = ${toml(s)}, value = "v${j}" }`).join(", ")}], retry = "pick one" }`]));
  chunks(strings, CHUNK).forEach((part, i) =>
    wf(`xcards${i}`, [`{ carousel = "cards", cards = [${part.map((s) => `{ title = ${toml(s)}, description = ${toml(s)}, image_url = ${toml(s)}, buttons = [ { label = ${toml(s)}, value = "v", url = ${toml(s)} } ] }`).join(", ")}] }`]));
  wf("xrate", ['{ say = "rate me", feedback = true }']);
  return lines.join("\n") + "\n";
}

const agentBot = `name = "XSS agent bot"
greeting = "ready"
[stream]
delay_ms = 0
[crm]
local = true
bot_id = "XSS_BOT"
api_key = "${CRM_KEY}"
[[workflows]]
name = "human"
triggers = { keywords = ["human"] }
steps = [ { handoff = "Connecting you.", reason = "asked" } ]
`;

before(async () => {
  canary = createServer((req, res) => { canaryHits.push(req.url); res.end("canary"); });
  await new Promise((ok) => canary.listen(0, "127.0.0.1", ok));
  const c = `http://127.0.0.1:${canary.address().port}`;
  const blns = JSON.parse(readFileSync(join(root, "tests/fixtures/blns/blns.json"), "utf8"));
  // Blank strings are not valid labels or replies (the config refuses them): left out.
  corpus = [...blns.filter((s) => s.trim() !== ""), ...canaryVectors(c), ...SCRIPT_URLS];
  const bots = mkdtempSync(join(tmpdir(), "natter-xss-bots-"));
  mkdirSync(join(bots, "xss"));
  writeFileSync(join(bots, "xss/bot.toml"), scriptedBot(corpus));
  mkdirSync(join(bots, "xssagent"));
  writeFileSync(join(bots, "xssagent/bot.toml"), agentBot);
  server = await startServer({ bots, env: { NATTER_RATE_CRM_PER_IP: "0" } });
  browser = await launch();
});
after(async () => { await browser?.close(); await server?.kill(); canary?.close(); });

/** A fresh page with the widget open on `bot`; every script-execution channel is counted. */
async function open(bot) {
  const ctx = await browser.newContext({ viewport: { width: 1000, height: 760 } });
  const page = await ctx.newPage();
  const seen = { dialogs: [], outside: [] };
  page.on("dialog", (d) => { seen.dialogs.push(d.message()); d.dismiss().catch(() => {}); });
  // Nothing leaves 127.0.0.1: other hosts (an image URL from the corpus) are aborted and listed.
  await ctx.route("**/*", (route) => {
    const u = route.request().url();
    if (/^https?:\/\/127\.0\.0\.1[:/]/.test(u) || u.startsWith("data:") || u.startsWith("blob:")) return route.continue();
    seen.outside.push(u);
    return route.abort();
  });
  await ctx.addInitScript(() => {
    window.__xss = [];
    for (const f of ["alert", "confirm", "prompt", "print"]) window[f] = (...a) => { window.__xss.push(`${f}(${a.join(",")})`); };
  });
  await page.goto(`${server.origin}/chat.html?bot=${bot}`);
  await page.waitForFunction(() => window.natterLoaded);
  await page.evaluate(() => chat.render());
  await page.locator("[part=launcher]").click();
  await page.locator("[part=message].bot").first().waitFor();
  return { ctx, page, seen };
}

const messageCount = (page) => page.evaluate(() => document.querySelector("[data-natter]").shadowRoot.querySelectorAll("[part=message]").length);

/** Everything in the widget (and the host page) that could run or load something. */
async function audit(page, seen, what) {
  await page.waitForTimeout(300); // let any injected handler or timer fire
  const r = await page.evaluate(() => {
    const roots = [document, document.querySelector("[data-natter]").shadowRoot];
    const bad = /^(javascript|vbscript|data:text\/html|data:image\/svg)/;
    const urlAttrs = ["href", "src", "action", "formaction", "xlink:href", "poster", "data", "background", "ping", "srcdoc", "srcset"];
    const out = { handlers: [], urls: [], elements: [], executed: window.__xss };
    for (const root of roots) {
      for (const el of root.querySelectorAll("*")) {
        for (const a of el.attributes) {
          if (a.name.startsWith("on")) out.handlers.push(`${el.tagName}[${a.name}]`);
          const v = a.value.replace(/[\u0000-\u0020\u007f-\u00a0]/g, "").toLowerCase();
          if (urlAttrs.includes(a.name) && bad.test(v)) out.urls.push(`${el.tagName}[${a.name}=${a.value.slice(0, 60)}]`);
        }
      }
    }
    for (const sel of ["[part=messages]", "[part=feedback-details]"]) {
      for (const box of roots[1].querySelectorAll(sel)) {
        out.elements.push(...[...box.querySelectorAll("script,iframe,frame,object,embed,svg,math,style,link,meta,base,form,video,audio,source,track")].map((e) => e.tagName));
      }
    }
    return out;
  });
  assert.deepEqual(r.executed, [], `${what}: injected script ran`);
  assert.deepEqual(seen.dialogs, [], `${what}: a dialog opened`);
  assert.deepEqual(r.handlers, [], `${what}: on* attributes`);
  assert.deepEqual(r.urls, [], `${what}: script URLs`);
  assert.deepEqual(r.elements, [], `${what}: active elements in messages`);
  assert.deepEqual(canaryHits, [], `${what}: the canary was contacted`);
}

test("xss corpus as bot replies renders inert", async () => {
  const { ctx, page, seen } = await open("xss");
  const before = await messageCount(page);
  const turns = chunks(corpus, SAYS).length;
  for (let i = 0; i < turns; i++) {
    await page.evaluate((k) => chat.send(k), `xsay${i}`);
    // One bubble for the visitor's message, one per reply.
    const want = before + (i + 1) + Math.min((i + 1) * SAYS, corpus.length);
    await until(page, (n) => document.querySelector("[data-natter]").shadowRoot.querySelectorAll("[part=message]").length >= n, want, 60_000);
  }
  await audit(page, seen, "bot replies");
  // The text arrived as text: a few corpus strings read back verbatim.
  const text = await page.evaluate(() => document.querySelector("[data-natter]").shadowRoot.querySelector("[part=messages]").textContent);
  assert.ok(text.includes("<script>alert(123)</script>"), "script tags shown as text");
  console.log(`xss: ${corpus.length} strings as bot replies, 0 executions, 0 canary requests`);
  await ctx.close();
});

test("xss corpus as option button labels renders inert", async () => {
  const { ctx, page, seen } = await open("xss");
  const groups = chunks(corpus, CHUNK).length;
  for (let i = 0; i < groups; i++) {
    await page.evaluate((k) => chat.send(k), `xbuttons${i}`);
    await until(page, (n) => document.querySelector("[data-natter]").shadowRoot.querySelectorAll("[part=button]").length >= n, Math.min((i + 1) * CHUNK, corpus.length), 60_000);
  }
  await audit(page, seen, "button labels");
  await ctx.close();
});

test("xss corpus as card titles, descriptions, image URLs, button labels and URLs renders inert; URL buttons open nothing unsafe", async () => {
  const { ctx, page, seen } = await open("xss");
  const groups = chunks(corpus, CHUNK).length;
  for (let i = 0; i < groups; i++) {
    await page.evaluate((k) => chat.send(k), `xcards${i}`);
    await until(page, (n) => document.querySelector("[data-natter]").shadowRoot.querySelectorAll("[part=card]").length >= n, Math.min((i + 1) * CHUNK, corpus.length), 60_000);
  }
  await audit(page, seen, "cards");
  // Click the buttons whose URL is a script URL: nothing runs, no window opens.
  const popups = [];
  ctx.on("page", (p) => popups.push(p.url()));
  const cards = page.locator("[part=card]");
  let clicked = 0;
  for (let i = 0; i < corpus.length; i++) {
    if (!SCRIPT_URLS.includes(corpus[i]) && !/^\s*(javascript|vbscript|data):/i.test(corpus[i])) continue;
    await cards.nth(i).locator("[part=button]").first().click();
    clicked++;
  }
  assert.ok(clicked > 0);
  await audit(page, seen, "card buttons clicked");
  assert.deepEqual(popups.filter((u) => !/^about:blank$/.test(u) && /^(javascript|vbscript|data)/i.test(u)), []);
  console.log(`xss: ${corpus.length} cards, ${clicked} script-URL buttons clicked, 0 executions`);
  await ctx.close();
});

test("xss corpus as feedback categories renders inert", async () => {
  const { ctx, page, seen } = await open("xss");
  await page.evaluate(() => chat.send("xrate"));
  for (const label of ["Helpful", "Not helpful"]) {
    const thumb = page.locator(`[part=feedback] button[aria-label='${label}']`).last();
    await thumb.waitFor();
    await thumb.click();
    const pop = page.locator("[part=feedback-details]");
    await pop.waitFor();
    const n = await pop.locator("label").count();
    assert.ok(n >= Math.floor(corpus.length / 2), `${label}: ${n} categories shown`);
    await audit(page, seen, `feedback categories (${label})`);
    await page.keyboard.press("Escape");
    await page.evaluate(() => chat.send("xrate"));
  }
  await ctx.close();
});

test("xss corpus as human agent messages renders inert", async () => {
  const { ctx, page, seen } = await open("xssagent");
  await page.evaluate(() => chat.send("human"));
  const thread = await page.evaluate(async () => {
    for (let i = 0; i < 200 && !chat.getState().threadId; i++) await new Promise((r) => setTimeout(r, 25));
    return chat.getState().threadId;
  });
  const agent = (body) => fetch(`${server.origin}/agent/converse/send-message-to-widget`, {
    method: "POST", headers: { authorization: CRM_KEY, "content-type": "application/json" },
    body: JSON.stringify({ platformConversationId: thread, ...body }),
  });
  let r;
  for (let i = 0; i < 100; i++) {
    r = await agent({ eventType: "escalationSuccess", agentName: "<img src=x onerror=alert(1)>" });
    if (r.status === 200) break;
    await new Promise((ok) => setTimeout(ok, 50));
  }
  assert.equal(r.status, 200, await r.text());
  const before = await messageCount(page);
  for (const s of corpus) {
    const a = await agent({ eventType: "message", text: s });
    assert.equal(a.status, 200, `${s}: ${await a.text()}`);
  }
  await until(page, (n) => document.querySelector("[data-natter]").shadowRoot.querySelectorAll("[part=message]").length >= n, before + corpus.length, 120_000);
  await audit(page, seen, "agent messages");
  console.log(`xss: ${corpus.length} strings as agent messages, 0 executions`);
  await ctx.close();
});
