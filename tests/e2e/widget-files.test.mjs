// The visitor's files in the widget, in real Chromium against a real `natter serve` (the e2e
// bot `t` takes the default types; `nofiles` takes none; `smallfiles` has small limits): the
// attach module is fetched only for bots that take files or when a file is to be drawn, and
// files that came before it (an agent's, a history's) are drawn once it is there; files are staged by the attach button (mouse and keyboard), by a
// drop onto the window and by a paste into the input, uploaded with a progress bar and sent
// with the text as one message; images show as thumbnails, other files as links; `pre:send`
// may drop a file or cancel; an upload cut after the server stored it is retried with the same
// clientId and kept once, one cut in the middle (through tests/e2e/proxy.mjs) is stored once,
// whole; an HTML page named .png, a file too large, a conversation full, a bad name and an 11th
// file are refused with a reason of their own; a staged file is removed by its button (mouse or
// Enter) and not sent; uploads and removals are announced in the status line; `strings` and
// `locale: "fr"` label it all, an unknown `attach…` key is a TypeError; a send
// with files not yet acknowledged survives a reload and arrives once with its files; all of it
// under the strict host-page CSP with Trusted Types, with 0 violations; and a bot requiring a
// token gets it with each upload.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { setup, until } from "./chat-server.mjs";
import { startProxy, openThrough } from "./proxy.mjs";

let env;
before(async () => { env = await setup(); });
after(async () => { await env?.close(); });

// A real 1×1 PNG (thumbnails must decode), a PDF, and an HTML page dressed up as a PNG.
const PNG = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==", "base64");
const PDF = Buffer.from("%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n");
const HTML = Buffer.from("<!doctype html><script>parent.pwned = 1</script>");
const png = (name) => ({ name, mimeType: "image/png", buffer: PNG });

/** Renders, opens the window, waits for the greeting and the attach button. */
async function ready(page) {
  await page.evaluate(async () => { await chat.render(); await chat.changeView("mainWindow"); });
  await page.locator("[part=message].bot").first().waitFor();
  await page.locator("[part=attach]").waitFor();
}

/** Stages files through the attach button (the file picker). */
async function pick(page, files, { keyboard = false } = {}) {
  const chooser = page.waitForEvent("filechooser");
  if (keyboard) {
    await page.locator("[part=attach]").focus();
    await page.keyboard.press("Enter");
  } else {
    await page.locator("[part=attach]").click();
  }
  await (await chooser).setFiles(files);
}

/** Files as the page would get them from a drop (`drop`) or a paste (`paste`). */
function give(page, how, files) {
  return page.evaluate(([how, files]) => {
    const dt = new DataTransfer();
    for (const f of files) dt.items.add(new File([Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0))], f.name, { type: f.type }));
    const root = document.querySelector("[data-natter]").shadowRoot;
    if (how === "drop") {
      const win = root.querySelector("[part=window]");
      win.dispatchEvent(new DragEvent("dragover", { dataTransfer: dt, bubbles: true, cancelable: true }));
      win.dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
    } else {
      root.querySelector("[part=input]").dispatchEvent(new ClipboardEvent("paste", { clipboardData: dt, bubbles: true, cancelable: true }));
    }
  }, [how, files.map((f) => ({ name: f.name, type: f.mimeType, b64: f.buffer.toString("base64") }))]);
}

/** Waits until `n` files are staged and all uploaded (no progress bar left). */
async function uploaded(page, n) {
  await until(page, (n) => {
    const root = document.querySelector("[data-natter]").shadowRoot;
    return root.querySelectorAll("[part=attachment]").length === n && !root.querySelector("[part=attachment] progress");
  }, n);
}

async function userMessages(page) {
  const tid = await page.evaluate(() => chat.getState().threadId);
  return (await env.server.api(`/v1/threads/${tid}/messages`)).body.messages.filter((m) => m.role === "user");
}

const files = (m) => m.content.filter((c) => c.response_type === "file").map((c) => c.file.name);

test("attach by button (mouse and keyboard), drop and paste; sent with the text; thumbnails and links", { timeout: 60_000 }, async () => {
  const { page, ctx, problems } = await env.open();
  await ready(page);
  const attach = page.locator("[part=attach]");
  assert.equal(await attach.getAttribute("aria-label"), "Attach files");
  await pick(page, [png("photo.png")]);
  await pick(page, [{ name: "quote.pdf", mimeType: "application/pdf", buffer: PDF }], { keyboard: true });
  await give(page, "drop", [png("dropped.png")]);
  await give(page, "paste", [png("pasted.png")]);
  await uploaded(page, 4);
  // uploaded images show a thumbnail in the tray
  assert.equal(await page.locator("[part=attachment] img").count(), 3);
  await page.evaluate(() => {
    window.seen = [];
    chat.on("pre:send", (e) => { seen.push(e.message.message.attachments.map((a) => a.name)); });
  });
  await page.locator("[part=input]").fill("here are my files");
  await page.locator("[part=input]").press("Enter");
  const mine = page.locator("[part=message].user", { hasText: "here are my files" });
  await mine.locator("a[part=file]").nth(3).waitFor();
  await until(page, () => !document.querySelector("[data-natter]").shadowRoot.querySelector("[part=message].pending"));
  assert.deepEqual(await page.evaluate(() => seen), [["photo.png", "quote.pdf", "dropped.png", "pasted.png"]]);
  assert.equal(await page.locator("[part=attachment]").count(), 0, "the tray is empty after sending");

  const [stored] = (await userMessages(page)).filter((m) => m.content[0]?.text === "here are my files");
  assert.deepEqual(files(stored), ["photo.png", "quote.pdf", "dropped.png", "pasted.png"]);
  // images: a thumbnail that decodes, inside a link to the full size; the PDF: a link with name, type, size
  const link = mine.locator("a[part=file]", { hasText: "photo.png" });
  assert.match(await link.getAttribute("href"), new RegExp(`^${env.server.origin}/v1/threads/thr_[^/]+/attachments/att_`));
  assert.equal(await link.getAttribute("target"), "_blank");
  await until(page, () => [...document.querySelector("[data-natter]").shadowRoot.querySelectorAll("[part=message].user a[part=file] img")].every((i) => i.complete && i.naturalWidth === 1));
  assert.equal(await mine.locator("a[part=file] img").count(), 3);
  const pdf = mine.locator("a[part=file]", { hasText: "quote.pdf" });
  assert.equal(await pdf.textContent(), "quote.pdf · application/pdf · 1 KB");
  assert.equal(await pdf.locator("img").count(), 0);
  // a file in an agent's message (a `file` item) is a link too, with its thumbnail
  await page.evaluate(([origin, file]) => chat._feed(JSON.stringify({
    seq: 1000, type: "agent.message", message: { id: "msg_agent_file", role: "agent", content: [{ response_type: "text", text: "Your label:" }, { response_type: "file", file }] },
  })), [env.server.origin, { ...stored.content.find((c) => c.response_type === "file" && c.file.name === "photo.png").file, name: "label.png" }]);
  const agentLink = page.locator("a[part=file]", { hasText: "label.png · image/png · 1 KB" });
  await agentLink.locator("img").waitFor();
  assert.match(await agentLink.getAttribute("href"), /\/attachments\/att_/);
  // after a reload the history shows the visitor's files again
  await page.reload();
  await page.waitForFunction(() => window.natterLoaded);
  await ready(page);
  const again = page.locator("[part=message].user", { hasText: "here are my files" });
  await again.locator("a[part=file] img").nth(2).waitFor();
  assert.equal(await again.locator("a[part=file]").count(), 4);
  assert.deepEqual(problems, []);
  await ctx.close();
});

test("pre:send may drop a file or cancel the send; a file-only send; restart empties the tray", { timeout: 60_000 }, async () => {
  const { page, ctx, problems } = await env.open();
  await ready(page);
  await page.evaluate(() => {
    window.posts = 0;
    chat.on("pre:send", (e) => {
      const m = e.message.message;
      if (m.content === "cancel") {
        m.content = "";
        m.attachments.length = 0;
      } else if (m.attachments) {
        m.attachments = m.attachments.filter((a) => a.type !== "application/pdf");
      }
    });
    chat.on("send", () => { posts++; });
  });
  await pick(page, [png("keep.png"), { name: "drop.pdf", mimeType: "application/pdf", buffer: PDF }]);
  await uploaded(page, 2);
  await page.locator("[part=input]").fill("only the picture");
  await page.locator("[part=send]").click();
  await until(page, () => posts === 1);
  let stored = await userMessages(page);
  assert.deepEqual(files(stored.at(-1)), ["keep.png"], "the file the handler removed is not sent");
  assert.equal(await page.locator("[part=message].user", { hasText: "only the picture" }).locator("a[part=file]").count(), 1);

  await pick(page, [png("never.png")]);
  await uploaded(page, 1);
  await page.locator("[part=input]").fill("cancel");
  await page.locator("[part=input]").press("Enter");
  await until(page, () => !document.querySelector("[data-natter]").shadowRoot.querySelector("[part=attachment]"));
  // files only, no text: sent
  await pick(page, [png("alone.png")]);
  await uploaded(page, 1);
  await page.locator("[part=input]").press("Enter");
  await until(page, () => posts === 2);
  stored = await userMessages(page);
  assert.deepEqual(stored.map(files).slice(-2), [["keep.png"], ["alone.png"]], "the cancelled send never reached the server");
  assert.equal(stored.at(-1).content.filter((c) => c.response_type === "text").length, 0);
  assert.equal(await page.locator("[part=message].user", { hasText: "cancel" }).count(), 0);

  await pick(page, [png("staged.png")]);
  await uploaded(page, 1);
  await page.evaluate(() => chat.restartConversation());
  assert.equal(await page.locator("[part=attachment]").count(), 0, "restart drops the staged files");
  assert.deepEqual(problems, []);
  await ctx.close();
});

test("an HTML page named .png, and a file over the limit, are refused with a visible reason", async () => {
  const { page, ctx, problems } = await env.open();
  await ready(page);
  const status = page.locator("[part=attach-status]");
  assert.equal(await status.getAttribute("role"), "status");
  await pick(page, [{ name: "cat.png", mimeType: "image/png", buffer: HTML }]);
  await until(page, () => /cat\.png: this kind of file is not accepted/.test(document.querySelector("[data-natter]").shadowRoot.querySelector("[part=attach-status]").textContent));
  await until(page, () => !document.querySelector("[data-natter]").shadowRoot.querySelector("[part=attachment]"));
  await pick(page, [{ name: "huge.pdf", mimeType: "application/pdf", buffer: Buffer.alloc(10 * 1024 * 1024 + 1, 0x25) }]);
  assert.equal(await status.textContent(), "huge.pdf is too large (at most 10.0 MB).");
  assert.equal(await page.locator("[part=attachment]").count(), 0);
  // nothing was sent, and the refused upload left nothing to send
  await page.locator("[part=input]").fill("no files after all");
  await page.locator("[part=input]").press("Enter");
  await page.locator("[part=message].user:not(.pending)", { hasText: "no files after all" }).waitFor();
  assert.deepEqual((await userMessages(page)).map(files), [[]]);
  assert.deepEqual(problems, []);
  await ctx.close();
});

const statusText = (page) => page.evaluate(() => document.querySelector("[data-natter]").shadowRoot.querySelector("[part=attach-status]").textContent);

test("a full conversation and a bad file name get reasons of their own; more than 10 files are refused", async () => {
  // the e2e bot `smallfiles`: 60,000 bytes per file, 100,000 per conversation
  const { page, ctx, problems } = await env.open("bot=smallfiles");
  await ready(page);
  const padded = (name, size) => ({ name, mimeType: "image/png", buffer: Buffer.concat([PNG, Buffer.alloc(size - PNG.length, 7)]) });
  await pick(page, [padded("first.png", 60_000)]);
  await uploaded(page, 1);
  // 60,000 + 50,000 > 100,000: a file under the per-file limit, refused for the conversation
  await pick(page, [padded("second.png", 50_000)]);
  await until(page, () => /second\.png/.test(document.querySelector("[data-natter]").shadowRoot.querySelector("[part=attach-status] b").textContent));
  assert.equal(await page.locator("[part=attach-status] b").textContent(), "second.png could not be added: this conversation has reached its limit for files.");
  await uploaded(page, 1);
  // a name with a control character (the server refuses it: 400 invalid_attachment_name)
  await give(page, "drop", [png("bell\u0007.png")]);
  await until(page, () => /bell/.test(document.querySelector("[data-natter]").shadowRoot.querySelector("[part=attach-status] b").textContent));
  assert.equal(await page.locator("[part=attach-status] b").textContent(), "bell\u0007.png: this file name is not accepted. Rename the file and try again.");
  await uploaded(page, 1);
  // eleven at once: ten staged, the reason said
  await pick(page, Array.from({ length: 10 }, (_, i) => png(`many${i}.png`)));
  assert.equal(await page.locator("[part=attachment]").count(), 10, "1 + 9 of the 10 picked");
  assert.equal(await page.locator("[part=attach-status] b").textContent(), "At most 10 files per message.");
  assert.deepEqual(problems, []);
  await ctx.close();
});

test("a staged file's Remove button (click and Enter): the chip goes, focus returns to the input, the file is not sent; uploads and removals are announced", { timeout: 60_000 }, async () => {
  const { page, ctx, problems } = await env.open();
  await ready(page);
  const status = page.locator("[part=attach-status]");
  await pick(page, [png("gone1.png"), png("gone2.png"), { name: "kept.pdf", mimeType: "application/pdf", buffer: PDF }]);
  await uploaded(page, 3);
  assert.equal(await status.getAttribute("role"), "status");
  assert.match(await statusText(page), /^(gone1\.png|gone2\.png|kept\.pdf) uploaded\.$/, "the last upload done is announced");
  const focused = () => page.evaluate(() => document.querySelector("[data-natter]").shadowRoot.activeElement?.getAttribute("part"));
  // by mouse
  const remove1 = page.locator("[part=attachment] button", { hasText: "\u00d7" }).first();
  assert.equal(await remove1.getAttribute("aria-label"), "Remove gone1.png");
  await remove1.click();
  assert.equal(await page.locator("[part=attachment]", { hasText: "gone1.png" }).count(), 0);
  assert.equal(await focused(), "input");
  assert.equal(await statusText(page), "gone1.png removed.");
  // by keyboard
  const remove2 = page.locator("[part=attachment] button[aria-label='Remove gone2.png']");
  await remove2.focus();
  await page.keyboard.press("Enter");
  assert.equal(await page.locator("[part=attachment]", { hasText: "gone2.png" }).count(), 0);
  assert.equal(await focused(), "input");
  assert.equal(await statusText(page), "gone2.png removed.");
  assert.deepEqual(await page.locator("[part=attachment] span").allTextContents(), ["kept.pdf"]);
  await page.locator("[part=input]").fill("only the pdf");
  await page.locator("[part=input]").press("Enter");
  await page.locator("[part=message].user:not(.pending)", { hasText: "only the pdf" }).locator("a[part=file]").waitFor();
  const [m] = (await userMessages(page)).filter((m) => m.content[0]?.text === "only the pdf");
  assert.deepEqual(files(m), ["kept.pdf"], "the removed files are not in the stored message");
  assert.equal(await page.locator("[part=message].user", { hasText: "only the pdf" }).locator("a[part=file]").count(), 1);
  assert.deepEqual(problems, []);
  await ctx.close();
});

test("strings: attach… keys over the French defaults; an unknown attach… key is a TypeError saying what to do", async () => {
  const strings = JSON.stringify({ attachLabel: "Ajouter une pièce", attachUploaded: "{name} est arrivé." });
  const { page, ctx, problems } = await env.open(`locale=fr&strings=${encodeURIComponent(strings)}`);
  await ready(page);
  const attach = page.locator("[part=attach]");
  assert.equal(await attach.getAttribute("aria-label"), "Ajouter une pièce");
  assert.equal(await attach.getAttribute("title"), "Ajouter une pièce");
  const slow = page.route("**/v1/threads/*/attachments?*", async (r) => { await new Promise((d) => setTimeout(d, 300)); await r.continue(); });
  await slow;
  await pick(page, [png("photo.png")]);
  assert.equal(await page.locator("[part=attachment] progress").getAttribute("aria-label"), "Envoi en cours photo.png");
  await uploaded(page, 1);
  assert.equal(await statusText(page), "photo.png est arrivé.");
  const remove = page.locator("[part=attachment] button");
  assert.equal(await remove.getAttribute("aria-label"), "Retirer photo.png");
  await remove.click();
  assert.equal(await statusText(page), "photo.png retiré.");
  await pick(page, [{ name: "page.png", mimeType: "image/png", buffer: HTML }]);
  await until(page, () => document.querySelector("[data-natter]").shadowRoot.querySelector("[part=attach-status] b").textContent !== "");
  assert.equal(await page.locator("[part=attach-status] b").textContent(), "page.png : ce type de fichier n'est pas accepté.");
  assert.deepEqual(problems, []);
  await ctx.close();

  const bad = await env.browser.newPage();
  const errors = [];
  bad.on("pageerror", (e) => errors.push(e.message));
  await bad.goto(`${env.server.origin}/chat.html?strings=${encodeURIComponent(JSON.stringify({ attachLable: "Attach" }))}`);
  for (let i = 0; i < 200 && !errors.length; i++) await new Promise((r) => setTimeout(r, 25));
  assert.equal(errors.length, 1, errors.join("\n"));
  assert.match(errors[0], /^loadChat: options\.strings has an unknown key "attachLable": rename it to one of the attach module's keys \(attachLabel, attachRemove, .*attachRemoved\) or remove it$/);
  await bad.close();
});

test("an upload cut after the server stored it is retried with its clientId and kept once", { timeout: 60_000 }, async () => {
  const { page, ctx, problems } = await env.open();
  await ready(page);
  const seen = [];
  await page.route("**/v1/threads/*/attachments?*", async (route) => {
    const resp = await route.fetch();
    const body = await resp.json();
    seen.push({ clientId: new URL(route.request().url()).searchParams.get("clientId"), status: resp.status(), id: body.attachment?.id });
    if (seen.length === 1) await route.abort("connectionreset"); // stored, but the answer is lost
    else await route.fulfill({ response: resp });
  });
  await pick(page, [png("twice.png")]);
  await uploaded(page, 1);
  await page.locator("[part=input]").fill("after a cut");
  await page.locator("[part=input]").press("Enter");
  await page.locator("[part=message].user:not(.pending)", { hasText: "after a cut" }).locator("a[part=file]").waitFor();
  assert.equal(seen.length, 2);
  assert.equal(seen[0].clientId, seen[1].clientId, "the retry reuses the clientId");
  assert.deepEqual([seen[0].status, seen[1].status], [201, 200], "the retry answers the file already stored");
  assert.equal(seen[0].id, seen[1].id);
  const [m] = (await userMessages(page)).filter((m) => m.content[0]?.text === "after a cut");
  assert.deepEqual(files(m), ["twice.png"]);
  assert.equal(m.content.find((c) => c.response_type === "file").file.id, seen[0].id);
  assert.deepEqual(problems, []);
  await ctx.close();
});

test("a slow upload shows its progress; the send waits for it", { timeout: 90_000 }, async () => {
  const proxy = await startProxy(env.server.origin);
  try {
    const { page, ctx, problems } = await openThrough(env.browser, proxy, "");
    await ready(page);
    proxy.state.slowUploads = 15;
    await page.evaluate(() => {
      window.progress = [];
      const root = document.querySelector("[data-natter]").shadowRoot;
      const tick = () => {
        for (const p of root.querySelectorAll("[part=attachment] progress")) progress.push(p.value);
        requestAnimationFrame(tick);
      };
      tick();
    });
    const big = Buffer.concat([PNG, Buffer.alloc(8 * 1024 * 1024, 1)]);
    await pick(page, [{ name: "big.png", mimeType: "image/png", buffer: big }]);
    const bar = page.locator("[part=attachment] progress");
    await bar.waitFor();
    assert.equal(await bar.getAttribute("aria-label"), "Uploading big.png");
    // sent while the upload is still going: the message goes once the file is there
    await page.locator("[part=input]").fill("sent before the upload ended");
    await page.locator("[part=input]").press("Enter");
    await page.locator("[part=message].user", { hasText: "sent before the upload ended" }).locator("a[part=file]").waitFor({ timeout: 60_000 });
    const values = await page.evaluate(() => progress);
    assert.ok(values.some((v) => v > 0 && v < 1), `the bar moved: ${values.length} frames, last ${values.at(-1)}`);
    const [m] = (await userMessages(page)).filter((m) => m.content[0]?.text === "sent before the upload ended");
    assert.deepEqual(files(m), ["big.png"]);
    assert.equal(m.content[1].file.size, big.length);
    assert.deepEqual(problems, []);
    await ctx.close();
  } finally {
    await proxy.close();
  }
});

test("an upload cut in the middle (the proxy drops the connection) is uploaded again and kept once, whole", { timeout: 90_000 }, async () => {
  const proxy = await startProxy(env.server.origin);
  try {
    const { page, ctx, problems } = await openThrough(env.browser, proxy, "");
    await ready(page);
    proxy.state.slowUploads = 15;
    const answers = [];
    page.on("response", (r) => r.url().includes("/attachments?") && answers.push(r.status()));
    const big = Buffer.concat([PNG, Buffer.alloc(6 * 1024 * 1024, 2)]);
    await pick(page, [{ name: "cut.png", mimeType: "image/png", buffer: big }]);
    // part of it is on its way: cut every connection the proxy carries
    await until(page, () => document.querySelector("[data-natter]").shadowRoot.querySelector("[part=attachment] progress")?.value > 0.05, undefined, 30_000);
    proxy.cut();
    await uploaded(page, 1);
    await page.locator("[part=input]").fill("after a cut mid-upload");
    await page.locator("[part=input]").press("Enter");
    await page.locator("[part=message].user:not(.pending)", { hasText: "after a cut mid-upload" }).locator("a[part=file]").waitFor({ timeout: 60_000 });
    assert.deepEqual(answers, [201], "the cut upload got no answer, its retry stored the file");
    const [m] = (await userMessages(page)).filter((m) => m.content[0]?.text === "after a cut mid-upload");
    assert.deepEqual(files(m), ["cut.png"]);
    assert.equal(m.content[1].file.size, big.length, "whole");
    assert.deepEqual(problems, []);
    await ctx.close();
  } finally {
    await proxy.close();
  }
});

test("a send with files not yet acknowledged survives a reload and arrives once with its files", { timeout: 90_000 }, async () => {
  const { page, ctx, problems } = await env.open("persistence=local");
  await ready(page);
  await pick(page, [png("kept.png")]);
  await uploaded(page, 1);
  await page.route("**/v1/threads/*/messages", (r) => (r.request().method() === "POST" ? r.abort() : r.continue()));
  await page.locator("[part=input]").fill("files across a reload");
  await page.locator("[part=input]").press("Enter");
  await page.locator("[part=message].pending", { hasText: "files across a reload" }).locator("a[part=file]").waitFor();
  await page.reload();
  await page.waitForFunction(() => window.natterLoaded);
  await ready(page);
  // still unacknowledged: pending, with its file
  await page.locator("[part=message].pending", { hasText: "files across a reload" }).locator("a[part=file]", { hasText: "kept.png" }).waitFor();
  await page.unroute("**/v1/threads/*/messages");
  await page.locator("[part=message].user:not(.pending)", { hasText: "files across a reload" }).waitFor({ timeout: 30_000 });
  await new Promise((r) => setTimeout(r, 500));
  const stored = (await userMessages(page)).filter((m) => m.content[0]?.text === "files across a reload");
  assert.equal(stored.length, 1, "exactly once");
  assert.deepEqual(files(stored[0]), ["kept.png"], "with its file");
  assert.equal(await page.locator("[part=message].user", { hasText: "files across a reload" }).count(), 1, "shown once");
  assert.equal(await page.evaluate(() => localStorage.length), 1, "only the thread id is left in storage");
  assert.deepEqual(problems.filter((p) => !/ERR_FAILED|net::/.test(p)), []);
  await ctx.close();
});

test("strict CSP + Trusted Types page: attach, upload, thumbnail, 0 violations", { timeout: 60_000 }, async () => {
  const ctx = await env.browser.newContext();
  const page = await ctx.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${env.server.origin}/strict.html`);
  await page.waitForFunction(() => window.natterLoaded);
  await ready(page);
  // the module's stylesheet applies (adopted, not a <style> the policy would block): the empty
  // status line takes no room, a reason in it is red
  assert.equal(await page.locator("[part=attach-status]").evaluate((e) => e.getBoundingClientRect().height), 0);
  assert.equal(await page.locator("[part=attach-status] b").evaluate((e) => getComputedStyle(e).color), "rgb(185, 28, 28)");
  await pick(page, [png("strict.png")]);
  await uploaded(page, 1);
  await page.locator("[part=attachment] img").waitFor();
  await page.locator("[part=input]").fill("under a strict policy");
  await page.locator("[part=input]").press("Enter");
  const thumb = page.locator("[part=message].user a[part=file] img");
  await thumb.waitFor();
  await until(page, () => document.querySelector("[data-natter]").shadowRoot.querySelector("[part=message].user a[part=file] img").naturalWidth === 1);
  await pick(page, [{ name: "bad.png", mimeType: "image/png", buffer: HTML }]);
  await until(page, () => document.querySelector("[data-natter]").shadowRoot.querySelector("[part=attach-status]").textContent !== "");
  assert.deepEqual(await page.evaluate(() => window.violations), []);
  assert.deepEqual(errors, []);
  await ctx.close();
});

/** A context whose requests for attach.js wait until `state.release()` (`state.hold()` again);
 * `state.asked` counts them. (A routed context has no HTTP cache: every load asks.) */
async function holdingAttach() {
  const ctx = await env.browser.newContext({ viewport: { width: 1000, height: 760 } });
  const state = { asked: 0 };
  state.hold = () => { state.held = new Promise((r) => { state.release = r; }); };
  state.hold();
  await ctx.route("**/widget/attach.js", async (route) => {
    state.asked++;
    await state.held;
    await route.continue();
  });
  return { ctx, state };
}

const agentFile = (page, seq, name) => page.evaluate(([seq, name]) => chat._feed(JSON.stringify({
  seq, type: "agent.message", message: { id: `msg_agent_${seq}`, role: "agent", content: [{ response_type: "file", file: { id: `att_${seq}`, name, type: "application/pdf", size: 2048, url: `/v1/threads/thr_x/attachments/att_${seq}` } }] },
})), [seq, name]);

test("a bot that takes no files loads no attach.js until an agent's file arrives; files that came before it are drawn once", async () => {
  const { ctx, state } = await holdingAttach();
  const { page, problems } = await env.open("bot=nofiles", { context: ctx });
  await page.evaluate(async () => { await chat.render(); await chat.changeView("mainWindow"); });
  await page.locator("[part=message].bot").first().waitFor();
  // the lookup said "no uploads": nothing more is fetched
  await until(page, () => performance.getEntriesByType("resource").some((r) => r.name.endsWith("/v1/bots/nofiles")));
  await page.evaluate(() => new Promise((r) => setTimeout(r, 300)));
  assert.equal(state.asked, 0, "no attach.js for a bot that takes no files and no file to draw");
  assert.ok(!(await page.evaluate(() => performance.getEntriesByType("resource").some((r) => r.name.endsWith("/attach.js")))));
  // an agent's file: the module is fetched; a second file comes while it is on its way
  await agentFile(page, 1000, "terms.pdf");
  for (let i = 0; i < 100 && state.asked === 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(state.asked, 1, "the first file item fetches attach.js");
  await agentFile(page, 1001, "invoice.pdf");
  assert.equal(await page.locator("a[part=file]").count(), 0, "not drawn before the module is there");
  state.release();
  await page.locator("a[part=file]", { hasText: "invoice.pdf · application/pdf · 2 KB" }).waitFor();
  await page.locator("a[part=file]", { hasText: "terms.pdf · application/pdf · 2 KB" }).waitFor();
  // one after the module arrived: drawn by its own handler
  await agentFile(page, 1002, "later.pdf");
  await page.locator("a[part=file]", { hasText: "later.pdf" }).waitFor();
  await page.evaluate(() => new Promise((r) => setTimeout(r, 200)));
  assert.deepEqual(await page.locator("a[part=file]").allTextContents(), [
    "terms.pdf · application/pdf · 2 KB", "invoice.pdf · application/pdf · 2 KB", "later.pdf · application/pdf · 2 KB",
  ], "each once, in order");
  assert.equal(state.asked, 1);
  assert.equal(await page.locator("[part=attach]").count(), 0, "no attach controls");
  assert.deepEqual(problems, []);
  await ctx.close();
});

test("a history with the visitor's files that shows before attach.js arrived gets its files once it does", { timeout: 60_000 }, async () => {
  const { ctx, state } = await holdingAttach();
  state.release(); // the first visit loads it at once (the bot takes files)
  const { page, problems } = await env.open("persistence=local", { context: ctx });
  await ready(page);
  await pick(page, [png("kept.png"), { name: "notes.pdf", mimeType: "application/pdf", buffer: PDF }]);
  await uploaded(page, 2);
  await page.locator("[part=input]").fill("before the reload");
  await page.locator("[part=input]").press("Enter");
  await page.locator("[part=message].user:not(.pending)", { hasText: "before the reload" }).locator("a[part=file]").nth(1).waitFor();
  // the same visitor again, attach.js held back this time: the history shows first
  state.hold();
  state.asked = 0;
  await page.reload();
  await page.waitForFunction(() => window.natterLoaded);
  await page.evaluate(async () => { await chat.render(); await chat.changeView("mainWindow"); });
  const mine = page.locator("[part=message].user", { hasText: "before the reload" });
  await mine.waitFor();
  await until(page, () => events.some((e) => e.type === "pre:threadLoaded"));
  for (let i = 0; i < 250 && !state.asked; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(state.asked, 1, "attach.js was asked for");
  assert.equal(await mine.locator("a[part=file]").count(), 0, "the history is drawn without its files yet");
  state.release();
  await mine.locator("a[part=file]").nth(1).waitFor();
  await page.locator("[part=attach]").waitFor();
  await page.evaluate(() => new Promise((r) => setTimeout(r, 200)));
  assert.deepEqual(await mine.locator("a[part=file]").allTextContents(), ["kept.png · image/png · 1 KB", "notes.pdf · application/pdf · 1 KB"], "each once");
  assert.deepEqual(problems, []);
  await ctx.close();
});

test("a restart before attach.js arrived: the old conversation's files are not drawn on the new one", { timeout: 60_000 }, async () => {
  const { ctx, state } = await holdingAttach();
  state.release();
  const { page, problems } = await env.open("persistence=local", { context: ctx });
  await ready(page);
  await pick(page, [png("old.png")]);
  await uploaded(page, 1);
  await page.locator("[part=input]").fill("in the old conversation");
  await page.locator("[part=input]").press("Enter");
  await page.locator("[part=message].user:not(.pending)", { hasText: "in the old conversation" }).locator("a[part=file]").waitFor();
  // again with attach.js held back: the old history is kept for it, then the visitor restarts
  state.hold();
  state.asked = 0;
  await page.reload();
  await page.waitForFunction(() => window.natterLoaded);
  await page.evaluate(async () => { await chat.render(); await chat.changeView("mainWindow"); });
  await page.locator("[part=message].user", { hasText: "in the old conversation" }).waitFor();
  await until(page, () => events.some((e) => e.type === "pre:threadLoaded"));
  await page.evaluate(() => chat.restartConversation());
  await page.locator("[part=message].user", { hasText: "in the old conversation" }).waitFor({ state: "detached" });
  await page.locator("[part=input]").fill("in the new conversation");
  await page.locator("[part=input]").press("Enter");
  const fresh = page.locator("[part=message].user:not(.pending)", { hasText: "in the new conversation" });
  await fresh.waitFor();
  state.release();
  await page.locator("[part=attach]").waitFor();
  await page.evaluate(() => new Promise((r) => setTimeout(r, 300)));
  assert.equal(await fresh.locator("a[part=file]").count(), 0, "no file of the old conversation on the new one's bubble");
  assert.deepEqual(problems, []);
  await ctx.close();
});

test("attachments: false: no lookup, no attach module; a value that is not a boolean is a TypeError", async () => {
  const ctx = await env.browser.newContext();
  const page = await ctx.newPage();
  const asked = [];
  page.on("request", (r) => asked.push(new URL(r.url()).pathname));
  await page.goto(`${env.server.origin}/chat.html?attachments=false`);
  await page.waitForFunction(() => window.natterLoaded);
  await page.evaluate(async () => { await chat.render(); await chat.changeView("mainWindow"); });
  await page.locator("[part=message].bot").first().waitFor();
  await agentFile(page, 1000, "terms.pdf");
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(asked.filter((p) => /^\/v1\/bots\/[^/]+$/.test(p) || p.endsWith("/attach.js")), [], "neither the bot's lookup nor attach.js");
  assert.equal(await page.locator("a[part=file]").count(), 0, "file items are left to the page's handlers");
  assert.equal(await page.locator("[part=attach]").count(), 0);
  await ctx.close();
  // a value that is not a boolean: the attach module says so (an uncaught TypeError)
  const p2 = await env.browser.newPage();
  const errors = [];
  p2.on("pageerror", (e) => errors.push(e.message));
  await p2.goto(`${env.server.origin}/chat.html?attachments=false`);
  await p2.waitForFunction(() => window.natterLoaded);
  await p2.evaluate(async () => {
    const { loadChat } = await import("/widget/natter.js");
    await loadChat({ serverUrl: location.origin, bot: "t", attachments: "yes" });
  });
  for (let i = 0; i < 100 && !errors.length; i++) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(errors, ["loadChat: options.attachments must be true or false, not string"]);
  await p2.close();
});

test("a bot that requires a token: the uploads carry the visitor's token, its thumbnail shows through a signed URL", async () => {
  // the e2e bot `jwt` (tests/e2e/bots/jwt): HS256 with this secret
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const body = b64({ alg: "HS256", typ: "JWT" }) + "." + b64({ sub: "visitor-files", exp: Math.floor(Date.now() / 1000) + 3600 });
  const token = body + "." + createHmac("sha256", "e2e-test-secret-e2e-test-secret-0123456789").update(body).digest("base64url");
  const { page, ctx, problems } = await env.open(`bot=jwt&token=${token}`);
  const auth = [];
  page.on("request", (r) => r.url().includes("/attachments?") && auth.push(r.headers().authorization));
  await ready(page);
  await pick(page, [png("signed-in.png")]);
  await uploaded(page, 1);
  await page.locator("[part=input]").press("Enter");
  await page.locator("[part=message].user:not(.pending)").locator("a[part=file]", { hasText: "signed-in.png" }).waitFor();
  assert.deepEqual(auth, [`Bearer ${token}`]);
  // an <img> sends no Authorization header: its thumbnail decodes through the signed URL
  await until(page, () => [...document.querySelector("[data-natter]").shadowRoot.querySelectorAll("[part=message].user a[part=file] img")].some((i) => i.complete && i.naturalWidth === 1));
  const tid = await page.evaluate(() => chat.getState().threadId);
  const r = await fetch(`${env.server.origin}/v1/threads/${tid}/messages`, { headers: { authorization: `Bearer ${token}` } });
  const mine = (await r.json()).messages.filter((m) => m.role === "user");
  assert.deepEqual(mine.map(files), [["signed-in.png"]]);
  assert.deepEqual(problems, []);
  await ctx.close();
});
