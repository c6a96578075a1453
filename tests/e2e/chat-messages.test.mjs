// Point 2 (messages) against a real `natter serve`: safe markdown as DOM nodes, option
// buttons, carousel cards, user_defined items in a slotted host element, customEvent
// buttonItemClicked before each button's default, and a reply full of XSS attempts rendered inert.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { setup, bubbles, botTexts, until } from "./chat-server.mjs";

let env;
before(async () => { env = await setup(); mkdirSync("test-artifacts", { recursive: true }); });
after(async () => { await env?.close(); });

async function start(query = "") {
  const o = await env.open(query);
  await o.page.evaluate(() => chat.render());
  await o.page.locator("[part=launcher]").click();
  await o.page.locator("[part=message].bot").first().waitFor();
  return o;
}

const lastBot = (page) => page.locator("[part=message]:not(.user)").last();

test("messages: markdown becomes DOM nodes; links are http(s)/mailto with rel=noopener noreferrer", async () => {
  const { page, ctx, problems } = await start();
  await page.evaluate(() => chat.send("markdown"));
  await until(page, () => /Some bold/.test(document.querySelector("[data-natter]").shadowRoot.textContent));
  const m = lastBot(page);
  assert.equal(await m.locator("strong").first().textContent(), "bold");
  assert.equal(await m.locator("em").textContent(), "italic");
  assert.equal(await m.locator("code").textContent(), "code");
  assert.deepEqual(await m.locator("li").allTextContents(), ["one", "two"]);
  const a = m.locator("a");
  assert.equal(await a.getAttribute("href"), "https://example.com/x");
  assert.equal(await a.getAttribute("rel"), "noopener noreferrer");
  assert.equal(await a.getAttribute("target"), "_blank");
  assert.deepEqual(problems, []);
  await ctx.close();
});

test("messages: option buttons fire customEvent buttonItemClicked, then send their value (the label is shown); url buttons open safely", async () => {
  const { page, ctx, problems } = await start();
  await page.evaluate(() => { window.opened = []; window.open = (...a) => { opened.push(a); return null; }; });
  await page.evaluate(() => chat.send("buttons"));
  await page.locator("[part=button]", { hasText: "Alpha" }).waitFor();
  await page.locator("[part=button]", { hasText: "Alpha" }).click();
  await until(page, () => /You picked/.test(document.querySelector("[data-natter]").shadowRoot.textContent));
  const ev = await page.evaluate(() => events.filter((e) => ["customEvent", "pre:send"].includes(e.type)).slice(-2));
  assert.equal(ev[0].type, "customEvent", "customEvent comes before the default (the send)");
  assert.equal(ev[0].customEventName, "buttonItemClicked");
  assert.equal(ev[0].contentItem.response_type, "option");
  assert.equal(ev[0].contentItem.options[0].label, "Alpha");
  assert.match(ev[0].message.id, /^msg_/);
  assert.equal(ev[1].message.message.content, "picked alpha");
  const mine = (await bubbles(page)).filter(([c]) => c.includes("user")).map(([, t]) => t);
  assert.equal(mine.at(-1), "Alpha", "the visitor sees the label they clicked; the bot got the value");
  await page.locator("[part=button]", { hasText: "Docs" }).click();
  await until(page, () => opened.length === 1);
  assert.deepEqual(await page.evaluate(() => opened[0]), ["https://example.com/docs", "_blank", "noopener,noreferrer"]);
  assert.equal(await page.evaluate(() => events.filter((e) => e.type === "customEvent").length), 2);
  assert.deepEqual(problems, []);
  await ctx.close();
});

test("messages: carousel cards (image, title, description, buttons) and user_defined in a slotted host element", async () => {
  const { page, ctx, problems } = await start();
  await page.evaluate(() => chat.on("userDefinedResponse", (e) => {
    window.udr = { kind: e.contentItem.user_defined.kind, type: e.contentItem.response_type, mid: e.message.id, connected: e.hostElement.isConnected };
    e.hostElement.textContent = "HOST RENDERED " + e.contentItem.user_defined.kind;
  }));
  await page.evaluate(() => chat.send("cards"));
  const card = page.locator("[part=card]").first();
  await card.waitFor();
  assert.equal(await page.locator("[part=card]").count(), 2);
  assert.equal(await card.locator("strong").textContent(), "Mug");
  assert.equal(await card.locator("p").textContent(), "A mug.");
  assert.equal(await card.locator("img").getAttribute("src"), "https://example.invalid/mug.png");
  assert.equal(await card.locator("img").getAttribute("alt"), "Mug");
  await page.screenshot({ path: "test-artifacts/carousel.png" });
  await card.locator("[part=button]").click();
  await until(page, () => events.some((e) => e.type === "send" && e.message.message.content === "more mug"));
  const ce = await page.evaluate(() => events.find((e) => e.type === "customEvent"));
  assert.equal(ce.contentItem.response_type, "carousel");
  await page.evaluate(() => chat.send("custom"));
  await until(page, () => window.udr);
  assert.deepEqual(await page.evaluate(() => ({ ...udr, mid: typeof udr.mid })), { kind: "map", type: "user_defined", mid: "string", connected: true });
  // the host element lives in the light DOM and is slotted into the message bubble
  const slotted = await page.evaluate(() => {
    const host = document.querySelector("[data-natter] > [slot]");
    const slot = document.querySelector("[data-natter]").shadowRoot.querySelector(`slot[name="${host.slot}"]`);
    return { text: host.textContent, assigned: slot.assignedElements()[0] === host, inBubble: !!slot.closest("[part=message]") };
  });
  assert.deepEqual(slotted, { text: "HOST RENDERED map", assigned: true, inBubble: true });
  assert.ok(await page.getByText("HOST RENDERED map").isVisible());
  assert.deepEqual(problems, []);
  await ctx.close();
});

test("messages: a reply full of XSS attempts renders as inert text", async () => {
  const { page, ctx, problems } = await start("bot=xss");
  await page.evaluate(() => chat.send("cards"));
  await page.locator("[part=card]").waitFor();
  await page.evaluate(() => chat.send("anything"));
  await until(page, () => document.querySelector("[data-natter]").shadowRoot.querySelectorAll("[part=message]").length >= 5);
  await page.locator("[part=card] [part=button]").click();
  await page.waitForTimeout(300); // give any injected handler a chance to run
  const r = await page.evaluate(() => {
    const root = document.querySelector("[data-natter]").shadowRoot;
    const msgs = root.querySelector("[part=messages]");
    const attrs = [...msgs.querySelectorAll("*")].flatMap((e) => [...e.attributes].map((a) => a.name)).filter((n) => n.startsWith("on"));
    return {
      pwned: window.pwned,
      dangerous: msgs.querySelectorAll("script,iframe,svg,object,embed").length,
      imgs: [...msgs.querySelectorAll("img")].map((i) => i.getAttribute("src")),
      hrefs: [...msgs.querySelectorAll("a")].map((a) => a.getAttribute("href")),
      attrs,
      text: msgs.textContent,
    };
  });
  assert.equal(r.pwned, undefined, "no injected script ran");
  assert.equal(r.dangerous, 0);
  assert.deepEqual(r.imgs, [], "a javascript: image URL is dropped");
  assert.deepEqual(r.hrefs, ["https://example.com"]);
  assert.deepEqual(r.attrs, []);
  assert.match(r.text, /<script>window\.pwned = 1<\/script>/);
  assert.match(r.text, /<iframe src=/);
  assert.deepEqual(problems, []);
  await ctx.close();
});
