// natter-chat — the ES module entry of the npm package (package.json "exports").
//
//   import { loadChat } from "natter-chat";
//   const chat = await loadChat({ serverUrl: "https://chat.example.com", bot: "acme" });
//   await chat.render();
//
// The widget itself is Rust compiled to WebAssembly (natter_wasm_bg.wasm, loaded next to this
// file); this module only starts it. See natter.d.ts and docs/api.md for the API.
// scripts/build-widget puts wasm-bindgen's glue first in this module: `NatterChat` and
// `__wbg_init` (which fetches, compiles and instantiates the .wasm) are its names.

let ready;

/**
 * Starts fetching and compiling the wasm; idempotent. `source` (a URL, Response or a promise
 * of one) lets the `<script>` loader hand over a fetch it started early.
 */
export function preload(source) {
  ready ||= __wbg_init({ module_or_path: source || new URL("natter_wasm_bg.wasm", import.meta.url) }).catch((e) => {
    ready = undefined;
    throw e;
  });
  return ready;
}

/**
 * Creates a chat widget (not yet rendered: call `render()`, or do it in `options.onLoad`).
 * Rejects with a TypeError naming the problem when the options are wrong.
 */
export async function loadChat(options) {
  // js/files.js, put first by scripts/build-widget: the attach module, loaded when needed
  const files = natterFiles(options, () => import("./attach.js"));
  await preload();
  const page = natterPage(options); // js/page.js, put first by scripts/build-widget
  const chat = NatterChat._create(options);
  chat._attach(chat, page);
  files(chat);
  if (typeof options.onLoad === "function") await options.onLoad(chat);
  return chat;
}

export { NatterChat };
