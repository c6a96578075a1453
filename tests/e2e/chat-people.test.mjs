// Point 10 (people) against a real `natter serve`: focus trapped in the open window, Esc
// minimizes, an aria-live region announcing completed replies only, a label on every control,
// prefers-reduced-motion, locale + strings (French shipped), usable at 360 px. Saves the
// launcher / open-window / phone screenshots to test-artifacts/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { setup, until } from "./chat-server.mjs";

let env;
before(async () => { env = await setup(); mkdirSync("test-artifacts", { recursive: true }); });
after(async () => { await env?.close(); });

const active = (page) => page.evaluate(() => {
  const root = document.querySelector("[data-natter]").shadowRoot;
  const a = root.activeElement;
  return a ? (a.getAttribute("part") || a.getAttribute("data-a") || a.tagName) : null;
});

test("people: focus trap, Esc minimizes, live region announces completed replies only, every control labelled", async () => {
  const { page, ctx, problems } = await env.open();
  await page.evaluate(() => chat.render());
  await page.screenshot({ path: "test-artifacts/launcher.png" });
  assert.ok(await page.locator("[part=launcher]").getAttribute("aria-label"));
  await page.locator("[part=launcher]").click();
  await page.locator("[part=message].bot").first().waitFor();
  assert.equal(await active(page), "input");
  // Tab cycles inside the window
  const seen = [];
  for (let i = 0; i < 8; i++) { await page.keyboard.press("Tab"); seen.push(await active(page)); }
  assert.ok(seen.every((p) => p !== null), "focus never leaves the widget: " + seen);
  assert.ok(seen.includes("restart") && seen.includes("send"), seen.join());
  await page.locator("[part=restart]").focus();
  await page.keyboard.press("Shift+Tab");
  assert.equal(await active(page), "send", "Shift+Tab on the first control goes to the last");
  // live region: announces the completed reply, not each delta
  await page.evaluate(() => {
    const live = document.querySelector("[data-natter]").shadowRoot.querySelector("[aria-live=polite]");
    window.announced = [];
    new MutationObserver(() => announced.push(live.textContent)).observe(live, { childList: true, characterData: true, subtree: true });
    chat.send("long");
  });
  await until(page, () => announced.some((t) => /END/.test(t)));
  const ann = await page.evaluate(() => announced.filter((t) => t));
  assert.equal(ann.length, 1, "one announcement per completed reply: " + JSON.stringify(ann));
  assert.equal(await page.locator("[part=messages]").getAttribute("aria-live"), "off");
  await page.screenshot({ path: "test-artifacts/window.png" });
  // every control has an accessible name
  const unnamed = await page.evaluate(() => [...document.querySelector("[data-natter]").shadowRoot.querySelectorAll("button,input,textarea")]
    .filter((e) => !(e.getAttribute("aria-label") || e.textContent.trim() || e.labels?.length)).map((e) => e.outerHTML));
  assert.deepEqual(unnamed, []);
  // Esc minimizes
  await page.locator("[part=input]").focus();
  await page.keyboard.press("Escape");
  await page.locator("[part=launcher]").waitFor({ state: "visible" });
  assert.equal(await page.locator("[part=window]").isVisible(), false);
  assert.equal(await page.evaluate(() => events.filter((e) => e.type === "view:change").at(-1).reason), "mainWindowMinimized");
  assert.deepEqual(problems, []);
  await ctx.close();
});

test("people: French strings, reduced motion, and a 360 px wide phone", async () => {
  const { page, ctx, problems } = await env.open("locale=fr-FR", { viewport: { width: 360, height: 640 } });
  await page.emulateMedia({ reducedMotion: "reduce" });
  await page.evaluate(() => chat.render());
  assert.equal(await page.locator("[part=launcher]").getAttribute("aria-label"), "Ouvrir la discussion");
  await page.locator("[part=launcher]").click();
  await page.locator("[part=message].bot").first().waitFor();
  assert.equal(await page.locator("[part=send]").textContent(), "Envoyer");
  assert.equal(await page.locator("[part=input]").getAttribute("placeholder"), "Écrivez un message…");
  assert.equal(await page.locator("[part=window]").getAttribute("lang"), "fr-FR");
  await page.evaluate(() => chat.send("rate"));
  await page.locator("[part=feedback] button").first().waitFor();
  assert.equal(await page.locator("[part=feedback] button").first().getAttribute("aria-label"), "Utile");
  const anim = await page.evaluate(() => getComputedStyle(document.querySelector("[data-natter]").shadowRoot.querySelector(".typing i")).animationName);
  assert.equal(anim, "none", "no animation with prefers-reduced-motion");
  const box = await page.locator("[part=window]").boundingBox();
  assert.ok(box.x >= 0 && box.x + box.width <= 360 && box.y >= 0 && box.y + box.height <= 640, JSON.stringify(box));
  const input = await page.locator("[part=input]").boundingBox();
  assert.ok(input.width >= 150 && input.x + input.width <= 360, JSON.stringify(input));
  await page.screenshot({ path: "test-artifacts/phone-360.png" });
  assert.deepEqual(problems, []);
  await ctx.close();
});
