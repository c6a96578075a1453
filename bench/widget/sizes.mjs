// Prints raw, gzip (level 9) and brotli (quality 11) bytes of every file in pkg/ a host page
// may download, and the totals of the ways to load the widget:
//   <script> embed: embed.js (loader + classic glue) + natter_wasm_bg.wasm     — in the budget
//   npm package:    natter.js (ESM entry with the glue) + natter_wasm_bg.wasm       — in the budget
//   IBM loaders:    ibm-wa.js / ibm-wxo.js (loader + classic glue + IBM layer) + natter_wasm_bg.wasm
//   attach module:  attach.js, fetched on demand (a bot that takes files, or the first file
//                   item to draw), on top of either budget path
// The CSS is compiled into the wasm. Exits with status 1 when a budget path's gzip total is over
// BUDGET. Usage: node bench/widget/sizes.mjs [pkg-dir]
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync, brotliCompressSync, constants } from "node:zlib";

/** The widget's budget: gzip bytes of each way of loading it a page pays for up front. */
export const BUDGET = 60 * 1024;
export const FILES = ["embed.js", "natter.js", "natter_wasm_bg.wasm", "ibm-wa.js", "ibm-wxo.js", "attach.js"];
export const PATHS = {
  "script embed": ["embed.js", "natter_wasm_bg.wasm"],
  "npm package": ["natter.js", "natter_wasm_bg.wasm"],
  // the IBM web chat compatibility loaders (docs/ibm.md); not in the budget of the two above
  "IBM classic loader": ["ibm-wa.js", "natter_wasm_bg.wasm"],
  "IBM wxO loader": ["ibm-wxo.js", "natter_wasm_bg.wasm"],
};
/** The paths held to BUDGET. */
export const BUDGET_PATHS = ["script embed", "npm package"];
/** Fetched only when needed, on top of a path. */
export const ON_DEMAND = ["attach.js"];

export function sizes(dir = "pkg") {
  return FILES.map((f) => {
    const b = readFileSync(join(dir, f));
    return {
      file: f,
      raw: b.length,
      gzip: gzipSync(b, { level: 9 }).length,
      brotli: brotliCompressSync(b, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
    };
  });
}

/** Totals per way of loading: [{file: "script embed total", raw, gzip, brotli}, …]. */
export function totals(rows) {
  return Object.entries(PATHS).map(([name, files]) =>
    rows
      .filter((r) => files.includes(r.file))
      .reduce((t, r) => ({ file: t.file, raw: t.raw + r.raw, gzip: t.gzip + r.gzip, brotli: t.brotli + r.brotli }), { file: `${name} total`, raw: 0, gzip: 0, brotli: 0 }),
  );
}

/** The budget paths over BUDGET (gzip), as `name: bytes` strings. */
export function over(rows) {
  return totals(rows)
    .filter((t) => BUDGET_PATHS.includes(t.file.replace(/ total$/, "")) && t.gzip > BUDGET)
    .map((t) => `${t.file.replace(/ total$/, "")}: ${t.gzip} B gzip`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = sizes(process.argv[2] || "pkg");
  const kb = (n) => (n / 1024).toFixed(1).padStart(7) + " KB";
  const line = (r, note = "") => console.log(r.file.padEnd(26) + kb(r.raw) + kb(r.gzip) + kb(r.brotli) + String(r.gzip).padStart(9) + "  " + note);
  console.log("file                          raw        gzip      brotli  gzip (B)  (KB = 1024 bytes)");
  for (const r of rows.filter((r) => !ON_DEMAND.includes(r.file))) line(r);
  console.log(`-- budget: ${BUDGET} B gzip per path`);
  const all = totals(rows);
  for (const t of all) {
    const name = t.file.replace(/ total$/, "");
    if (BUDGET_PATHS.includes(name)) line(t, t.gzip > BUDGET ? `OVER by ${t.gzip - BUDGET} B` : `${BUDGET - t.gzip} B left`);
  }
  console.log("-- outside the budget");
  for (const t of all) if (!BUDGET_PATHS.includes(t.file.replace(/ total$/, ""))) line(t);
  for (const r of rows.filter((r) => ON_DEMAND.includes(r.file))) {
    line({ ...r, file: `${r.file} (on demand)` }, "bots that take files, or the first file to draw");
  }
  const bad = over(rows);
  if (bad.length) {
    console.error(`sizes: over the widget's budget of ${BUDGET} B gzip: ${bad.join(", ")}`);
    process.exit(1);
  }
}
