// Files in a conversation, in real Chromium against one real `natter serve` (the pages from
// www/, so the agent console is the one in the repository):
// - an HTML page renamed .png, uploaded from a page the way a widget would, is refused (415)
//   and nothing is stored;
// - an SVG carrying a script, opened directly from its download URL, never runs (it is served
//   as an attachment with a sandboxing CSP and nosniff);
// - the agent console shows the visitor's image as a thumbnail that decodes to the image's real
//   size, and sends a PDF back, which the
//   visitor's conversation then carries as a `file` item whose bytes are the PDF.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join, resolve } from "node:path";
import { crc32, deflateSync } from "node:zlib";
import { startServer } from "./chat-server.mjs";
import { launch } from "./widget-browser.mjs";

const root = resolve(new URL("../..", import.meta.url).pathname);
const KEY = "e2e-agent-key";
let server, browser;
before(async () => {
  server = await startServer({ www: join(root, "www") });
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await server?.kill();
});

const PNG = Buffer.concat([Buffer.from("89504e470d0a1a0a0000000d49484452", "hex"), Buffer.alloc(200, 7)]);
const PDF = Buffer.from("%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n");

/** A real `w`×`h` RGB PNG (grey), so a thumbnail that decodes has that natural size. */
function realPng(w, h) {
  const chunk = (type, data) => {
    const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
    const out = Buffer.alloc(8 + data.length + 4);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bits per channel
  ihdr[9] = 2; // RGB
  const rows = Buffer.alloc((1 + 3 * w) * h, 0x80);
  for (let y = 0; y < h; y++) rows[y * (1 + 3 * w)] = 0; // filter: none
  return Buffer.concat([Buffer.from("89504e470d0a1a0a", "hex"), chunk("IHDR", ihdr), chunk("IDAT", deflateSync(rows)), chunk("IEND", Buffer.alloc(0))]);
}

async function thread(bot = "handoff") {
  const { status, body } = await server.api(`/v1/bots/${bot}/threads`, { method: "POST" });
  assert.equal(status, 201);
  return body.threadId;
}

async function upload(tid, name, clientId, bytes) {
  const q = new URLSearchParams({ name, clientId });
  return server.api(`/v1/threads/${tid}/attachments?${q}`, { method: "POST", body: bytes, headers: { "Content-Type": "image/png" } });
}

test("an HTML file renamed .png is refused from the browser and nothing is kept", async () => {
  const tid = await thread();
  const page = await browser.newPage();
  await page.goto(`${server.origin}/agent/`);
  const res = await page.evaluate(async (tid) => {
    const html = new File(["<!doctype html><script>parent.pwned = 1</script>"], "cat.png", { type: "image/png" });
    const r = await fetch(`/v1/threads/${tid}/attachments?name=cat.png&clientId=h1`, { method: "POST", body: html });
    return { status: r.status, body: await r.json() };
  }, tid);
  assert.equal(res.status, 415);
  assert.equal(res.body.error.code, "unsupported_media_type");
  assert.match(res.body.error.message, /text\/html/);
  // The same client id is free: the refused upload left nothing behind.
  const ok = await upload(tid, "cat.png", "h1", PNG);
  assert.equal(ok.status, 201, JSON.stringify(ok.body));
  await page.close();
});

test("an SVG with a script, opened from its URL, never runs", async () => {
  // The e2e bots take the default types (no SVG): a bot that accepts SVG is the worst case, so
  // this test uploads to one written for it.
  const svgServer = await startServer({ www: join(root, "www"), bots: await svgBots() });
  try {
    const { body } = await svgServer.api("/v1/bots/svg/threads", { method: "POST" });
    const tid = body.threadId;
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" onload="fetch('/healthz?svg-onload')"><script>document.title='ran';fetch('/healthz?svg-script')</script><rect width="10" height="10"/></svg>`;
    const up = await svgServer.api(`/v1/threads/${tid}/attachments?name=logo.svg&clientId=s1`, { method: "POST", body: svg });
    assert.equal(up.status, 201, JSON.stringify(up.body));
    assert.equal(up.body.attachment.type, "image/svg+xml");
    const ctx = await browser.newContext({ acceptDownloads: true });
    const page = await ctx.newPage();
    const hits = [];
    page.on("request", (r) => { if (r.url().includes("svg-")) hits.push(r.url()); });
    const url = svgServer.origin + up.body.attachment.url;
    const direct = await fetch(url);
    assert.match(direct.headers.get("content-disposition"), /^attachment/);
    assert.equal(direct.headers.get("x-content-type-options"), "nosniff");
    assert.match(direct.headers.get("content-security-policy"), /sandbox/);
    // Navigating to it downloads it (the page stays where it was) and nothing runs.
    await page.goto(`${svgServer.origin}/agent/`);
    const download = page.waitForEvent("download");
    await page.evaluate((u) => { location.href = u; }, url);
    const d = await download;
    assert.equal(d.suggestedFilename(), "logo.svg");
    // Shown as an <img> too (what a careless page might do), SVG scripts never run.
    await page.evaluate((u) => new Promise((ok) => {
      const img = new Image();
      img.onload = img.onerror = ok;
      img.src = u;
      document.body.append(img);
    }), url);
    assert.notEqual(await page.title(), "ran");
    assert.deepEqual(hits, []);
    await ctx.close();
  } finally {
    await svgServer.kill();
  }
});

async function svgBots() {
  const { mkdtempSync, mkdirSync, writeFileSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const dir = mkdtempSync(join(tmpdir(), "natter-e2e-svg-"));
  mkdirSync(join(dir, "svg"));
  writeFileSync(join(dir, "svg/bot.toml"), 'name = "SVG"\n[attachments]\ntypes = ["image/png", "image/svg+xml"]\n');
  return dir;
}

test("the agent console receives the visitor's image and sends a PDF back", async () => {
  const tid = await thread();
  // The visitor asks for a person and sends a photo with a line of text.
  const send = (body) => server.api(`/v1/threads/${tid}/messages`, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  assert.equal((await send({ clientMessageId: "m1", content: "human" })).status, 202);
  for (let i = 0; i < 400; i++) {
    if ((await server.api(`/v1/threads/${tid}/messages`)).body.status === "handed_off") break;
    await new Promise((r) => setTimeout(r, 25));
  }
  const img = await upload(tid, "dent.png", "p1", realPng(37, 23));
  assert.equal(img.status, 201);
  assert.equal((await send({ clientMessageId: "m2", content: "the box arrived dented", attachments: [img.body.attachment.id] })).status, 202);

  const page = await browser.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(e.message));
  await page.goto(`${server.origin}/agent/?key=${KEY}`);
  // The conversation appears; the photo is a thumbnail that loads (served inline: raster).
  await page.locator(".conv").first().click();
  const thumb = page.locator(".line.visitor img");
  await thumb.waitFor();
  assert.equal(await thumb.getAttribute("alt"), "dent.png");
  await page.waitForFunction(() => document.querySelector(".line.visitor img").complete);
  assert.deepEqual(await thumb.evaluate((i) => [i.naturalWidth, i.naturalHeight]), [37, 23], "the thumbnail decoded the visitor's image");

  // The agent joins and sends a PDF with a line of text.
  await page.locator("#join").click();
  await page.locator("#text").fill("Here is your return label.");
  await page.locator("#file").setInputFiles({ name: "label.pdf", mimeType: "application/pdf", buffer: PDF });
  await page.locator("#send").click();
  await page.locator(".line.agent a.file").waitFor();
  assert.match(await page.locator(".line.agent a.file").textContent(), /label\.pdf \(application\/pdf/);

  // The visitor's conversation carries it: text item then file item, bytes intact.
  let agentMsg;
  for (let i = 0; i < 400 && !agentMsg; i++) {
    agentMsg = (await server.api(`/v1/threads/${tid}/messages`)).body.messages.find((m) => m.role === "agent");
    if (!agentMsg) await new Promise((r) => setTimeout(r, 25));
  }
  assert.ok(agentMsg, "the agent's message reached the conversation");
  assert.deepEqual(agentMsg.content.map((c) => c.response_type), ["text", "file"]);
  assert.equal(agentMsg.content[0].text, "Here is your return label.");
  const f = agentMsg.content[1].file;
  assert.equal(f.name, "label.pdf");
  assert.equal(f.type, "application/pdf");
  const bytes = Buffer.from(await (await fetch(server.origin + f.url)).arrayBuffer());
  assert.ok(bytes.equals(PDF));
  assert.deepEqual(problems, []);
  await page.close();
});
