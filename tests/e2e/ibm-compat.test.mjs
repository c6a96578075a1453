// IBM web chat compatibility (docs/ibm.md) against a real `natter serve` and Chromium: each host
// page in tests/e2e/ibm/pages does what one of IBM's public examples does, with IBM's API only,
// loaded through Natter's IBM loaders; the tests assert what a visitor of that page sees. A JWT
// service on loopback plays the page's own token endpoint (IBM's security examples).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { createHmac } from "node:crypto";
import { cpSync, appendFileSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startServer, bubbles, botTexts, until } from "./chat-server.mjs";
import { noteSecret } from "./run-logs.mjs";
import { launch } from "./widget-browser.mjs";

const here = resolve(new URL(".", import.meta.url).pathname);
const SECRET = "ibm-test-secret-ibm-test-secret-0123456789";
const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
function jwt(sub) {
  const body = b64({ alg: "HS256", typ: "JWT" }) + "." + b64({ sub, exp: Math.floor(Date.now() / 1000) + 3600 });
  // noted: the logs of the run must not show it (zz-secrets-in-logs.test.mjs)
  return noteSecret(body + "." + createHmac("sha256", SECRET).update(body).digest("base64url"));
}

let server, browser, jwtService, jwtUrl, elsewhere;
const listen = (srv) => new Promise((ok) => srv.listen(0, "127.0.0.1", () => ok(`http://127.0.0.1:${srv.address().port}`)));
before(async () => {
  // a host page on another origin than Natter's: served by a plain static server, allowed by
  // the bot's [cors]
  elsewhere = createServer((req, res) => {
    const name = new URL(req.url, "http://x").pathname.slice(1);
    if (!/^[a-z-]+\.html$/.test(name)) return res.writeHead(404).end();
    res.writeHead(200, { "content-type": "text/html" }).end(readFileSync(join(here, "ibm/pages", name)));
  });
  elsewhere.origin = await listen(elsewhere);
  const bots = mkdtempSync(join(tmpdir(), "natter-ibm-bots-"));
  cpSync(join(here, "ibm/bots"), bots, { recursive: true });
  appendFileSync(join(bots, "assistant/bot.toml"), `\n[cors]\nallowed_origins = ["${elsewhere.origin}"]\n`);
  server = await startServer({ bots, www: join(here, "ibm/pages") });
  browser = await launch();
  jwtService = createServer((req, res) => {
    const q = new URL(req.url, "http://x").searchParams;
    res.writeHead(200, { "content-type": "text/plain", "access-control-allow-origin": "*" });
    res.end(jwt(q.get("user") || q.get("user_id") || "anonymous-1"));
  });
  jwtUrl = encodeURIComponent(await listen(jwtService));
});
after(async () => {
  await browser?.close();
  await server?.kill();
  jwtService?.close();
  elsewhere?.close();
});

/** Opens a page of tests/e2e/ibm/pages (served by Natter, or by `origin`); collects page
 *  errors, console errors and warnings. */
async function open(path, origin = server.origin) {
  const ctx = await browser.newContext({ viewport: { width: 1000, height: 760 } });
  const page = await ctx.newPage();
  const problems = [];
  const warnings = [];
  page.on("pageerror", (e) => problems.push("pageerror: " + e.message));
  page.on("console", (m) => {
    if (process.env.IBM_TEST_CONSOLE) console.log(path, m.type(), m.text());
    if (m.type() === "error" && !/favicon|Failed to load resource/.test(m.text())) problems.push("console.error: " + m.text());
    if (m.type() === "warning") warnings.push(m.text());
  });
  await page.goto(`${origin}/${path}`);
  await page.locator("div[data-natter]").waitFor({ state: "attached" });
  return { page, ctx, problems, warnings };
}

const say = async (page, text) => {
  await page.locator("[part=input]").fill(text);
  await page.locator("[part=input]").press("Enter");
};
async function botSaid(page, re) {
  try {
    await until(page, (src) => [...document.querySelectorAll("div[data-natter]")].some((h) => [...h.shadowRoot.querySelectorAll("[part=message]:not(.user)")].some((m) => new RegExp(src).test(m.textContent))), re.source);
  } catch (e) {
    throw new Error(`no bot message matches ${re}; the transcript: ${JSON.stringify(await bubbles(page).catch(() => "?"))}`, { cause: e });
  }
}
const userTexts = async (page) => (await bubbles(page)).filter(([c]) => c.includes("user")).map(([, t]) => t);

test("content-carousel: the page's carousel renders in the bubble; its buttons send silently", async () => {
  const { page, ctx, problems } = await open("carousel.html");
  await page.locator("[part=launcher]").click();
  await botSaid(page, /test assistant/);
  await say(page, "carousel");
  const tiles = page.locator("#WACContainer.WACContainer .Carousel .cds--tile");
  await tiles.nth(1).waitFor();
  assert.deepEqual(await page.locator(".Carousel__Title").allTextContents(), ["Gold card", "Travel card"]);
  assert.equal(await tiles.count(), 2);
  await tiles.nth(1).locator("button").click();
  await botSaid(page, /You asked: Tell me about Travel card/);
  assert.deepEqual(await userTexts(page), ["carousel"], "a silent send shows no bubble");
  assert.deepEqual(problems, []);
  await ctx.close();
});

test("custom-buttons: options rewritten in pre:receive become the page's buttons; the choice survives a reload", async () => {
  const { page, ctx, problems } = await open("buttons.html");
  await page.locator("[part=launcher]").click();
  await botSaid(page, /test assistant/);
  await say(page, "buttons");
  const buttons = page.locator(".CardButton");
  await buttons.nth(1).waitFor();
  assert.deepEqual(await buttons.allTextContents(), ["Small", "Large"]);
  assert.equal(await page.locator("[part=button]").count(), 0, "Natter's own buttons are not drawn for the rewritten item");
  assert.equal(await buttons.nth(0).evaluate((b) => getComputedStyle(b).borderRadius), "8px", "page CSS scoped to #WACContainer.WACContainer applies");
  await buttons.nth(1).click();
  await botSaid(page, /You picked large/);
  assert.deepEqual(await userTexts(page), ["buttons", "Large"]);
  const tid = await page.evaluate(() => webChatInstance.getState().threadId);
  let kept;
  for (let i = 0; i < 50 && !kept; i++) {
    const { body } = await server.api(`/v1/threads/${tid}/user_defined`);
    kept = Object.values(body.messages)[0];
    if (!kept) await page.waitForTimeout(20);
  }
  assert.deepEqual(kept, { selectedIndex: 1 }, "updateHistoryUserDefined is kept on the server");
  await page.reload();
  const again = page.locator(".CardButton");
  await again.nth(1).waitFor();
  assert.deepEqual(await again.evaluateAll((bs) => bs.map((b) => [b.textContent, b.classList.contains("CardButton--selected"), b.disabled])), [
    ["Small", false, true],
    ["Large", true, true],
  ]);
  assert.equal(await page.locator("[part=window]").isVisible(), true, "the open window is reopened from session history");
  assert.deepEqual(problems, []);
  await ctx.close();
});

test("custom-element: the widget renders in the page's element; getMainWindow().addClassName hides it", async () => {
  const { page, ctx, problems } = await open("element.html");
  const host = page.locator(".WebChatContainer > #WACContainer.WACContainer > div[data-natter]");
  await host.waitFor({ state: "attached" });
  await page.locator("[part=window]").waitFor();
  assert.equal(await host.evaluate((h) => h.classList.contains("HideWebChat")), false);
  await page.locator("[part=minimize]").click();
  await until(page, () => getComputedStyle(document.querySelector("div[data-natter]")).display === "none");
  assert.equal(await host.evaluate((h) => h.classList.contains("HideWebChat")), true);
  assert.deepEqual(problems, []);
  await ctx.close();
});

test("custom-element (animation): the page's classes follow view:change, with IBM's reasons", async () => {
  const { page, ctx, problems } = await open("animation.html");
  await until(page, () => document.querySelector("div[data-natter]")?.classList.contains("OpenAnimation"));
  assert.equal(await page.evaluate(() => reasons[0]), "webChatLoaded");
  assert.equal(await page.locator("div[data-natter]").evaluate((h) => h.classList.contains("WebChatStyles")), true);
  await page.locator("[part=minimize]").click();
  await until(page, () => document.querySelector("div[data-natter]").classList.contains("HideWebChat"));
  assert.deepEqual(problems, []);
  await ctx.close();
});

test("custom-launcher: the page's launcher opens the chat; a reload reopens it with reason sessionHistory", async () => {
  const { page, ctx, problems } = await open("launcher.html");
  await page.locator("[part=window]").waitFor({ state: "hidden" });
  assert.equal(await page.locator("[part=launcher]").isVisible(), false, "showLauncher: false");
  await page.locator(".MyLauncher").click();
  await page.locator("[part=window]").waitFor();
  await botSaid(page, /test assistant/);
  assert.equal(await page.locator(".MyLauncher").isVisible(), false);
  await page.locator("[part=minimize]").click();
  await page.locator(".MyLauncher").waitFor();
  await page.locator(".MyLauncher").click();
  await page.locator("[part=window]").waitFor();
  await page.reload();
  await page.locator("[part=window]").waitFor();
  await until(page, () => window.reasons.includes("sessionHistory"));
  assert.equal(await page.locator(".MyLauncher").isVisible(), false);
  assert.deepEqual(problems, []);
  await ctx.close();
});

test("deep-linking: ?wa_lid opens the chat and sends the link's text", async () => {
  const { page, ctx, problems } = await open("deeplink.html?page=home&wa_lid=b50");
  await botSaid(page, /Let's pay your bill/);
  assert.deepEqual(await userTexts(page), ["Pay my bill"]);
  assert.deepEqual(problems, []);
  await ctx.close();
});

test("page-interaction: a user_defined button fills the page's form; receive reads user_defined on the reply", async () => {
  const { page, ctx, problems } = await open("interaction.html");
  await page.locator("[part=launcher]").click();
  await botSaid(page, /test assistant/);
  await say(page, "account");
  await page.locator(".ibm-web-chat--default-styles button").click();
  assert.equal(await page.locator("#account").inputValue(), "1234567");
  // a user_defined item with text is one item: one userDefinedResponse with the text in it, one bubble
  assert.deepEqual(await page.evaluate(() => drawn), [
    { type: "fill_account_number", text: "Your account number can go into the form.", items: 1 },
  ]);
  assert.deepEqual(await botTexts(page), ["Hi, I'm the test assistant.", "Your account number can go into the form."]);
  await say(page, "phone");
  await until(page, () => document.querySelector("#phone").value === "555-0100");
  assert.deepEqual(problems, []);
  await ctx.close();
});

test("select-greeting-action: the welcome request goes through pre:send and the page can replace it", async () => {
  const { page, ctx, problems } = await open("greeting.html?page=cards");
  await page.locator("[part=launcher]").click();
  // The whole answer: the first words are on screen while the rest still streams.
  await botSaid(page, /Our credit cards: Gold and Travel\./);
  assert.deepEqual(await userTexts(page), [], "the replaced welcome request is not shown as the visitor's");
  assert.equal(await page.evaluate(() => welcomeRequests), 1);
  // IBM: the welcome request's answer replaces the greeting (the thread starts without it)
  assert.deepEqual(await botTexts(page), ["Our credit cards: Gold and Travel."], "no greeting before the answer");
  const tid = await page.evaluate(() => webChatInstance.getState().threadId);
  const { body } = await server.api(`/v1/threads/${tid}/messages`);
  assert.deepEqual(body.messages.map((m) => m.role), ["user", "assistant"], "the server thread has no greeting either");
  await ctx.close();
  const plain = await open("greeting.html");
  await plain.page.locator("[part=launcher]").click();
  await botSaid(plain.page, /test assistant/);
  await until(plain.page, () => window.welcomeRequests === 1);
  await plain.page.waitForTimeout(200);
  assert.deepEqual(await botTexts(plain.page), ["Hi, I'm the test assistant."]);
  assert.deepEqual([...problems, ...plain.problems], []);
  await plain.ctx.close();
});

test("using-carbon: the page builds its accordion from user_defined data", async () => {
  const { page, ctx, problems } = await open("carbon.html");
  await page.locator("[part=launcher]").click();
  await say(page, "accordion");
  const items = page.locator("#WACContainer cds-accordion cds-accordion-item");
  await items.nth(1).waitFor({ state: "attached" });
  assert.deepEqual(await items.evaluateAll((xs) => xs.map((x) => [x.getAttribute("title"), x.textContent])), [
    ["Fees", "No yearly fee."],
    ["Rates", "1% cash back."],
  ]);
  assert.deepEqual(problems, []);
  await ctx.close();
});

test("web-chat-security-simple: identityTokenExpired's handler supplies the JWT", async () => {
  const { page, ctx, problems } = await open(`security-simple.html?jwt=${jwtUrl}`);
  await page.locator("[part=launcher]").click();
  await botSaid(page, /Signed in/);
  await say(page, "hello");
  await botSaid(page, /Reply to hello/);
  assert.ok((await page.evaluate(() => tokenRequests)) >= 1);
  assert.deepEqual(problems, []);
  await ctx.close();
});

test("web-chat-security-complex: updateIdentityToken replaces the token; no new identityTokenExpired", async () => {
  const { page, ctx, problems } = await open(`security-complex.html?jwt=${jwtUrl}`);
  await page.locator("[part=launcher]").click();
  await botSaid(page, /Signed in/);
  const asked = await page.evaluate(() => tokenRequests);
  await page.locator("#login").click();
  await page.locator("#login", { hasText: "Logged in" }).waitFor();
  await say(page, "after login");
  await botSaid(page, /Reply to after login/);
  assert.equal(await page.evaluate(() => tokenRequests), asked);
  assert.deepEqual(problems, []);
  await ctx.close();
});

test("Orchestrate anonymous embed: wxoLoader.init() mounts a floating chat in #root", async () => {
  const { page, ctx, problems } = await open("anonymous.html");
  await page.locator("#root > #WACContainer.WACContainer > div[data-natter]").waitFor({ state: "attached" });
  await page.locator("[part=launcher]").click();
  await botSaid(page, /test assistant/);
  assert.deepEqual(problems, []);
  await ctx.close();
});

test("Orchestrate customer care: custom layout, chatstarted hands over the instance, send's context is writable", async () => {
  const { page, ctx, problems } = await open("care.html");
  await page.locator("#chat-host div[data-natter]").waitFor({ state: "attached" });
  await until(page, () => typeof window.wxoChatInstance?.send === "function");
  await page.locator("[part=window]").waitFor();
  await page.evaluate(() => wxoChatInstance.send("echo from the page"));
  await botSaid(page, /Echo: echo from the page/);
  assert.deepEqual(problems, []);
  await ctx.close();
});

test("Orchestrate secure embed: the token from wxOConfiguration is used; destroy() removes the chat", async () => {
  const { page, ctx, problems } = await open(`secure.html?jwt=${jwtUrl}`);
  await page.locator("[part=launcher]").click();
  await botSaid(page, /Signed in/);
  await say(page, "hi");
  await botSaid(page, /Reply to hi/);
  await page.evaluate(() => wxoLoader.destroy());
  await until(page, () => !document.querySelector("div[data-natter]") && !document.querySelector("#WACContainer"));
  assert.deepEqual(problems, []);
  await ctx.close();
});

test("unsupported options, methods and events warn once each and the page keeps working; image and iframe items render", async () => {
  const { page, ctx, problems, warnings } = await open("misc.html");
  await until(page, () => window.outcome.includes("done"));
  const ours = warnings.filter((w) => w.startsWith("natter (IBM"));
  const about = (re) => ours.filter((w) => re.test(w)).length;
  assert.equal(about(/serviceDeskFactory, homeScreen/), 1, ours.join("\n"));
  assert.equal(about(/agent:areAnyAgentsOnline/), 1);
  assert.equal(about(/updateHomeScreenConfig/), 1, "called twice, said once");
  assert.equal(about(/updateLauncherGreetingMessage/), 1);
  assert.equal(about(/writeable/), 1);
  assert.equal(about(/custom panels/), 1);
  await page.locator("[part=launcher]").click();
  await say(page, "echo picture");
  const img = page.locator("#WACContainer img.ibm-web-chat--image");
  await img.waitFor();
  assert.equal(await img.getAttribute("alt"), "A picture");
  const frame = page.locator("#WACContainer iframe.ibm-web-chat--iframe");
  await frame.waitFor({ state: "attached" });
  assert.equal(await frame.getAttribute("sandbox"), "allow-scripts allow-forms allow-popups");
  assert.deepEqual(problems, []);
  await ctx.close();
});

test("both IBM loaders on one page: a clear error, and one chat", async () => {
  const { page, ctx, problems } = await open("both.html");
  await page.waitForTimeout(300);
  assert.equal(problems.filter((p) => /both IBM web chat loaders are on this page/.test(p)).length, 1, problems.join("\n"));
  assert.equal(await page.locator("div[data-natter]").count(), 1);
  await ctx.close();
});

test("a page on another origin: the loader, the wasm and the API work cross-origin", async () => {
  const { page, ctx, problems } = await open(`crossorigin.html?natter=${encodeURIComponent(server.origin)}`, elsewhere.origin);
  await page.locator("[part=launcher]").click();
  await botSaid(page, /test assistant/);
  await say(page, "echo across origins");
  await botSaid(page, /Echo: echo across origins/);
  const id = await page.evaluate(() => new Promise((ok) => webChatInstance.on("receive", (e) => ok(e.data.id)) && webChatInstance.send("echo again")));
  await page.evaluate((id) => webChatInstance.updateHistoryUserDefined(id, { seen: true }), id);
  const tid = await page.evaluate(() => webChatInstance.getState().threadId);
  assert.deepEqual((await server.api(`/v1/threads/${tid}/user_defined`)).body.messages[id], { seen: true });
  assert.deepEqual(problems, []);
  await ctx.close();
});

test("server side: id lookup and user_defined endpoints refuse bad input with clear errors", async () => {
  for (const path of ["/WatsonAssistantChatEntry.js", "/versions/8.2.0/WatsonAssistantChatEntry.js", "/wxochat/wxoLoader.js?embed=true", "/wxoLoader.js"]) {
    const res = await fetch(server.origin + path);
    assert.equal(res.status, 200, path);
    assert.match(res.headers.get("content-type"), /javascript/, path);
  }
  assert.equal((await fetch(server.origin + "/widget/natter_wasm_bg.wasm")).headers.get("access-control-allow-origin"), "*");
  let r = await server.api("/ibm/bot?integrationID=nope");
  assert.equal(r.status, 404);
  assert.match(r.body.error.message, /\[ibm\] integration_ids/);
  r = await server.api("/ibm/bot?integrationID=it-misc&agentId=agent-care");
  assert.equal(r.status, 400);
  assert.deepEqual((await server.api("/ibm/bot?agentId=agent-care")).body, { bot: "assistant" });
  const created = await server.api("/v1/bots/assistant/threads", { method: "POST" });
  const tid = created.body.threadId;
  const post = (body) => server.api(`/v1/threads/${tid}/user_defined`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const history = (await server.api(`/v1/threads/${tid}/messages`)).body.messages;
  r = await post({ messageId: history[0].id, data: [1] });
  assert.equal(r.status, 400);
  assert.match(r.body.error.message, /data must be a JSON object/);
  r = await post({ messageId: "msg_nope", data: {} });
  assert.equal(r.status, 404);
  assert.equal(r.body.error.code, "message_not_found");
  assert.deepEqual((await server.api(`/v1/threads/${tid}/user_defined`)).body, { messages: {} }, "nothing kept by refused writes");
  r = await post({ messageId: history[0].id, data: { n: 1 } });
  assert.equal(r.status, 200);
  assert.deepEqual((await server.api(`/v1/threads/${tid}/user_defined`)).body, { messages: { [history[0].id]: { n: 1 } } });
});
