// The pages natter serves from its binary (demo, examples, agent console) under their own
// strict policy (CSP without inline script or style, Trusted Types): each loads with 0
// violations and works — the demo page chats with the built-in demo bot.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join, resolve } from "node:path";
import { startServer } from "./chat-server.mjs";
import { launch } from "./widget-browser.mjs";

const root = resolve(new URL("../..", import.meta.url).pathname);
let server, browser;
before(async () => {
  server = await startServer({ www: false, bots: join(root, "bots") });
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await server?.kill();
});

/** Opens `path`, counting CSP violations and page errors from the first script on. */
async function open(path) {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.addInitScript(() => {
    window.violations = [];
    document.addEventListener("securitypolicyviolation", (e) => window.violations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  const resp = await page.goto(server.origin + path);
  assert.match(resp.headers()["content-security-policy"], /require-trusted-types-for 'script'/);
  assert.doesNotMatch(resp.headers()["content-security-policy"], /unsafe-inline/);
  return { ctx, page, errors };
}

test("demo page: strict policy, 0 violations, a conversation with the demo bot", { timeout: 60_000 }, async () => {
  const { ctx, page, errors } = await open("/");
  await page.locator("[part=launcher]").click();
  await page.locator("[part=message].bot").first().waitFor();
  await page.locator("[part=input]").fill("order status");
  await page.locator("[part=input]").press("Enter");
  await page.waitForFunction(() => document.querySelectorAll("[data-natter]").length === 1 &&
    document.getElementById("log").textContent.includes("receive"));
  await page.locator("[part=message].bot").nth(1).waitFor();
  assert.equal(await page.locator("#log").evaluate((e) => getComputedStyle(e).overflow), "auto", "the page's stylesheet applies");
  assert.deepEqual(await page.evaluate(() => window.violations), []);
  assert.deepEqual(errors, []);
  await ctx.close();
});

test("examples and the agent console: strict policy, 0 violations", { timeout: 60_000 }, async () => {
  for (const path of ["/examples/inline.html", "/examples/npm.html", "/examples/data-attributes.html"]) {
    const { ctx, page, errors } = await open(path);
    await page.locator("[part=launcher]:visible, [part=input]:visible").first().waitFor();
    assert.deepEqual(await page.evaluate(() => window.violations), [], path);
    assert.deepEqual(errors, [], path);
    await ctx.close();
  }
  const { ctx, page, errors } = await open("/agent/?key=demo-agent-key");
  await page.waitForFunction(() => document.getElementById("key").value === "demo-agent-key");
  assert.equal(await page.locator("aside").evaluate((e) => getComputedStyle(e).overflow), "auto");
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(await page.evaluate(() => window.violations), []);
  assert.deepEqual(errors, []);
  await ctx.close();
});
