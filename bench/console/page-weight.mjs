// The console's first-screen page weight: the app page plus every file it loads before it can
// show the overview (its stylesheet and the ES modules reachable by static imports from
// app.js), each gzipped on its own as the server sends them (level 6, like tower-http's
// default), and the API answers the overview needs are left out. Beside it, in the same run,
// the sign-in page and the widget's script embed (pkg/embed.js + wasm) for scale.
// Run: node bench/console/page-weight.mjs
import { readFileSync, existsSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { join, resolve, dirname } from "node:path";

const web = resolve(new URL("../../console/web", import.meta.url).pathname);
const root = resolve(web, "../..");
const gz = (buf) => gzipSync(buf, { level: 6 }).length;

/** The page's stylesheet and module scripts, then every static import, transitively. */
function firstScreen(page) {
  const html = readFileSync(join(web, page), "utf8");
  const files = new Set([page]);
  const queue = [...html.matchAll(/(?:href|src)="\/console\/([^"]+)"/g)].map((m) => m[1]);
  while (queue.length) {
    const f = queue.shift();
    if (files.has(f)) continue;
    files.add(f);
    if (f.endsWith(".js")) {
      const src = readFileSync(join(web, f), "utf8");
      for (const m of src.matchAll(/^import[^"']*["'](\.[^"']+)["']/gm)) queue.push(join(dirname(f), m[1]).replace(/^\.\//, ""));
    }
  }
  return [...files];
}

function weigh(label, files, dir = web) {
  let raw = 0, zipped = 0;
  for (const f of files) {
    const b = readFileSync(join(dir, f));
    raw += b.length;
    zipped += gz(b);
  }
  console.log(`${label.padEnd(40)} ${String(files.length).padStart(5)} ${(raw / 1024).toFixed(1).padStart(9)} ${(zipped / 1024).toFixed(1).padStart(9)}`);
  return zipped;
}

console.log(`${"what".padEnd(40)} ${"files".padStart(5)} ${"raw KB".padStart(9)} ${"gzip KB".padStart(9)}`);
const app = weigh("console first screen (/console/)", firstScreen("index.html"));
weigh("console sign-in page", firstScreen("sign-in.html"));
if (existsSync(join(root, "pkg/embed.js"))) weigh("widget script embed (for scale)", ["embed.js", "natter_wasm_bg.wasm"], join(root, "pkg"));
console.log(`\naim: first screen <= 100 KB gzip: ${app / 1024 <= 100 ? "met" : "NOT met"} (${(app / 1024).toFixed(1)} KB)`);
