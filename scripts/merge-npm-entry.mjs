// Writes the npm package's entry (natter.js) as one ES module: wasm-bindgen's glue
// (natter_wasm.js), then the given sources (js/page.js, js/files.js, js/natter.js). A page that
// imports the package unbundled (a `<script type="module">`, a CDN) then fetches one script
// beside the .wasm instead of two, one after the other; bundlers see the same exports.
// The glue's own exports become module-scope names (`NatterChat`, `__wbg_init`), which
// js/natter.js uses and exports as it chooses. Fails if the glue no longer has the expected
// shape, so a wasm-bindgen upgrade cannot silently produce a module with duplicate exports.
// Usage: node scripts/merge-npm-entry.mjs glue.js source.js... > natter.js
import { readFileSync } from "node:fs";

const [glueFile, ...sources] = process.argv.slice(2);
let glue = readFileSync(glueFile, "utf8");
for (const [from, to] of [
  ["export class NatterChat {", "class NatterChat {"],
  ["export { __wbg_init as default };", ""],
]) {
  if (glue.split(from).length !== 2) throw new Error(`${glueFile}: expected exactly one ${from}`);
  glue = glue.replace(from, to);
}
const staticImport = /^\s*import\s*[\w{*"']/m; // not `import(` nor `import.meta`
if (/^\s*export\b/m.test(glue) || staticImport.test(glue)) throw new Error(`${glueFile}: an import or export is left in the glue`);
const parts = [glue, ...sources.map((f) => readFileSync(f, "utf8"))];
for (const [i, src] of parts.slice(1).entries()) {
  if (staticImport.test(src)) throw new Error(`${sources[i]}: a static import would fetch another file; the glue is in this module`);
}
process.stdout.write(parts.join("\n"));
