// Prints raw, gzip (level 9) and brotli (quality 11) bytes of the files a host page downloads
// for the widget, and their total.  Usage: node bench/widget/sizes.mjs [pkg-dir]
// The files: embed.js (the <script> loader), natter.js (ESM entry), natter_wasm.js (wasm-bindgen
// glue), natter_wasm_bg.wasm (widget + its CSS, which is compiled in).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync, brotliCompressSync, constants } from "node:zlib";

const dir = process.argv[2] || "pkg";
export const FILES = ["embed.js", "natter.js", "natter_wasm.js", "natter_wasm_bg.wasm"];

export function sizes(d = dir) {
  return FILES.map((f) => {
    const b = readFileSync(join(d, f));
    return {
      file: f,
      raw: b.length,
      gzip: gzipSync(b, { level: 9 }).length,
      brotli: brotliCompressSync(b, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
    };
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = sizes();
  const total = rows.reduce((t, r) => ({ file: "total", raw: t.raw + r.raw, gzip: t.gzip + r.gzip, brotli: t.brotli + r.brotli }), { raw: 0, gzip: 0, brotli: 0 });
  const kb = (n) => (n / 1024).toFixed(1).padStart(7) + " KB";
  console.log("file                      raw        gzip      brotli");
  for (const r of [...rows, total]) console.log(r.file.padEnd(22) + kb(r.raw) + kb(r.gzip) + kb(r.brotli));
}
