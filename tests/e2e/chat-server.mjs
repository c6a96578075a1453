// Test harness for tests/e2e/chat-*.test.mjs: a real `natter serve` on 127.0.0.1 (free port,
// temp data dir, the test bots of tests/e2e/bots, the pages of tests/e2e/chat-pages, pkg/ at
// /widget/), which a test can kill -9 and start again on the same port and data.
// The binary: $NATTER_BIN, else $CARGO_TARGET_DIR/debug/natter, else target/debug/natter
// (scripts/test builds it with `cargo build -p natter-server`).
import { spawn } from "node:child_process";
import { mkdtempSync, existsSync, closeSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createServer } from "node:net";
import { launch } from "./widget-browser.mjs";
import { LOG_ENV, appendTo, logPath, noteBotSecrets, noteEnvSecrets } from "./run-logs.mjs";

const root = resolve(new URL("../..", import.meta.url).pathname);
export const BIN = process.env.NATTER_BIN || join(resolve(root, process.env.CARGO_TARGET_DIR || "target"), "debug", "natter");

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => ok(port)); });
    s.on("error", fail);
  });
}

/** The last lines of a log, for an error message. */
const tail = (path) => { try { return readFileSync(path, "utf8").trimEnd().split("\n").slice(-5).join("\n"); } catch { return ""; } };

/** `opts`: `bots` and `www` folders instead of the test ones (`www: false`: the pages and the
 * widget built into natter, as a user runs it); `env` added to natter's environment; `logs:
 * false`: log warnings to this process's stderr instead of the run's logs (benchmarks). */
export async function startServer(opts = {}) {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run cargo build -p natter-server`);
  if (!existsSync(join(root, "pkg/natter.js"))) throw new Error("pkg/ is missing: run scripts/build-widget");
  const port = await freePort();
  const data = mkdtempSync(join(tmpdir(), "natter-e2e-"));
  const origin = `http://127.0.0.1:${port}`;
  const bots = opts.bots || join(root, "tests/e2e/bots");
  const logs = opts.logs !== false;
  const log = logs ? logPath() : null;
  if (logs) {
    noteBotSecrets(bots);
    noteEnvSecrets(opts.env);
  }
  let child;
  const srv = {
    origin,
    port,
    data,
    /** This server's log file (null with `logs: false`). */
    log,
    async start() {
      const folders = opts.www === false ? [] : ["--www", opts.www || join(root, "tests/e2e/chat-pages"), "--widget", join(root, "pkg")];
      const fd = logs ? appendTo(log) : "inherit";
      child = spawn(BIN, ["serve", "--addr", `127.0.0.1:${port}`, "--data", data, "--bots", bots,
        ...folders, "--rate-per-ip", "0", "--rate-per-thread", "0", "--durability", "normal"],
        { stdio: ["ignore", "ignore", fd], env: { ...process.env, ...(logs ? LOG_ENV : { NATTER_LOG: "warn" }), ...(opts.env || {}) } });
      if (logs) closeSync(fd);
      for (let i = 0; i < 400; i++) {
        try { if ((await fetch(origin + "/healthz")).ok) return; } catch {}
        if (child.exitCode !== null) break;
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error(`natter did not come up${logs ? ` (${log}):\n${tail(log)}` : ""}`);
    },
    async kill(signal = "SIGKILL") {
      // A child killed by a signal has `signalCode` set and `exitCode` null: it is gone too.
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
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
