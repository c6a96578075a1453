// The LLM agent end to end through the widget: a real `natter serve` whose `llm` bot (template in
// tests/e2e/bots/llm, copied to a temp dir and pointed at the stand-in) talks to a node
// stand-in OpenAI-compatible server that streams exactly as OpenAI does (role chunk, content
// chunks, tool-call chunks with split arguments, finish_reason, usage, [DONE]). The widget in
// headless Chromium shows the streamed answer, the typing indicator ends, and a hand-off
// chosen by the model is shown.
// The model is called with the bot's API key (from the environment, as a deployment sets it).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { launch } from "./widget-browser.mjs";
import { startServer, botTexts, until } from "./chat-server.mjs";

const root = resolve(new URL("../..", import.meta.url).pathname);

// ---- the stand-in model ----

const chunk = (delta, finish = null) => JSON.stringify({
  id: "chatcmpl-e2e", object: "chat.completion.chunk", created: 1700000000, model: "stand-in",
  choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], usage: null,
});
const usage = () => JSON.stringify({ id: "chatcmpl-e2e", object: "chat.completion.chunk", created: 1700000000, model: "stand-in", choices: [], usage: { prompt_tokens: 9, completion_tokens: 9, total_tokens: 18 } });
const text = (pieces) => [chunk({ role: "assistant", content: "" }), ...pieces.map((p) => chunk({ content: p })), chunk({}, "stop"), usage()];
const toolCall = (id, name, args) => {
  const out = [chunk({ role: "assistant", content: null, tool_calls: [{ index: 0, id, type: "function", function: { name, arguments: "" } }] })];
  for (let i = 0; i < args.length; i += 5) out.push(chunk({ tool_calls: [{ index: 0, function: { arguments: args.slice(i, i + 5) } }] }));
  return [...out, chunk({}, "tool_calls"), usage()];
};

function standIn() {
  const queue = [];
  const seen = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", async () => {
      seen.push({ ...JSON.parse(body), authorization: req.headers.authorization });
      const datas = queue.shift();
      if (!datas) { res.writeHead(500); res.end("{}"); return; }
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      for (const d of datas) {
        res.write(`data: ${d}\n\n`);
        await new Promise((r) => setTimeout(r, 15)); // visibly streamed
      }
      res.end("data: [DONE]\n\n");
    });
  });
  return new Promise((ok) => server.listen(0, "127.0.0.1", () => ok({ server, queue, seen, base: `http://127.0.0.1:${server.address().port}/v1` })));
}

// ---- the server, with the llm bot pointed at the stand-in and given an API key ----

const LLM_KEY = "sk-e2e-llm-key-" + randomBytes(12).toString("hex");

async function startNatter(modelBase) {
  const tmp = mkdtempSync(join(tmpdir(), "natter-e2e-llm-"));
  mkdirSync(join(tmp, "bots/llm"), { recursive: true });
  const toml = readFileSync(join(root, "tests/e2e/bots/llm/bot.toml"), "utf8")
    .replace("http://127.0.0.1:9/v1", modelBase)
    .replace('model = "stand-in"', 'model = "stand-in"\napi_key_env = "NATTER_E2E_LLM_KEY"');
  writeFileSync(join(tmp, "bots/llm/bot.toml"), toml);
  return startServer({ bots: join(tmp, "bots"), env: { NATTER_E2E_LLM_KEY: LLM_KEY } });
}

let model, natter, browser;
before(async () => {
  model = await standIn();
  natter = await startNatter(model.base);
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await natter?.kill();
  model?.server.close();
});

test("llm bot: the model's answer streams into the widget, typing ends, a model-chosen hand-off is shown", async () => {
  const ctx = await browser.newContext({ viewport: { width: 1000, height: 760 } });
  const page = await ctx.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push("pageerror: " + e.message));
  await page.goto(`${natter.origin}/chat.html?bot=llm`);
  await page.waitForFunction(() => window.natterLoaded);
  await page.evaluate(async () => {
    window.deltas = [];
    chat.on("pre:stream:delta", (e) => { deltas.push(e.delta.content.map((c) => c.text).join("")); });
    await chat.render();
    await chat.changeView("mainWindow");
  });
  await page.locator("[part=message].bot").first().waitFor();

  model.queue.push(text(["Order 42 ", "has **shipped**", " and arrives tomorrow."]));
  await page.evaluate(() => chat.send("Where is order 42?"));
  // Wait for the completed message (rendered as markdown), not just the streamed text: while
  // streaming, the raw `**` markers are still in the trailing text node.
  await until(page, () => [...document.querySelector("[data-natter]").shadowRoot.querySelectorAll("[part=message].bot strong")].some((n) => n.textContent === "shipped"));
  const texts = await botTexts(page);
  assert.equal(texts.at(-1), "Order 42 has shipped and arrives tomorrow.");
  // Markdown became DOM nodes, never HTML from the model.
  assert.equal(await page.locator("[part=message].bot strong").last().textContent(), "shipped");
  assert.ok((await page.evaluate(() => deltas.length)) >= 1, "the answer arrived as stream deltas");
  await until(page, () => document.querySelector("[data-natter]").shadowRoot.querySelector(".typing").hidden !== false);
  // What the model was sent: the system instructions, then the user's message.
  const req = model.seen.at(-1);
  assert.equal(req.stream, true);
  assert.equal(req.authorization, `Bearer ${LLM_KEY}`, "the model gets the bot's API key");
  assert.match(req.messages[0].content, /^You are the e2e shop assistant\.\n\nAnswer questions about orders\./);
  assert.equal(req.messages.at(-1).content, "Where is order 42?");
  assert.deepEqual(req.tools.map((t) => t.function.name).sort(), ["closeConversation", "handOffConversation"]);

  model.queue.push(toolCall("call_h", "handOffConversation", JSON.stringify({ reason: "asked for a person" })));
  await page.evaluate(() => chat.send("I want to talk to a person"));
  await until(page, () => /connected to a person/.test(document.querySelector("[data-natter]").shadowRoot.textContent));
  const tid = await page.evaluate(() => chat.getState().threadId);
  const hist = await (await fetch(`${natter.origin}/v1/threads/${tid}/messages`)).json();
  assert.equal(hist.status, "handed_off");
  assert.deepEqual(problems, []);
  await ctx.close();
});
