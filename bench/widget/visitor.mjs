// Cold loads as a visitor's browser sees them: headless Chromium driven over a bare DevTools
// pipe with no DevTools domain enabled in the page. Playwright enables the Network, Page and
// Runtime domains on every page it opens, and that instrumentation (each request, each script)
// weighs on a page that loads a script and a .wasm more than on a blank one. Here the driver only
// opens a fresh browser context per load (Target), waits for a quiet machine (quiet.mjs),
// navigates (Page.navigate) and, once the page had time to get ready, reads `window.readyAt`
// (Runtime.evaluate): nothing runs in the page while it starts.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CHROMIUM_ARGS } from "../../tests/e2e/widget-browser.mjs";
import { quiet } from "./quiet.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Chromium over `--remote-debugging-pipe`: `send(method, params, sessionId)` and `close()`. */
function chromium() {
  const dir = mkdtempSync(join(tmpdir(), "natter-visitor-"));
  const child = spawn("/usr/bin/chromium", [...CHROMIUM_ARGS, "--remote-debugging-pipe", `--user-data-dir=${dir}`, "about:blank"], {
    stdio: ["ignore", "ignore", "ignore", "pipe", "pipe"],
  });
  const [, , , input, output] = child.stdio;
  const waiting = new Map();
  let id = 0, buf = "";
  output.on("data", (d) => {
    buf += d;
    for (let i; (i = buf.indexOf("\0")) >= 0; buf = buf.slice(i + 1)) {
      const m = JSON.parse(buf.slice(0, i));
      const w = m.id && waiting.get(m.id);
      if (!w) continue;
      waiting.delete(m.id);
      m.error ? w.ko(new Error(`${w.method}: ${m.error.message}`)) : w.ok(m.result);
    }
  });
  const send = (method, params = {}, sessionId) => new Promise((ok, ko) => {
    waiting.set(++id, { ok, ko, method });
    input.write(JSON.stringify({ id, method, params, ...(sessionId && { sessionId }) }) + "\0");
  });
  const exited = new Promise((r) => child.once("exit", r));
  const close = async () => {
    const late = setTimeout(() => child.kill(), 5_000);
    await send("Browser.close").catch(() => child.kill());
    await exited; // it writes its profile until it is gone
    clearTimeout(late);
    rmSync(dir, { recursive: true, force: true });
  };
  return { send, close };
}

/**
 * `loads` rounds over `pages` ({name: path}), each load in a fresh browser context, in the
 * order given (so each round's loads are neighbours in time), or with `rotate` starting each
 * round one page further (so that no page always comes right after the same one: when two
 * builds are compared, neither always pays for the other's load). Returns {name: [ms from
 * navigation start to `window.readyAt`]}.
 */
export async function visitorLoads(origin, pages, loads, { rotate = false } = {}) {
  const { send, close } = chromium();
  const times = Object.fromEntries(Object.keys(pages).map((k) => [k, []]));
  try {
    const names = Object.keys(pages);
    for (let i = 0; i < loads; i++) {
      for (const name of rotate ? names.map((_, j) => names[(i + j) % names.length]) : names) {
        const path = pages[name];
        const { browserContextId } = await send("Target.createBrowserContext", { disposeOnDetach: true });
        const { targetId } = await send("Target.createTarget", { url: "about:blank", browserContextId });
        const { sessionId } = await send("Target.attachToTarget", { targetId, flatten: true });
        await quiet(); // the new renderer has started and the last context is gone (quiet.mjs)
        await send("Page.navigate", { url: origin + path }, sessionId);
        await sleep(200); // every page here is ready well within this: no evaluate while it starts
        let ready;
        for (let k = 0; ready === undefined; k++) {
          if (k === 1500) throw new Error(`${path}: not ready after 30 s`);
          const r = await send("Runtime.evaluate", { expression: "window.readyAt", returnByValue: true }, sessionId).catch(() => null);
          ready = r?.result?.value;
          if (ready === undefined) await sleep(20);
        }
        times[name].push(ready);
        await send("Target.disposeBrowserContext", { browserContextId });
      }
    }
  } finally {
    await close();
  }
  return times;
}
