// Chat benchmarks (figures, not tests), in headless Chromium against a real `natter serve`
// (tests/e2e/chat-server.mjs: the test bots, the e2e page, pkg/ at /widget/):
//   scripts/build-widget && cargo build -p natter-server && node bench/widget/chat.mjs
// Prints: the widget's download (gzip/brotli); per-delta main-thread cost of a streamed reply
// with one pre:stream:delta handler at 1k and 22k characters (each delta: stream event in →
// dispatch → render → forced layout, i.e. the worst case of one frame per delta), next to a
// naive `textContent +=` + layout in the same page; long tasks (> 50 ms) while 200 deltas/s
// stream for 5 s; the cost of appending the 10,000th message (render + layout + scroll).
// Stream events enter through `chat._feed(json)`, the function the SSE reader calls per event.
import { startServer } from "../../tests/e2e/chat-server.mjs";
import { launch } from "../../tests/e2e/widget-browser.mjs";
import { sizes } from "./sizes.mjs";

const kb = (n) => (n / 1024).toFixed(1) + " KB";
const rows = sizes("pkg");
const sum = (k, files) => rows.filter((r) => files.includes(r.file)).reduce((t, r) => t + r[k], 0);
const files = ["embed.js", "natter_wasm_bg.wasm"];
console.log("== download (script embed: embed.js + .wasm; CSS is inside the wasm)");
console.log(`  gzip ${kb(sum("gzip", files))}   brotli ${kb(sum("brotli", files))}   raw ${kb(sum("raw", files))}`);

const server = await startServer({ logs: false });
const browser = await launch();
try {
  const page = await browser.newPage({ viewport: { width: 1000, height: 760 } });
  await page.goto(`${server.origin}/chat.html?persistence=none`);
  await page.waitForFunction(() => window.natterLoaded);
  await page.evaluate(async () => { chat.off("*"); await chat.render(); await chat.changeView("mainWindow"); });
  await page.waitForFunction(() => chat.getState().threadId && document.querySelector("[data-natter]").shadowRoot.querySelector("[part=message]"));

  const perDelta = await page.evaluate(() => {
    const tid = chat.getState().threadId;
    let seq = 1e6, handled = 0;
    chat.on("pre:stream:delta", () => { handled++; });
    const msgs = document.querySelector("[data-natter]").shadowRoot.querySelector("[part=messages]");
    const piece = "lorem ipsum dolor ";
    const delta = (mid) => JSON.stringify({ seq: ++seq, threadId: tid, createdAt: "", type: "message.delta", messageId: mid, runId: "run_b", delta: { role: "assistant", content: [{ id: "c0", response_type: "text", text: piece }] } });
    const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[s.length >> 1]; };
    const out = {};
    for (const [label, chars] of [["1k", 1000], ["22k", 22000]]) {
      const mid = "msg_bench_" + label;
      let len = 0;
      while (len < chars) { chat._feed(delta(mid)); len += piece.length; if (len % 2000 < piece.length) chat._flush(); }
      chat._flush(); void msgs.scrollHeight;
      // performance.now() is coarse (100 µs) here: time rounds of 50 deltas, report per delta
      const t = [];
      for (let r = 0; r < 8; r++) {
        const t0 = performance.now();
        for (let i = 0; i < 50; i++) { chat._feed(delta(mid)); chat._flush(); void msgs.scrollHeight; }
        t.push((performance.now() - t0) / 50);
      }
      out[label] = { median: median(t), p95: Math.max(...t) };
      // as streamed at 200 deltas/s: ~4 deltas per frame, one render + layout per frame
      const b = [];
      for (let r = 0; r < 8; r++) {
        const t0 = performance.now();
        for (let i = 0; i < 48; i++) { chat._feed(delta(mid)); if (i % 4 === 3) { chat._flush(); void msgs.scrollHeight; } }
        b.push((performance.now() - t0) / 48);
      }
      out[label + " batched"] = { median: median(b), p95: Math.max(...b) };
    }
    // naive baseline: textContent += and a layout per delta
    const div = document.createElement("div");
    div.style.cssText = "position:fixed;left:0;top:0;width:300px;height:400px;overflow:auto;white-space:pre-wrap";
    document.body.append(div);
    for (const [label, chars] of [["1k", 1000], ["22k", 22000]]) {
      div.textContent = "x".repeat(0);
      while (div.textContent.length < chars) div.textContent += piece;
      const t = [];
      for (let r = 0; r < 8; r++) {
        const t0 = performance.now();
        for (let i = 0; i < 50; i++) { div.textContent += piece; div.scrollTop = div.scrollHeight; }
        t.push((performance.now() - t0) / 50);
      }
      out["naive " + label] = { median: median(t), p95: Math.max(...t) };
    }
    div.remove();
    out.handled = handled;
    return out;
  });
  console.log("== per-delta cost (one pre:stream:delta handler; delta in → dispatch → render → layout), rounds of 50 deltas");
  for (const k of ["1k", "22k", "1k batched", "22k batched", "naive 1k", "naive 22k"]) console.log(`  ${k.padEnd(10)} median ${perDelta[k].median.toFixed(3)} ms   worst round ${perDelta[k].p95.toFixed(3)} ms`);

  const longTasks = await page.evaluate(() => new Promise((done) => {
    const tid = chat.getState().threadId;
    let seq = 2e6;
    const tasks = [];
    new PerformanceObserver((l) => { for (const e of l.getEntries()) tasks.push(e.duration); }).observe({ type: "longtask" });
    const mid = "msg_rate";
    let sent = 0;
    const t0 = performance.now();
    const timer = setInterval(() => {
      // 200 deltas/s: catch up on the schedule (timers are clamped)
      const due = Math.floor((performance.now() - t0) / 5);
      while (sent < due && sent < 1000) {
        chat._feed(JSON.stringify({ seq: ++seq, threadId: tid, createdAt: "", type: "message.delta", messageId: mid, runId: "run_r", delta: { role: "assistant", content: [{ id: "c0", response_type: "text", text: "stream words here " }] } }));
        sent++;
      }
      if (sent >= 1000) { clearInterval(timer); setTimeout(() => done({ tasks, sent, ms: performance.now() - t0 }), 200); }
    }, 4);
  }));
  console.log(`== 200 deltas/s for ${(longTasks.ms / 1000).toFixed(1)} s (${longTasks.sent} deltas, reply grows to ~18k chars): ${longTasks.tasks.length} long tasks > 50 ms${longTasks.tasks.length ? " (max " + Math.max(...longTasks.tasks).toFixed(0) + " ms)" : ""}`);

  const append = await page.evaluate(async () => {
    await chat.restartConversation();
    await new Promise((r) => setTimeout(r, 300));
    const tid = chat.getState().threadId || "thr_x";
    let seq = 3e6;
    const msgs = document.querySelector("[data-natter]").shadowRoot.querySelector("[part=messages]");
    const completed = (i) => JSON.stringify({ seq: ++seq, threadId: tid, createdAt: "", type: "message.completed", runId: null, message: { id: "msg_" + i, role: "assistant", content: [{ id: "c0", response_type: "text", text: "Message number " + i + " with a **little** markdown." }], message_options: {}, created_at: "" } });
    for (let i = 1; i < 10000; i++) chat._feed(completed(i));
    void msgs.scrollHeight;
    const t = [];
    for (let i = 10000; i < 10020; i++) { await new Promise((r) => requestAnimationFrame(r)); const t0 = performance.now(); chat._feed(completed(i)); void msgs.scrollHeight; t.push(performance.now() - t0); }
    const count = msgs.querySelectorAll("[part=message]").length;
    return { first: t[0], median: [...t].sort((a, b) => a - b)[10], count };
  });
  console.log(`== appending the 10,000th message (render + layout + scroll): ${append.first.toFixed(3)} ms (median of 10,000th–10,019th: ${append.median.toFixed(3)} ms; ${append.count} messages in the DOM)`);
  await page.close();
} finally {
  await browser.close();
  await server.kill();
}
