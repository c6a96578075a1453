// Point 1 (transport) against a real `natter serve`: fetch + SSE parser, thread per
// `persistence`, connection state, reconnect with Last-Event-ID after kill -9 and restart,
// sends retried with their clientMessageId until acknowledged (never lost, never twice).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { setup, bubbles, botTexts, until } from "./chat-server.mjs";

let env;
before(async () => { env = await setup(); });
after(async () => { await env?.close(); });

test("transport: opening starts a thread, the greeting streams in, the id is kept per persistence", async () => {
  for (const persistence of ["local", "session", "none"]) {
    const { page, ctx, problems } = await env.open(`persistence=${persistence}`);
    await page.evaluate(() => chat.render());
    await page.locator("[part=launcher]").click();
    await until(page, () => document.querySelector("[data-natter]").getAttribute("data-connection") === "online");
    await page.locator("[part=message].bot").first().waitFor();
    assert.equal((await botTexts(page))[0], "Hello from the test bot.");
    const st = await page.evaluate(() => ({ id: chat.getState().threadId, local: JSON.stringify(localStorage), session: JSON.stringify(sessionStorage) }));
    assert.match(st.id, /^thr_/);
    assert.equal(st.local.includes(st.id), persistence === "local", persistence);
    assert.equal(st.session.includes(st.id), persistence === "session", persistence);
    assert.equal(await page.locator("[part=status]").isVisible(), false);
    assert.deepEqual(problems, []);
    await ctx.close();
  }
});

test("transport: kill -9 mid-reply, restart — state shown, the reply re-run, nothing lost or duplicated", async () => {
  const { page, ctx, problems } = await env.open("bot=slow");
  await page.evaluate(() => chat.render());
  await page.locator("[part=launcher]").click();
  await page.locator("[part=message].bot").first().waitFor();
  await page.evaluate(() => chat.send("long"));
  await until(page, () => /w03/.test(document.querySelector("[data-natter]").shadowRoot.querySelector("[part=messages]").textContent));
  await env.server.kill("SIGKILL");
  await until(page, () => document.querySelector("[data-natter]").getAttribute("data-connection") === "reconnecting");
  assert.ok(await page.locator("[part=status]").isVisible(), "the connection state is shown");
  // typed while the server is down: kept and sent once it is back
  await page.locator("[part=input]").fill("while down");
  await page.locator("[part=input]").press("Enter");
  await env.server.start();
  await until(page, () => events.some((e) => e.type === "receive" && /complete/.test(e.message.content[0].text)), null, 30_000);
  await until(page, () => document.querySelector("[data-natter]").getAttribute("data-connection") === "online");
  assert.equal(await page.locator("[part=status]").isVisible(), false);
  const tid = await page.evaluate(() => chat.getState().threadId);
  const { body } = await env.server.api(`/v1/threads/${tid}/messages`);
  const stored = body.messages.map((m) => [m.role === "user" ? "user" : "bot", m.content.map((c) => c.text).join("")]);
  const shown = (await bubbles(page)).map(([c, t]) => [c.includes("user") ? "user" : "bot", t]);
  // the interrupted partial reply is dropped and the message re-run (protocol §7); every stored
  // message is shown exactly once
  assert.deepEqual(shown, stored.map(([r, t]) => [r, t.replace(/\*\*/g, "")]));
  const long = Array.from({ length: 40 }, (_, i) => `w${String(i + 1).padStart(2, "0")}`).join(" ") + " END";
  assert.equal(stored.filter(([r, t]) => r === "bot" && t === long).length, 1, "the re-run reply is stored once, complete");
  assert.equal(shown.filter(([r, t]) => r === "bot" && t === long).length, 1, "the re-run reply is shown once, complete");
  assert.equal(shown.filter(([r, t]) => r === "bot" && t.startsWith("w01") && t !== long).length, 0, "no partial reply is left");
  assert.equal(shown.filter(([, t]) => t === "while down").length, 1);
  assert.deepEqual(shown.at(-1), ["bot", "Reply to your message, complete."]);
  assert.deepEqual(problems, []);
  await ctx.close();
});
