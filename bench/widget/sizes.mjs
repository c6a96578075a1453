// Prints raw, gzip (level 9) and brotli (quality 11) bytes of every file in pkg/ a host page
// may download, and the totals of the two ways to load the widget:
//   <script> embed: embed.js (loader + classic glue) + natter_wasm_bg.wasm
//   npm package:    natter.js (ESM entry) + natter_wasm.js (glue) + natter_wasm_bg.wasm
//   IBM loaders:    ibm-wa.js / ibm-wxo.js (loader + classic glue + IBM layer) + natter_wasm_bg.wasm
// and attach.js, the attach module loaded only for bots that accept files (outside the budget).
// The CSS is compiled into the wasm.  Usage: node bench/widget/sizes.mjs [pkg-dir]
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync, brotliCompressSync, constants } from "node:zlib";

export const FILES = ["embed.js", "natter.js", "natter_wasm.js", "natter_wasm_bg.wasm", "ibm-wa.js", "ibm-wxo.js", "attach.js"];
export const PATHS = {
  "script embed": ["embed.js", "natter_wasm_bg.wasm"],
  "npm package": ["natter.js", "natter_wasm.js", "natter_wasm_bg.wasm"],
  // the IBM web chat compatibility loaders (docs/ibm.md); not in the 60 KB budget of the two above
  "IBM classic loader": ["ibm-wa.js", "natter_wasm_bg.wasm"],
  "IBM wxO loader": ["ibm-wxo.js", "natter_wasm_bg.wasm"],
};

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

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = sizes(process.argv[2] || "pkg");
  const kb = (n) => (n / 1024).toFixed(1).padStart(7) + " KB";
  console.log("file                        raw        gzip      brotli   (KB = 1024 bytes)");
  for (const r of [...rows, ...totals(rows)]) console.log(r.file.padEnd(24) + kb(r.raw) + kb(r.gzip) + kb(r.brotli));
}
