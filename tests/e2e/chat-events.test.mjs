// The event spec held line by line against a real `natter serve`: the order pre:send → send →
// pre:stream:delta… → pre:receive → receive for every message; delta.text write-back; `type`
// beside `response_type`; `message_state` in pre:threadLoaded; a send that survives a reload
// exactly once; the widget on a page under a strict CSP and Trusted Types.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { setup, bubbles, until } from "./chat-server.mjs";

let env;
before(async () => { env = await setup(); });
after(async () => { await env?.close(); });

const ORDER = ["pre:send", "send", "pre:stream:delta", "pre:receive", "receive"];

test("50 sends in a row: pre:send → send → pre:stream:delta… → pre:receive → receive for each", async () => {
  const { page, ctx, problems } = await env.open("persistence=none");
  await page.evaluate(async () => {
    await chat.render();
    await chat.changeView("mainWindow");
  });
  await page.locator("[part=message].bot").first().waitFor(); // the greeting
  await page.evaluate(() => { window.events.length = 0; });
  await page.evaluate(async () => { for (let i = 0; i < 50; i++) chat.send("echo n" + i); });
  await until(page, () => events.filter((e) => e.type === "receive").length >= 50, null, 60_000);
  const log = await page.evaluate(() => events.filter((e) => ["pre:send", "send", "pre:stream:delta", "pre:receive", "receive"].includes(e.type)));
  // per message: its send, then its reply's events, which carry "Echo: echo nI"
  for (let i = 0; i < 50; i++) {
    const text = "echo n" + i;
    const mine = [];
    let replyId;
    for (const e of log) {
      if ((e.type === "pre:send" || e.type === "send") && e.message.message.content === text) mine.push(e.type);
      if (e.type === "pre:receive" && e.message.content.some((c) => c.text === "Echo: " + text)) replyId = e.message.id;
    }
    assert.ok(replyId, `a reply to ${text}: ${JSON.stringify(log.filter((e) => e.type === "pre:receive").slice(0, 3).map((e) => e.message.content))}`);
    const seq = log.filter((e) => ((e.type === "pre:send" || e.type === "send") && e.message.message.content === text)
      || e.messageId === replyId || (e.message && e.message.id === replyId)).map((e) => e.type);
    const collapsed = seq.filter((t, k) => t !== "pre:stream:delta" || seq[k - 1] !== "pre:stream:delta");
    assert.deepEqual(collapsed, ORDER, `events of ${text}: ${seq.join(", ")}`);
  }
  // and globally: each message's send comes before the first event of its reply
  const sendIdx = (t) => log.findIndex((e) => e.type === "send" && e.message.message.content === t);
  const firstReply = (t) => log.findIndex((e) => e.type === "pre:stream:delta" && log.some((r) => r.type === "pre:receive" && r.message.id === e.messageId && r.message.content.some((c) => c.text === "Echo: " + t)));
  for (let i = 0; i < 50; i++) assert.ok(sendIdx("echo n" + i) < firstReply("echo n" + i));
  assert.deepEqual(problems, []);
  await ctx.close();
});

test("pre:stream:delta: event.delta.text rewrites the rendered chunk; pre:receive items carry type", async () => {
  const { page, ctx, problems } = await env.open("persistence=none");
  await page.evaluate(async () => {
    window.streamed = [];
    chat.on("pre:stream:delta", (e) => { e.delta.text = e.delta.content.map((c) => c.text).join("").toUpperCase(); });
    // snapshot what the live bubble shows at each pre:receive, before the final render
    chat.on("pre:receive", (e) => {
      chat._flush(); // what is queued for the next frame, rendered now
      const live = document.querySelector("[data-natter]").shadowRoot.querySelector("[part=message].live");
      if (live) streamed.push(live.textContent);
      window.items = e.message.content.map((c) => ({ type: c.type, response_type: c.response_type }));
    });
    await chat.render();
    await chat.changeView("mainWindow");
  });
  await page.locator("[part=message].bot").first().waitFor();
  await page.evaluate(() => { window.streamed.length = 0; });
  await page.evaluate(() => chat.send("echo quiet words"));
  await until(page, () => window.streamed.length > 0);
  const shown = await page.evaluate(() => window.streamed);
  assert.ok(shown.some((s) => s.includes("ECHO: ECHO QUIET")), `the rewrite is what streams: ${JSON.stringify(shown)}`);
  const items = await page.evaluate(() => window.items);
  assert.deepEqual(items, [{ type: "text", response_type: "text" }]);
  assert.deepEqual(problems, []);
  await ctx.close();
});

test("pre:threadLoaded messages carry message_state (the feedback given)", async () => {
  const { page, ctx } = await env.open("persistence=local");
  await page.evaluate(async () => { await chat.render(); await chat.changeView("mainWindow"); });
  await page.locator("[part=message].bot").first().waitFor();
  await page.evaluate(() => chat.send("markdown"));
  await page.locator("[part=feedback] [data-a=up]").first().click();
  await page.locator("[data-a=fbclose]").click();
  await new Promise((r) => setTimeout(r, 300)); // the feedback POST
  await page.reload();
  await page.waitForFunction(() => window.natterLoaded);
  await page.evaluate(async () => { await chat.render(); });
  await until(page, () => events.some((e) => e.type === "pre:threadLoaded"));
  const msgs = await page.evaluate(() => events.find((e) => e.type === "pre:threadLoaded").messages);
  assert.ok(msgs.length >= 3 && msgs.every((m) => m.message_state && typeof m.message_state === "object"));
  const rated = msgs.filter((m) => m.message_state.feedback);
  assert.equal(rated.length, 1);
  assert.equal(rated[0].message_state.feedback.isPositive, true);
  assert.ok(msgs.every((m) => m.content.every((c) => c.type === c.response_type)));
  await ctx.close();
});

test("a send not yet acknowledged survives a reload and arrives exactly once", { timeout: 90_000 }, async () => {
  const { page, ctx } = await env.open("persistence=local");
  await page.evaluate(async () => { await chat.render(); await chat.changeView("mainWindow"); });
  await page.locator("[part=message].bot").first().waitFor();
  const tid = await page.evaluate(() => chat.getState().threadId);
  // the server is unreachable for sends: the POST never gets through
  await page.route("**/v1/threads/*/messages", (r) => (r.request().method() === "POST" ? r.abort() : r.continue()));
  await page.evaluate(() => { void chat.send("echo kept across reload"); }); // resolves at the ack
  await page.locator("[part=message].pending").waitFor();
  await page.reload();
  await page.waitForFunction(() => window.natterLoaded);
  // still offline after the reload: shown as pending, not lost
  await page.evaluate(async () => { await chat.render(); await chat.changeView("mainWindow"); });
  await page.locator("[part=message].pending", { hasText: "echo kept across reload" }).waitFor();
  await page.unroute("**/v1/threads/*/messages");
  await page.locator("[part=message].bot", { hasText: "Echo: echo kept across reload" }).waitFor({ timeout: 30_000 });
  await new Promise((r) => setTimeout(r, 500));
  const { body } = await env.server.api(`/v1/threads/${tid}/messages`);
  const stored = body.messages.filter((m) => m.role === "user" && m.content[0].text === "echo kept across reload");
  assert.equal(stored.length, 1, "exactly once");
  assert.equal((await bubbles(page)).filter(([, t]) => t === "echo kept across reload").length, 1, "shown once");
  assert.equal(await page.locator("[part=message].pending").count(), 0);
  assert.equal(await page.evaluate(() => localStorage.length), 1, "only the thread id is left in storage");
  await ctx.close();
});

test("strict CSP + Trusted Types host page: styled, works, 0 violations", { timeout: 90_000 }, async () => {
  const ctx = await env.browser.newContext();
  const page = await ctx.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${env.server.origin}/strict.html`);
  await page.waitForFunction(() => window.natterLoaded);
  await page.evaluate(async () => { await chat.render(); });
  // the stylesheet applies (adopted, not a <style> the policy would block)
  assert.equal(await page.locator("[part=launcher]").evaluate((e) => getComputedStyle(e).width), "56px");
  await page.locator("[part=launcher]").click();
  await page.locator("[part=message].bot").first().waitFor();
  await page.locator("[part=input]").fill("markdown");
  await page.locator("[part=input]").press("Enter");
  await page.locator("[part=feedback] [data-a=down]").first().click(); // thumbs + popup
  await page.locator("[data-a=fbclose]").click();
  await page.locator("[part=maximize]").click();
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(await page.evaluate(() => window.violations), []);
  assert.deepEqual(errors, []);
  await ctx.close();
});
