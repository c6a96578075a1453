// Drops what wasm-bindgen's JS glue carries for uses Natter never has, from each glue file:
// `initSync` (Natter always instantiates asynchronously, from natter.js, embed.js or the IBM
// loaders; natter_wasm.js is not an entry of the package's `exports`), the branch that warns
// about the deprecated positional argument of the init function, and the classic-script
// glue's guess of the .wasm URL from its own script (Natter always passes `{module_or_path}`),
// and NatterChat's `free()` with its `Symbol.dispose` alias (nothing frees a chat by hand:
// `destroy()` ends it, and the finalization registry frees its Rust side once the page lets go
// of it; about 70 B gzip per glue); and it shortens the warning of the fallback for a .wasm not
// served as application/wasm (same fallback, about 50 B gzip less). Fails if the glue no longer
// has the expected shape, so a wasm-bindgen upgrade cannot silently skip it.
// Usage: node scripts/trim-wasm-glue.mjs glue1.js [glue2.js ...]
import { readFileSync, writeFileSync } from "node:fs";

/** `src` without the function starting at `head` (up to its matching closing brace). */
function dropFunction(src, head, file) {
  const start = src.indexOf(head);
  if (start < 0) throw new Error(`${file}: ${head} not found`);
  let depth = 0;
  for (let i = src.indexOf("{", start); i < src.length; i++) {
    if (src[i] === "{") depth++;
    else if (src[i] === "}" && --depth === 0) return src.slice(0, start) + src.slice(i + 1);
  }
  throw new Error(`${file}: unbalanced ${head}`);
}

function replaceOnce(src, from, to, file) {
  const re = typeof from === "string" ? null : from;
  const found = re ? re.test(src) : src.includes(from);
  if (!found) throw new Error(`${file}: expected glue text not found: ${from}`);
  return src.replace(from, to);
}

for (const file of process.argv.slice(2)) {
  let src = readFileSync(file, "utf8");
  src = dropFunction(src, "function initSync(module) {", file);
  src = src.includes("export { initSync, __wbg_init as default };")
    ? src.replace("export { initSync, __wbg_init as default };", "export { __wbg_init as default };")
    : replaceOnce(src, "Object.assign(__wbg_init, { initSync }, exports)", "Object.assign(__wbg_init, exports)", file);
  src = replaceOnce(
    src,
    /if \(module_or_path !== undefined\) \{\s*if \(Object\.getPrototypeOf\(module_or_path\) === Object\.prototype\) \{\s*\(\{module_or_path\} = module_or_path\)\s*\} else \{\s*console\.warn\('using deprecated parameters for the initialization function; pass a single object instead'\)\s*\}\s*\}/,
    "if (module_or_path !== undefined) ({module_or_path} = module_or_path);",
    file,
  );
  if (src.includes("let script_src;")) {
    src = replaceOnce(src, /let script_src;\s*if \(typeof document !== 'undefined' && document\.currentScript !== null\) \{\s*script_src = [^\n]*\n\s*\}/, "", file);
    src = replaceOnce(src, /if \(module_or_path === undefined && script_src !== undefined\) \{\s*module_or_path = [^\n]*\n\s*\}/, "", file);
  }
  src = dropFunction(src, "__destroy_into_raw() {", file);
  src = dropFunction(src, " free() {", file);
  src = replaceOnce(src, /\n\s*if \(Symbol\.dispose\) NatterChat\.prototype\[Symbol\.dispose\] = NatterChat\.prototype\.free;/, "", file);
  src = replaceOnce(
    src,
    /console\.warn\("`WebAssembly\.instantiateStreaming` failed because your server does not serve Wasm with `application\/wasm` MIME type\. Falling back to `WebAssembly\.instantiate` which is slower\. Original error:\\n", e\);/,
    'console.warn("natter: the .wasm is not served as application/wasm, so it compiles after its download (slower):", e);',
    file,
  );
  if (/initSync|deprecated parameters|script_src|__destroy_into_raw|\bfree\(\) \{|Symbol\.dispose/.test(src)) throw new Error(`${file}: initSync, the deprecated-parameter warning or free() is left`);
  writeFileSync(file, src);
}
