// Test harness for tests/e2e/chat-*.test.mjs: a real `natter serve` on 127.0.0.1 (free port,
// temp data dir, the test bots of tests/e2e/bots, the pages of tests/e2e/chat-pages, pkg/ at
// /widget/), which a test can kill -9 and start again on the same port and data.
// The binary: $NATTER_BIN, else $CARGO_TARGET_DIR/debug/natter, else target/debug/natter
// (scripts/test builds it with `cargo build -p natter-server`).
import { spawn } from "node:child_process";
import { mkdtempSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createServer } from "node:net";
import { launch } from "./widget-browser.mjs";

const root = resolve(new URL("../..", import.meta.url).pathname);
export const BIN = process.env.NATTER_BIN || join(resolve(root, process.env.CARGO_TARGET_DIR || "target"), "debug", "natter");

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => ok(port)); });
    s.on("error", fail);
  });
}

/** `opts`: `bots` and `www` folders instead of the test ones; `env` added to natter's environment. */
export async function startServer(opts = {}) {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run cargo build -p natter-server`);
  if (!existsSync(join(root, "pkg/natter.js"))) throw new Error("pkg/ is missing: run scripts/build-widget");
  const port = await freePort();
  const data = mkdtempSync(join(tmpdir(), "natter-e2e-"));
  const origin = `http://127.0.0.1:${port}`;
  let child;
  const srv = {
    origin,
    port,
    data,
    async start() {
      child = spawn(BIN, ["serve", "--addr", `127.0.0.1:${port}`, "--data", data, "--bots", opts.bots || join(root, "tests/e2e/bots"),
        "--www", opts.www || join(root, "tests/e2e/chat-pages"), "--widget", join(root, "pkg"), "--rate-per-ip", "0", "--rate-per-thread", "0", "--durability", "normal"],
        { stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, NATTER_LOG: "warn", ...(opts.env || {}) } });
      for (let i = 0; i < 400; i++) {
        try { if ((await fetch(origin + "/healthz")).ok) return; } catch {}
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error("natter did not come up");
    },
    async kill(signal = "SIGKILL") {
      if (!child || child.exitCode !== null || child.signalCode !== null) return; // already gone (a signal leaves exitCode null)
      const done = new Promise((r) => child.once("exit", r));
      child.kill(signal);
      await done;
    },
    async api(path, init) {
      const r = await fetch(origin + path, init);
      return { status: r.status, body: await r.json().catch(() => null) };
    },
  };
  await srv.start();
  return srv;
}

/** A server, a browser and helpers shared by one test file. */
export async function setup() {
  const server = await startServer();
  const browser = await launch();
  return {
    server,
    browser,
    /** Opens the e2e page with `query`, waits for `window.chat`; collects page errors. */
    async open(query = "", { context, viewport } = {}) {
      const ctx = context || (await browser.newContext({ viewport: viewport || { width: 1000, height: 760 } }));
      const page = await ctx.newPage();
      const problems = [];
      page.on("pageerror", (e) => problems.push("pageerror: " + e.message));
      page.on("console", (m) => m.type() === "error" && !/favicon|Failed to load resource|ERR_/.test(m.text()) && problems.push("console.error: " + m.text()));
      await page.goto(`${server.origin}/chat.html?${query}`);
      await page.waitForFunction(() => window.natterLoaded);
      return { page, ctx, problems };
    },
    async close() {
      await browser.close();
      await server.kill();
    },
  };
}

/** Text of every message bubble in the shadow root, in order. */
export const bubbles = (page) => page.locator("[part=message]").evaluateAll((els) => els.map((e) => [e.className, e.textContent]));
/** Texts of the bot's (non-user) bubbles. */
export const botTexts = async (page) => (await bubbles(page)).filter(([c]) => !c.includes("user")).map(([, t]) => t);
export const until = (page, fn, arg, timeout = 15_000) => page.waitForFunction(fn, arg, { timeout, polling: 20 });
