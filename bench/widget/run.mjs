// Widget benchmarks (figures, not tests). Usage:
//   scripts/build-widget && node bench/widget/run.mjs [--loads 20] [--cycles 1000] [--dispatches 1000000]
// Prints: bytes (raw/gzip/brotli) of natter and of deep-chat 2.4.2; median ms from navigation
// start to ready over N cold loads of a blank page, natter (script embed, chat:ready) and
// deep-chat ("render" event), interleaved, on one static server, each load started on a quiet
// machine (quiet.mjs), first under Playwright, then as a visitor's browser (visitor.mjs: no
// DevTools domain enabled in the page); JS heap and wasm memory after load and after N
// load/render/send/destroy cycles (twice: the second N shows whether it still grows);
// dispatches/s of one event type to one sync handler through natter's bus vs EventTarget +
// CustomEvent in the same page.
import { readFileSync } from "node:fs";
import { gzipSync, brotliCompressSync, constants } from "node:zlib";
import { launch } from "../../tests/e2e/widget-browser.mjs";
import { serveStaticProcess } from "../../tests/e2e/widget-static.mjs";
import { sizes, totals } from "./sizes.mjs";
import { median, pairedMedian } from "./stats.mjs";
import { quiet, quietSummary } from "./quiet.mjs";
import { visitorLoads } from "./visitor.mjs";

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const LOADS = arg("loads", 20), CYCLES = arg("cycles", 1000), DISPATCHES = arg("dispatches", 1_000_000);
const kb = (n) => (n / 1024).toFixed(1) + " KB";

/** Medians of the cold loads, each beside the blank page's, and natter over its floor. */
function report(times) {
  console.log(quietSummary());
  const blank = median(times.blank);
  for (const [name, xs] of Object.entries(times)) {
    const m = median(xs);
    console.log(`  ${name.padEnd(18)} ${m.toFixed(1).padStart(7)} ms   (+${(m - blank).toFixed(1)} ms over blank; min ${Math.min(...xs).toFixed(1)}, max ${Math.max(...xs).toFixed(1)})`);
  }
  // per-load difference to the blank load just before it (same moment of machine load)
  for (const name of Object.keys(times).filter((n) => n !== "blank")) {
    console.log(`  ${name.padEnd(18)} paired: median +${pairedMedian(times, name, "blank").toFixed(1)} ms over the blank load of the same round`);
  }
  // natter's own start-up, measured against the floor of its own way of loading
  const over = (a, b) => pairedMedian(times, a, b).toFixed(1);
  console.log(`  natter (embed + hint) over "floor: par compile" of the same round: median +${over("natter", "floor: par compile")} ms (over "floor: par fetch": +${over("natter", "floor: par fetch")} ms)`);
}

// ---- bytes ----------------------------------------------------------------------------------
const ours = sizes("pkg");
const dc = readFileSync(new URL("../../node_modules/deep-chat/dist/deepChat.bundle.js", import.meta.url));
console.log("== bytes a host page downloads");
for (const r of ours) console.log(`  ${r.file.padEnd(22)} raw ${kb(r.raw).padStart(9)}  gzip ${kb(r.gzip).padStart(8)}  brotli ${kb(r.brotli).padStart(8)}`);
for (const t of totals(ours)) console.log(`  ${t.file.padEnd(22)} raw ${kb(t.raw).padStart(9)}  gzip ${kb(t.gzip).padStart(8)}  brotli ${kb(t.brotli).padStart(8)}  (${t.gzip} B gzip)`);
console.log(`  ${"deep-chat bundle".padEnd(22)} raw ${kb(dc.length).padStart(9)}  gzip ${kb(gzipSync(dc, { level: 9 }).length).padStart(8)}  brotli ${kb(brotliCompressSync(dc, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length).padStart(8)}`);

// The static server runs in its own process so the browser driver does not slow it down.
const server = await serveStaticProcess();
const browser = await launch();
try {
  // ---- time to ready, cold loads ------------------------------------------------------------
  const pages = {
    blank: "/bench/blank.html",
    natter: "/bench/natter.html", // script embed + the documented preload hint
    "natter npm": "/bench/natter-npm.html", // ES module + modulepreload / preload hints
    "natter no hint": "/bench/natter-nohint.html", // script embed alone
    "deep-chat": "/bench/deep-chat.html",
    // floors: an external async script that only fetches (and compiles) natter's .wasm
    "floor: fetch": "/bench/floor-fetch.html",
    "floor: compile": "/bench/floor-compile.html",
    // the same with the .wasm preloaded beside the script, as natter's embed snippet does: the
    // least that any widget loaded as a script plus a preloaded .wasm costs this page
    "floor: par fetch": "/bench/floor-parallel.html",
    "floor: par compile": "/bench/floor-parallel-compile.html",
  };
  const times = Object.fromEntries(Object.keys(pages).map((k) => [k, []]));
  // ready minus the end of the main download (natter's .wasm, deep-chat's bundle): start-up work
  // after the bytes are in, which depends much less on how busy server and network are
  const PAYLOAD = { natter: "natter_wasm_bg.wasm", "natter npm": "natter_wasm_bg.wasm", "natter no hint": "natter_wasm_bg.wasm", "deep-chat": "deepChat.bundle.js" };
  const afterBytes = Object.fromEntries(Object.keys(pages).map((k) => [k, []]));
  /** One cold load of `path` on a quiet machine; resolves to `read(arg)`, run in the page once it is ready. */
  const coldLoad = async (path, read, arg) => {
    const ctx = await browser.newContext(); // fresh cache and storage: a cold load
    const page = await ctx.newPage();
    await quiet(); // the new renderer has started and the last context is gone (quiet.mjs)
    await page.goto(server.origin + path);
    await page.waitForFunction(() => window.readyAt !== undefined, null, { timeout: 30_000 });
    const out = await page.evaluate(read, arg);
    await ctx.close();
    return out;
  };
  for (let i = 0; i < LOADS; i++) {
    for (const [name, path] of Object.entries(pages)) {
      const [ready, payloadEnd] = await coldLoad(path, (file) => [
        window.readyAt,
        performance.getEntriesByType("resource").find((r) => r.name.endsWith(file))?.responseEnd,
      ], PAYLOAD[name]);
      times[name].push(ready);
      if (payloadEnd !== undefined) afterBytes[name].push(ready - payloadEnd);
    }
  }
  // where natter's time goes (module page doing what embed.js does, with marks), and its first
  // start-up in a page against the same work again (first-start.html)
  const inPage = async (path, read) => {
    const out = [];
    for (let i = 0; i < LOADS; i++) out.push(await coldLoad(path, read));
    return out;
  };
  const phases = await inPage("/bench/phases.html", () => window.phases);
  const starts = await inPage("/bench/first-start.html", () => window.starts);
  console.log(`== navigation start -> ready, median of ${LOADS} cold loads (headless Chromium under Playwright, 127.0.0.1)`);
  report(times);
  for (const name of Object.keys(PAYLOAD)) {
    console.log(`  ${name.padEnd(18)} ready ${median(afterBytes[name]).toFixed(1)} ms after ${PAYLOAD[name]} arrived (median)`);
  }
  const ph = (k) => median(phases.map((p) => p[k])).toFixed(1);
  console.log(`  natter npm-path phases (pages/phases.html, medians, ms): script start ${ph("start")}, fetch+eval modules ${ph("modules")}, wasm compile+instantiate ${ph("wasm")}, loadChat ${ph("create")}, render to chat:ready ${ph("render")}`);
  const st = (k, part) => median(starts.map((s) => s[k][part])).toFixed(1);
  console.log(`  natter in one page (pages/first-start.html, medians, ms): first loadChat ${st(0, "create")} + render to chat:ready ${st(0, "render")}; the same again ${st(1, "create")} + ${st(1, "render")}, and again ${st(2, "create")} + ${st(2, "render")}`);
  console.log(`== the same as a visitor's browser: no DevTools domain enabled in the page (visitor.mjs), median of ${LOADS} cold loads`);
  report(await visitorLoads(server.origin, pages, LOADS));

  // ---- memory -------------------------------------------------------------------------------
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const cdp = await ctx.newCDPSession(page);
  await page.goto(server.origin + "/bench/lab.html");
  await page.waitForFunction(() => window.wasmReady);
  await page.evaluate(() => window.wasmReady.then((w) => { window.wasmMem = w.memory; }));
  const measure = async () => {
    for (let i = 0; i < 3; i++) {
      await cdp.send("HeapProfiler.collectGarbage");
      await page.evaluate(() => new Promise((r) => setTimeout(r, 100))); // let finalizers run
    }
    const { usedSize } = await cdp.send("Runtime.getHeapUsage");
    const wasm = await page.evaluate(() => wasmMem.buffer.byteLength);
    const nodes = await page.evaluate(() => document.getElementsByTagName("*").length);
    return { heap: usedSize, wasm, nodes };
  };
  const cycles = (n) => page.evaluate(async (n) => {
    for (let i = 0; i < n; i++) {
      const c = await loadChat({ serverUrl: "https://chat.example.com", persistence: "none" });
      c.on("view:change", () => {}).on("send", () => {});
      await c.render();
      await c.send("hello");
      c.destroy();
    }
  }, n);
  await page.evaluate(async () => { window.kept = await loadChat({ serverUrl: "https://chat.example.com", persistence: "none" }); await kept.render(); });
  const afterLoad = await measure();
  await page.evaluate(() => { kept.destroy(); window.kept = undefined; });
  await cycles(10);
  const after10 = await measure();
  await cycles(CYCLES);
  const afterN = await measure();
  await cycles(CYCLES);
  const after2N = await measure();
  console.log("== memory (after GC)");
  const row = (label, m) => console.log(`  ${label.padEnd(34)} JS heap ${kb(m.heap).padStart(9)}   wasm memory ${kb(m.wasm).padStart(9)}   DOM elements ${m.nodes}`);
  row("after load + render", afterLoad);
  row("after 10 load/render/destroy", after10);
  row(`after ${CYCLES} more load/render/destroy`, afterN);
  row(`after ${CYCLES} more again`, after2N);

  // ---- bus dispatch rate --------------------------------------------------------------------
  // `_emit` is a test hook: only a widget built with NATTER_WIDGET_FEATURES=test-hooks has it
  const rates = await page.evaluate(async (N) => {
    const chat = await loadChat({ serverUrl: "https://chat.example.com", persistence: "none" });
    if (typeof chat._emit !== "function") { chat.destroy(); return null; }
    let hits = 0;
    chat.on("customEvent", () => { hits++; });
    const et = new EventTarget();
    et.addEventListener("customEvent", () => { hits++; });
    const runNatter = () => { const t = performance.now(); for (let i = 0; i < N; i++) chat._emit("customEvent", { type: "customEvent" }); return N / ((performance.now() - t) / 1000); };
    const runEt = () => { const t = performance.now(); for (let i = 0; i < N; i++) et.dispatchEvent(new CustomEvent("customEvent")); return N / ((performance.now() - t) / 1000); };
    const r = { natter: [], eventTarget: [] };
    for (let round = 0; round < 5; round++) { r.natter.push(runNatter()); r.eventTarget.push(runEt()); }
    chat.destroy();
    return { ...r, hits };
  }, DISPATCHES);
  console.log(`== bus: ${DISPATCHES} dispatches of one event type to one sync handler, 5 rounds (median, best)`);
  if (!rates) console.log("  skipped: pkg/ has no _emit; build it with NATTER_WIDGET_FEATURES=test-hooks scripts/build-widget");
  else for (const k of ["natter", "eventTarget"]) console.log(`  ${k.padEnd(12)} ${(median(rates[k]) / 1e6).toFixed(2)} M/s  (best ${(Math.max(...rates[k]) / 1e6).toFixed(2)} M/s)`);
  if (rates && rates.hits !== 2 * 5 * DISPATCHES) throw new Error(`handler ran ${rates.hits} times`);
  await ctx.close();
} finally {
  await browser.close();
  await server.close();
}
