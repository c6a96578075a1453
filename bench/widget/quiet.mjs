// Waiting for a quiet machine before a timed load. Each cold load opens a fresh browser context,
// and Chromium then keeps the CPUs busy for about a second (the new renderer process starting,
// the previous context's processes going away). A load started inside that second measures the
// driver's own churn as much as the page: on this 2-core box it added 10–19 ms to the blank
// page's load and 14–36 ms more to natter's time over blank. The figures are meant for a quiet
// machine, so each timed load first waits for one.

import { readFileSync } from "node:fs";
import { median } from "./stats.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The waits since the last summary: {ms, calm} (calm false: it gave up at `maxMs`). */
const waits = [];

/** One line on the waits since the last call, for a benchmark's output. */
export function quietSummary() {
  const w = waits.splice(0);
  if (!w.length) return "  no load waited for a quiet machine";
  const ms = w.map((x) => x.ms);
  const loud = w.filter((x) => !x.calm).length;
  return `  each load waited for a quiet machine (CPUs at most 10% busy for 2 x 100 ms): median ${median(ms)} ms, max ${Math.max(...ms)} ms` +
    (loud ? `; ${loud} of ${w.length} loads gave up waiting and ran on a busy machine` : "");
}

/** [busy, total] CPU time of all CPUs since boot, in clock ticks, from /proc/stat. */
function cpuTimes() {
  const n = readFileSync("/proc/stat", "utf8").split("\n", 1)[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = n[3] + (n[4] || 0); // idle + iowait
  const total = n.reduce((a, b) => a + b, 0);
  return [total - idle, total];
}

/**
 * Resolves once the CPUs were at most `busy` (a fraction) used in each of `windows` consecutive
 * windows of `windowMs` (ticks are 10 ms: a 100 ms window on 2 cores is 20 ticks), or after
 * `maxMs` however busy (a box that never calms down still gets measured). Without /proc/stat
 * (not Linux) it waits a fixed second, about what Chromium takes to settle here.
 */
export async function quiet({ busy = 0.1, windowMs = 100, windows = 2, maxMs = 3000 } = {}) {
  const start = Date.now();
  let sample;
  try {
    sample = cpuTimes();
  } catch {
    await sleep(1000);
    waits.push({ ms: Date.now() - start, calm: true });
    return;
  }
  let calm = 0;
  while (calm < windows && Date.now() - start < maxMs) {
    await sleep(windowMs);
    const [b, t] = cpuTimes();
    calm = t > sample[1] && (b - sample[0]) / (t - sample[1]) <= busy ? calm + 1 : 0;
    sample = [b, t];
  }
  waits.push({ ms: Date.now() - start, calm: calm >= windows });
}
