// Shortens the hash-bearing import/export names wasm-bindgen generates
// (`__wbg_requestAnimationFrame_5cb9c68f60fa1876`, `..._invoke__h0123456789abcdef`) and the
// import module name (`./natter_bg.js`) in a .wasm and, identically, in its JS glue files.
// The hashes are random hex, so gzip cannot shrink them; every one is shipped twice (wasm + JS).
// Usage: node scripts/shorten-wasm-names.mjs file.wasm glue1.js [glue2.js ...]
import { readFileSync, writeFileSync } from "node:fs";

const [wasmPath, ...jsPaths] = process.argv.slice(2);
const b = readFileSync(wasmPath);
const dec = new TextDecoder();
const enc = new TextEncoder();

let p = 8;
const leb = () => {
  let r = 0, s = 0, x;
  do { x = b[p++]; r |= (x & 127) << s; s += 7; } while (x & 128);
  return r >>> 0;
};
const lebOut = (n) => {
  const out = [];
  do { let x = n & 127; n >>>= 7; if (n) x |= 128; out.push(x); } while (n);
  return out;
};
const str = () => { const n = leb(); const s = dec.decode(b.subarray(p, p + n)); p += n; return s; };
const strOut = (s) => { const e = enc.encode(s); return [...lebOut(e.length), ...e]; };

const hashed = /[0-9a-f]{16}/; // wasm-bindgen shims and closure invokers carry crate/symbol hashes
const map = new Map(); // old name -> new name
const short = (name) => {
  if (!hashed.test(name)) return name;
  if (!map.has(name)) map.set(name, "w$" + map.size.toString(36));
  return map.get(name);
};
let MODULE = null; // wasm-bindgen's "./<out-name>_bg.js"
const NEW_MODULE = "w";

const parts = [b.subarray(0, 8)];
while (p < b.length) {
  const id = b[p++];
  const size = leb();
  const start = p, end = p + size;
  if (id === 2 || id === 7) {
    const out = [];
    const n = leb();
    out.push(...lebOut(n));
    for (let i = 0; i < n; i++) {
      if (id === 2) {
        let mod = str();
        if (/^\.\/.*_bg\.js$/.test(mod)) {
          if (MODULE !== null && MODULE !== mod) throw new Error("two glue modules: " + mod);
          MODULE = mod;
          mod = NEW_MODULE;
        }
        out.push(...strOut(mod), ...strOut(short(str())));
        const kind = b[p++];
        out.push(kind);
        const descStart = p;
        if (kind === 0) leb();                       // func: type index
        else if (kind === 1) { p++; const f = leb(); leb(); if (f & 1) leb(); } // table
        else if (kind === 2) { const f = leb(); leb(); if (f & 1) leb(); }     // memory
        else if (kind === 3) { p++; p++; }           // global: valtype, mut
        else if (kind === 4) { p++; leb(); }         // tag
        else throw new Error("unknown import kind " + kind);
        out.push(...b.subarray(descStart, p));
      } else {
        out.push(...strOut(short(str())));
        out.push(b[p++]);
        const descStart = p;
        leb();
        out.push(...b.subarray(descStart, p));
      }
    }
    if (p !== end) throw new Error("section parse mismatch");
    parts.push(Uint8Array.of(id, ...lebOut(out.length)), Uint8Array.from(out));
  } else {
    parts.push(b.subarray(start - 1 - lebOut(size).length, end));
  }
  p = end;
}
writeFileSync(wasmPath, Buffer.concat(parts));

const esc = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
for (const js of jsPaths) {
  let src = readFileSync(js, "utf8");
  for (const [from, to] of map) {
    const re = new RegExp(`(?<![\\w$])${esc(from)}(?![\\w$])`, "g");
    src = src.replace(re, to);
  }
  const modRe = new RegExp(`(["'])${esc(MODULE)}\\1`, "g");
  if (!modRe.test(src)) throw new Error(`${js}: import module ${MODULE} not found`);
  src = src.replace(modRe, `"${NEW_MODULE}"`);
  if (/__wbg_[A-Za-z0-9_]*_[0-9a-f]{16}(?![\w$])/.test(src)) throw new Error(`${js}: a hashed name is left`);
  writeFileSync(js, src);
}
