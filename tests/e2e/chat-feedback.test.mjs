// Point 7 (feedback) against a real `natter serve`: thumbs on messages whose
// message_options.feedback allows it, a details popup with the message's categories and a text
// box; `feedback` fires with interactionType "button" then "details"; the server stores both;
// the choice shows again after a reload.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { mkdirSync } from "node:fs";
import { setup, until } from "./chat-server.mjs";

let env;
before(async () => { env = await setup(); mkdirSync("test-artifacts", { recursive: true }); });
after(async () => { await env?.close(); });

test("feedback: thumbs, details popup, events button then details, stored on the server, shown after reload", async () => {
  const { page, ctx, problems } = await env.open();
  await page.evaluate(() => chat.render());
  await page.locator("[part=launcher]").click();
  await page.locator("[part=message].bot").first().waitFor();
  assert.equal(await page.locator("[part=feedback]").count(), 0, "no thumbs where the message does not offer feedback");
  await page.evaluate(() => chat.send("rate"));
  const down = page.locator("[part=feedback] button[aria-label='Not helpful']");
  await down.waitFor();
  assert.equal(await page.locator("[part=feedback]").count(), 1);
  await down.click();
  const pop = page.locator("[part=feedback-details]");
  await pop.waitFor();
  assert.equal(await down.getAttribute("aria-pressed"), "true");
  assert.deepEqual(await pop.locator("label").allTextContents(), ["Wrong answer", "Too slow"]);
  await pop.getByLabel("Too slow").check();
  await pop.locator("textarea").fill("took ages");
  await page.screenshot({ path: "test-artifacts/feedback-popup.png" });
  await pop.locator("[data-a=fbsend]").click();
  await pop.waitFor({ state: "detached" });
  const fb = await page.evaluate(() => events.filter((e) => e.type === "feedback"));
  assert.deepEqual(fb.map((e) => [e.interactionType, e.isPositive]), [["button", false], ["details", false]]);
  assert.deepEqual([fb[1].categories, fb[1].text], [["Too slow"], "took ages"]);
  assert.equal(fb[0].message.id, fb[1].message.id);
  assert.equal(fb[0].messageItem.text, "Rate this answer.");
  // stored: both records
  const tid = await page.evaluate(() => chat.getState().threadId);
  let rows = "";
  for (let i = 0; i < 50 && rows.split("\n").filter(Boolean).length < 2; i++) {
    await page.waitForTimeout(50);
    rows = execFileSync("sqlite3", [join(env.server.data, "natter.db"), `select message_id, is_positive, interaction_type, categories, coalesce(text,'') from feedback where thread_id='${tid}' order by created_at`]).toString();
  }
  const lines = rows.trim().split("\n");
  assert.equal(lines.length, 2, rows);
  assert.match(lines[0], new RegExp(`^${fb[0].message.id}\\|0\\|button\\|\\[\\]\\|$`));
  assert.match(lines[1], /\|0\|details\|\["Too slow"\]\|took ages$/);
  // the choice shows again after a reload
  await page.reload();
  await page.waitForFunction(() => window.natterLoaded);
  await page.evaluate(() => chat.render());
  await page.locator("[part=launcher]").click();
  await page.locator("[part=feedback]").waitFor();
  assert.equal(await page.locator("[part=feedback] button[aria-label='Not helpful']").getAttribute("aria-pressed"), "true");
  assert.equal(await page.locator("[part=feedback] button[aria-label='Helpful']").getAttribute("aria-pressed"), "false");
  assert.deepEqual(problems, []);
  await ctx.close();
});
