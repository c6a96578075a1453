// End-to-end test of the widget's public API in headless Chromium (playwright-core + the
// Debian Chromium), on two pages served from 127.0.0.1: one using the <script> embed
// (fixtures/embed.html), one importing the npm package (fixtures/npm.html). Only the public
// API and real clicks are used. Needs pkg/ (scripts/build-widget).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { serveStatic } from "./widget-static.mjs";
import { launch } from "./widget-browser.mjs";
import { stubServer } from "./chat-stub.mjs";

let server, browser;

before(async () => {
  assert.ok(existsSync(new URL("../../pkg/natter.js", import.meta.url)), "pkg/ is missing: run scripts/build-widget first");
  server = await serveStatic();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

/** Opens a fixture page and waits for `window.chat`; collects page errors and console errors. */
async function open(fixture) {
  const page = await browser.newPage();
  await stubServer(page); // sends are acknowledged by a stand-in for https://chat.example.com
  const problems = [];
  page.on("pageerror", (e) => problems.push("pageerror: " + e.message));
  page.on("console", (m) => m.type() === "error" && !m.text().includes("favicon") && !m.text().includes("404") && problems.push("console.error: " + m.text()));
  await page.goto(`${server.origin}/fixtures/${fixture}`);
  await page.waitForFunction(() => window.natterLoaded).then(() => page.evaluate(() => window.natterLoaded));
  return { page, problems };
}

for (const fixture of ["embed.html", "npm.html"]) {
  test(`${fixture}: on/once/off, * and order, async handlers, pre:send read-back`, async () => {
    const { page, problems } = await open(fixture);
    const log = await page.evaluate(async () => {
      const log = [];
      const a = (e, i) => log.push(`a:${e.message.message.content}:${i === chat}`);
      const returned = chat
        .on("send", a)
        .once("send", () => log.push("once"))
        .on({ type: "send", handler: () => new Promise((r) => setTimeout(r, 20)).then(() => log.push("async")) })
        .on([{ type: "send", handler: () => log.push("after-async") }])
        .on("pre:send", (e) => { e.message.message.content += "?"; })
        .on("*", (e) => e.type.includes("send") && log.push("*" + e.type));
      log.push("chained:" + (returned === chat));
      await chat.render();
      await chat.send("one");
      await chat.send("two");
      chat.off("send", a);
      await chat.send("three");
      chat.off("send");
      await chat.send("four");
      chat.off("*");
      await chat.send("five");
      return log;
    });
    assert.deepEqual(log, [
      "chained:true",
      "*pre:send", "a:one?:true", "once", "async", "after-async", "*send",
      "*pre:send", "a:two?:true", "async", "after-async", "*send",
      "*pre:send", "async", "after-async", "*send",
      "*pre:send", "*send",
    ]);
    const shown = await page.locator("[part=message]").allTextContents();
    assert.deepEqual(shown, ["one?", "two?", "three?", "four?", "five?"]);
    assert.deepEqual(problems, []);
    await page.close();
  });

  test(`${fixture}: views change by click and by call, with reasons, rewrites and vetoes`, async () => {
    const { page, problems } = await open(fixture);
    await page.evaluate(async () => {
      window.reasons = [];
      chat.on("view:change", (e) => reasons.push(e.reason));
      chat.on("chat:ready", () => reasons.push("ready"));
      await chat.render();
    });
    const launcher = page.locator("[part=launcher]");
    const win = page.locator("[part=window]");
    assert.ok(await launcher.isVisible());
    assert.ok(!(await win.isVisible()));
    await launcher.click();
    await win.waitFor({ state: "visible" });
    assert.ok(!(await launcher.isVisible()));
    assert.ok(await page.locator("[part=input]").evaluate((el) => el.getRootNode().activeElement === el), "input focused");
    await page.locator("[part=minimize]").click();
    await launcher.waitFor({ state: "visible" });
    const after = await page.evaluate(async () => {
      await chat.changeView("mainWindow");
      const veto = (e) => { e.newViewState = e.oldViewState; };
      chat.on("view:pre:change", veto);
      await chat.changeView("launcher");
      const vetoed = chat.getState().view;
      chat.off("view:pre:change", veto);
      chat.once("view:pre:change", (e) => { e.newViewState = { launcher: true, mainWindow: true }; });
      await chat.changeView({ launcher: false });
      return { reasons, vetoed, both: chat.getState().view };
    });
    assert.deepEqual(after.reasons, ["chatLoaded", "ready", "launcherClicked", "mainWindowMinimized", "calledChangeView", "calledChangeView"]);
    assert.deepEqual(after.vetoed, { launcher: false, mainWindow: true, maximized: false });
    assert.deepEqual(after.both, { launcher: true, mainWindow: true, maximized: false });
    await page.locator("[part=maximize]").click();
    await page.waitForFunction(() => chat.getState().view.maximized);
    const max = await page.evaluate(async () => {
      chat.once("view:properties:pre:change", (e) => { e.newViewState.maximized = true; });
      await chat.changeViewProperties({ maximized: false });
      return chat.getState().view.maximized;
    });
    assert.equal(max, true, "the pre:change handler kept it maximized");
    assert.deepEqual(problems, []);
    await page.close();
  });

  test(`${fixture}: a throwing handler is reported and skipped, a slow one times out`, async () => {
    const { page, problems } = await open(fixture);
    const log = await page.evaluate(async () => {
      const log = [];
      chat.on("send", () => { throw new Error("handler bug"); });
      chat.on("send", () => new Promise(() => {})); // never settles; handlerTimeoutMs is 300
      chat.on("send", () => log.push("still runs"));
      await chat.send("x");
      return log;
    });
    assert.deepEqual(log, ["still runs"]);
    assert.equal(problems.length, 1);
    assert.match(problems[0], /natter: a "send" handler threw/);
    await page.close();
  });

  test(`${fixture}: destroy removes every node; later calls throw`, async () => {
    const { page, problems } = await open(fixture);
    const r = await page.evaluate(async () => {
      await chat.render();
      const before = document.querySelectorAll("[data-natter]").length;
      chat.destroy();
      let error;
      try { chat.on("send", () => {}); } catch (e) { error = [e.constructor.name, e.message]; }
      return { before, after: document.querySelectorAll("[data-natter]").length, error };
    });
    assert.equal(r.before, 1);
    assert.equal(r.after, 0);
    assert.deepEqual(r.error, ["Error", "on: this chat was destroyed; call loadChat() again for a new one"]);
    assert.deepEqual(problems, []);
    await page.close();
  });
}

test("each way of loading fetches one script and the .wasm up front, nothing else", async () => {
  for (const fixture of ["embed.html", "npm.html"]) {
    const { page, problems } = await open(fixture);
    const fetched = await page.evaluate(() =>
      performance.getEntriesByType("resource").map((r) => new URL(r.name).pathname).filter((p) => p.startsWith("/widget/")).sort(),
    );
    const script = fixture === "npm.html" ? "/widget/natter.js" : "/widget/embed.js";
    assert.deepEqual(fetched, [script, "/widget/natter_wasm_bg.wasm"].sort(), fixture);
    assert.deepEqual(problems, []);
    await page.close();
  }
});

test("the classic loaders open with V8's compile hint, as served", async () => {
  // a magic comment counts only as the file's first line; the minifier must not have eaten it
  for (const file of ["embed.js", "ibm-wa.js", "ibm-wxo.js"]) {
    const res = await fetch(`${server.origin}/widget/${file}`);
    assert.equal(res.status, 200, file);
    const first = (await res.text()).split("\n", 1)[0];
    assert.equal(first, "//# allFunctionsCalledOnLoad", file);
  }
});

test("npm: bad options reject with TypeErrors that say what to fix", async () => {
  const { page } = await open("npm.html");
  const errors = await page.evaluate(async () => {
    const out = [];
    for (const o of [{ bot: "x" }, { serverUrl: "https://a", element: "#nope" }, { serverUrl: "https://a", persistence: "disk" }]) {
      await loadChat(o).then(() => out.push("resolved"), (e) => out.push(`${e.constructor.name}: ${e.message}`));
    }
    try { chat.on("recieve", () => {}); } catch (e) { out.push(`${e.constructor.name}: ${e.message}`); }
    return out;
  });
  assert.match(errors[0], /^TypeError: loadChat: options.serverUrl is required/);
  assert.match(errors[1], /^TypeError: .*no element matches the selector "#nope"/);
  assert.match(errors[2], /^TypeError: .*persistence must be "local", "session" or "none"/);
  assert.match(errors[3], /^TypeError: on: unknown event name "recieve"; use one of: chat:ready, pre:send/);
  await page.close();
});

test("npm: loading and destroying 200 widgets leaves the DOM as it was", async () => {
  const { page, problems } = await open("npm.html");
  const counts = await page.evaluate(async () => {
    const nodes = () => document.getElementsByTagName("*").length;
    const before = nodes();
    for (let i = 0; i < 200; i++) {
      const c = await loadChat({ serverUrl: "https://chat.example.com", persistence: "none", element: i % 2 ? "#slot" : undefined });
      c.on("view:change", () => {});
      await c.render();
      c.destroy();
    }
    return { before, after: nodes(), slot: document.getElementById("slot").childNodes.length };
  });
  assert.equal(counts.after, counts.before);
  assert.equal(counts.slot, 0);
  assert.deepEqual(problems, []);
  await page.close();
});

test("embed without onLoad renders by itself from data-* attributes", async () => {
  const page = await browser.newPage();
  await page.goto(`${server.origin}/fixtures/embed-auto.html`);
  await page.locator("[part=launcher]").waitFor({ state: "visible" });
  await page.locator("[part=launcher]").click();
  await page.locator("[part=window]").waitFor({ state: "visible" });
  await page.close();
});

test("embed in <head> waits for the document before resolving element and rendering", async () => {
  const page = await browser.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(e.message));
  page.on("console", (m) => m.type() === "error" && !m.text().includes("404") && problems.push(m.text()));
  await page.goto(`${server.origin}/fixtures/embed-in-head.html`);
  await page.locator("#later [part=window]").waitFor({ state: "visible" });
  assert.deepEqual(problems, []);
  await page.close();
});
