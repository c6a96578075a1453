// Point 8 (auth) against a real `natter serve` with an HS256 JWT bot: an expired token gets a
// 401; the widget fires authTokenNeeded with the expired token, uses the token the handler
// sets and retries once; the event stream (cut by a server restart while the token was
// expired) resumes with no lost or repeated event; updateAuthToken() works any time.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { setup, bubbles, until } from "./chat-server.mjs";
import { noteSecret } from "./run-logs.mjs";

const SECRET = "e2e-test-secret-e2e-test-secret-0123456789";
const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
function jwt(sub, expInSecs) {
  const body = b64({ alg: "HS256", typ: "JWT" }) + "." + b64({ sub, exp: Math.floor(Date.now() / 1000) + expInSecs });
  // noted: the logs of the run must not show it (zz-secrets-in-logs.test.mjs)
  return noteSecret(body + "." + createHmac("sha256", SECRET).update(body).digest("base64url"));
}

let env;
before(async () => { env = await setup(); });
after(async () => { await env?.close(); });

test("auth: an expired JWT is refreshed through authTokenNeeded mid-conversation; nothing lost or repeated", async () => {
  const short = jwt("visitor-1", 3);
  const fresh = jwt("visitor-1", 3600);
  const { page, ctx, problems } = await env.open(`bot=jwt&token=${short}`);
  await page.evaluate(async (fresh) => {
    window.asked = [];
    chat.on("authTokenNeeded", async (e) => { asked.push(e.authToken); await new Promise((r) => setTimeout(r, 50)); e.authToken = fresh; });
    await chat.render();
    await chat.changeView("mainWindow");
  }, fresh);
  await page.locator("[part=message].bot").first().waitFor();
  await page.evaluate(() => chat.send("first"));
  await until(page, () => events.some((e) => e.type === "receive" && /^Reply/.test(e.message.content[0].text)));
  // let the token expire, and cut the open stream (it reconnects with the expired token)
  await page.waitForFunction((exp) => Date.now() / 1000 > exp + 2, JSON.parse(Buffer.from(short.split(".")[1], "base64url")).exp, { timeout: 10_000 });
  await env.server.kill("SIGKILL");
  await env.server.start();
  await page.evaluate(() => chat.send("second"));
  await until(page, () => events.filter((e) => e.type === "receive" && /^Reply/.test(e.message.content[0].text)).length === 2, null, 20_000);
  const asked = await page.evaluate(() => asked);
  assert.deepEqual(asked, [short], "one authTokenNeeded, carrying the expired token");
  const tid = await page.evaluate(() => chat.getState().threadId);
  const { body } = await env.server.api(`/v1/threads/${tid}/messages`, { headers: { authorization: "Bearer " + fresh } });
  const kept = body.messages.map((m) => [m.role === "user" ? "user" : "bot", m.content.map((c) => c.text).join("")]);
  const shown = (await bubbles(page)).map(([c, t]) => [c.includes("user") ? "user" : "bot", t]);
  assert.deepEqual(shown, kept, "every stored message shown exactly once");
  // updateAuthToken any time: a token for another user cannot see this thread any more
  await page.evaluate((t) => chat.updateAuthToken(t), jwt("visitor-2", 3600));
  await page.evaluate(() => chat.send("third"));
  await page.waitForTimeout(300);
  assert.equal((await env.server.api(`/v1/threads/${tid}/messages`, { headers: { authorization: "Bearer " + fresh } })).body.messages.filter((m) => m.role === "user").length, 2, "sent with the updated token (refused for another user)");
  const stored = await page.evaluate(() => JSON.stringify(localStorage) + JSON.stringify(sessionStorage) + document.cookie);
  assert.equal(stored.includes(fresh.slice(-20)) || stored.includes(short.slice(-20)), false, "tokens are kept in memory only");
  assert.deepEqual(problems, []);
  await ctx.close();
});
