// Two builds of the widget side by side, as a visitor's browser: `node bench/widget/ab.mjs
// <package folder A> <package folder B> [--rounds 60] [--pages natter,natter-npm]`.
//
// Each folder is served at /widget/ by a static server of its own (tests/e2e/widget-static.mjs,
// in its own process) with the same bench pages; every round loads the blank page and each page
// from both builds, each in a fresh browser context started on a quiet machine (visitor.mjs,
// quiet.mjs), the order rotated from round to round. Prints, per page and build, the median over
// the blank load of the same round: on a busy box a difference of a few ms needs many rounds (60
// rounds here still spread ±5 ms).
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { serveStaticProcess } from "../../tests/e2e/widget-static.mjs";
import { quietSummary } from "./quiet.mjs";
import { median, pairedMedian } from "./stats.mjs";
import { visitorLoads } from "./visitor.mjs";

const args = process.argv.slice(2);
const flag = (name, def) => {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return def;
  const [, value] = args.splice(i, 2);
  return value;
};
const rounds = Number(flag("rounds", "60"));
const pages = flag("pages", "natter,natter-npm").split(",");
const builds = args.map((d) => resolve(d));
const usage = "usage: node bench/widget/ab.mjs <package folder A> <package folder B> [--rounds N] [--pages natter,natter-npm]";
if (builds.length !== 2 || !Number.isInteger(rounds) || rounds < 1) {
  console.error(usage);
  process.exit(1);
}
for (const d of builds) {
  if (!existsSync(resolve(d, "embed.js")) || !existsSync(resolve(d, "natter_wasm_bg.wasm"))) {
    console.error(`ab: ${d} is not a widget package (no embed.js or natter_wasm_bg.wasm): build one with scripts/build-widget (NATTER_PKG_OUT=<folder>)`);
    process.exit(1);
  }
}
for (const p of pages) {
  if (!existsSync(new URL(`pages/${p}.html`, import.meta.url))) {
    console.error(`ab: no bench page ${p} (bench/widget/pages/${p}.html)\n${usage}`);
    process.exit(1);
  }
}

const servers = await Promise.all(builds.map((widget) => serveStaticProcess({ widget })));
try {
  const urls = { blank: `${servers[0].origin}/bench/blank.html` };
  for (const p of pages) for (const [i, s] of servers.entries()) urls[`${p} ${"AB"[i]}`] = `${s.origin}/bench/${p}.html`;
  const times = await visitorLoads("", urls, rounds, { rotate: true });
  const signed = (x) => (x < 0 ? "−" : "+") + Math.abs(x).toFixed(1);
  console.log(`A = ${builds[0]}\nB = ${builds[1]}\n${rounds} rounds, paired medians over the blank load of the same round (blank ${median(times.blank).toFixed(1)} ms):`);
  console.log(quietSummary());
  for (const p of pages) {
    const [a, b] = ["A", "B"].map((k) => pairedMedian(times, `${p} ${k}`, "blank"));
    console.log(`  ${p.padEnd(14)} A ${signed(a)} ms   B ${signed(b)} ms   B − A ${signed(b - a)} ms`);
  }
} finally {
  for (const s of servers) await s.close();
}
