// Secrets never reach the log, and visitor input cannot forge a log line, over the whole e2e
// run. Every `natter serve` of the run logs at debug, in JSON, to the run's log directory, and
// the harness and the tests note each secret they put in play (run-logs.mjs); this file's
// name sorts last, so under `node --test --test-concurrency=1 tests/e2e/` it runs after all the
// others. It adds a scenario of its own for what the other files do not handle: a bot that signs
// its CRM webhooks (a listener here checks every signature), the CRM's API key on the Chat API,
// a value the CRM marks `sanitize`, a JWT in the page's URL, and visitor text carrying CR/LF
// and a forged JSON log line, through the widget and through the Chat API. Then every line of
// every log is read: each must be one JSON object, none the forged line, and none may contain
// any secret noted in the run. Logs that are empty (logging off) fail the check.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { startServer, until } from "./chat-server.mjs";
import { launch } from "./widget-browser.mjs";
import { RUN_DIR, logFiles, noteSecret, secrets } from "./run-logs.mjs";

const FORGED = "FORGED-LOG-LINE-e2e";
/** Text that tries to end the current log line and start a forged one (JSON and text). */
const forging = (prefix) =>
  `${prefix}\r\n{"timestamp":"2026-01-01T00:00:00Z","level":"ERROR","fields":{"message":"${FORGED}"}}\r\n2026-01-01T00:00:00Z ERROR ${FORGED}\n`;

const rand = (n) => randomBytes(n).toString("hex");
const JWT_SECRET = `sec-e2e-jwt-secret-${rand(16)}`;
const CRM_KEY = `sec-e2e-crm-key-${rand(12)}`;
const WHSEC_BYTES = randomBytes(32);
const WHSEC = "whsec_" + WHSEC_BYTES.toString("base64");
const SANITIZED = `sanitized-value-${rand(12)}`;
noteSecret(JWT_SECRET, CRM_KEY, WHSEC, WHSEC_BYTES.toString("base64"), SANITIZED);

const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
function jwt(sub) {
  const body = b64({ alg: "HS256", typ: "JWT" }) + "." + b64({ sub, exp: Math.floor(Date.now() / 1000) + 3600 });
  return noteSecret(body + "." + createHmac("sha256", JWT_SECRET).update(body).digest("base64url"));
}

/** A CRM's chat webhook on 127.0.0.1: records each delivery and whether its Standard Webhooks
 * signature (HMAC-SHA256 of `id.timestamp.body` with the secret's bytes) is right. */
function crm() {
  const got = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      const signed = `${req.headers["webhook-id"]}.${req.headers["webhook-timestamp"]}.${body}`;
      const want = createHmac("sha256", WHSEC_BYTES).update(signed).digest();
      const ok = String(req.headers["webhook-signature"] || "").split(" ").some((s) => {
        const sig = Buffer.from(s.replace(/^v1,/, ""), "base64");
        return sig.length === want.length && timingSafeEqual(sig, want);
      });
      got.push({ ok, body: JSON.parse(body) });
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  return new Promise((ok) => server.listen(0, "127.0.0.1", () => ok({ server, got, url: `http://127.0.0.1:${server.address().port}/hook` })));
}

const bot = (hook) => `name = "Secrets e2e"
greeting = "Hello."
fallback = "Noted."
[auth]
mode = "jwt"
algorithm = "HS256"
secret = "${JWT_SECRET}"
[stream]
delay_ms = 0
[network]
allow_private_network = true
[crm]
bot_id = "SEC_BOT"
chat_webhook_url = "${hook}"
signing_secret = "${WHSEC}"
api_key = "${CRM_KEY}"
`;

let hook;
after(() => hook?.server.close());

test("secrets scenario: signed webhooks, the Chat API key, a sanitized value, a JWT, CR/LF in visitor text", async () => {
  hook = await crm();
  const bots = mkdtempSync(join(tmpdir(), "natter-sec-bots-"));
  mkdirSync(join(bots, "sec"));
  writeFileSync(join(bots, "sec/bot.toml"), bot(hook.url));
  const server = await startServer({ bots });
  const browser = await launch();
  try {
    // the visitor, in the widget
    const page = await browser.newPage();
    await page.goto(`${server.origin}/chat.html?bot=sec&token=${jwt("visitor-sec")}`);
    await page.waitForFunction(() => window.natterLoaded);
    await page.evaluate(async () => { await chat.render(); await chat.changeView("mainWindow"); });
    await page.evaluate((t) => chat.send(t), forging("widget"));
    await until(page, () => events.some((e) => e.type === "receive" && e.message.content?.[0]?.text === "Noted."), null, 20_000);

    // the CRM as the visitor's channel: a sanitized value, visitor text with CR/LF
    const chatApi = (body, key = CRM_KEY) => fetch(`${server.origin}/converse/chat`, {
      method: "POST", headers: { authorization: key, "content-type": "application/json" }, body: JSON.stringify(body),
    });
    const conv = `crm-${rand(4)}`;
    let r = await chatApi({ platformConversationId: conv, eventType: "startSession", metaData: [{ key: "card", value: SANITIZED, sanitize: true }] });
    assert.equal(r.status, 200, await r.text());
    r = await chatApi({ platformConversationId: conv, eventType: "message", text: forging("crm") });
    assert.equal(r.status, 200, await r.text());
    r = await chatApi({ platformConversationId: conv, eventType: "message", text: "x" }, `wrong-${CRM_KEY}`);
    assert.equal(r.status, 401, "a wrong key is refused");
    // the greeting and the reply come back as signed webhooks
    for (let i = 0; i < 400 && hook.got.length < 2; i++) await new Promise((ok) => setTimeout(ok, 25));
    assert.ok(hook.got.length >= 2, `webhooks delivered (${hook.got.length})`);
    assert.ok(hook.got.every((h) => h.ok), "every webhook signed with the secret");
  } finally {
    await browser.close();
    await server.kill();
  }
});

test("secrets never logged: every line of every log of the run is one JSON object, none forged, 0 secrets", () => {
  const files = logFiles();
  const noted = secrets();
  assert.ok(files.length > 0, `no server log in ${RUN_DIR}: the servers did not log`);
  // For a JWT, its signature alone is a secret too (a log holding part of a token).
  const needles = noted.flatMap((s) => {
    const parts = s.value.split(".");
    const sig = parts.length === 3 && parts[2].length >= 16 ? [{ ...s, value: parts[2], part: "signature of" }] : [];
    return [s, ...sig];
  });
  let lines = 0, debug = 0;
  const hits = [], broken = [], forged = [];
  for (const file of files) {
    const text = readFileSync(file, "utf8");
    const rows = text.split("\n");
    if (rows.at(-1) === "") rows.pop();
    rows.forEach((line, i) => {
      lines++;
      const at = `${basename(file)}:${i + 1}`;
      let row = null;
      try { row = JSON.parse(line); } catch {}
      if (!row || typeof row !== "object" || Array.isArray(row) || line.includes("\r")) broken.push(`${at}: ${line.slice(0, 200)}`);
      else {
        if (row.level === "DEBUG") debug++;
        if (row.fields?.message === FORGED || row.message === FORGED) forged.push(at);
      }
      for (const s of needles) if (line.includes(s.value)) hits.push(`${at}: ${s.part || "the secret"} ${s.value.slice(0, 12)}… (noted by ${s.from})`);
    });
  }
  console.log(`# secrets in logs: ${files.length} server logs, ${lines} lines (${debug} at debug), ${noted.length} secrets noted, ${hits.length} hits, ${broken.length} lines not one JSON object, ${forged.length} forged`);
  assert.ok(lines > 0 && debug > 0, `the logs hold ${lines} lines, ${debug} at debug: logging at debug was off`);
  assert.ok(noted.length > 0, "no secret was noted");
  assert.deepEqual(broken, [], "every log line is one JSON object");
  assert.deepEqual(forged, [], "no log line forged by visitor input");
  assert.deepEqual(hits, [], "no secret in any log line");
  // kept when something failed, to look at; one directory per run otherwise fills the disk
  if (!process.env.NATTER_E2E_LOGS) rmSync(RUN_DIR, { recursive: true, force: true });
});
