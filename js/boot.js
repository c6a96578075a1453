/* Shared start-up of the classic-script loaders (embed.js and the IBM compatibility loaders in
 * js/ibm/). scripts/build-widget puts this file after wasm-bindgen's classic-script glue
 * (`--target no-modules`, which defines `wasm_bindgen`) and before the loader, all in one
 * function scope, so nothing here becomes a global of the host page.
 *
 * natterStart(wasmBase) starts fetching natter_wasm_bg.wasm from that folder at once and
 * resolves to the NatterChat class once the wasm is compiled and the document is parsed (an
 * async script may run before <body>, or before an `element` the page names, exists).
 */
/* global wasm_bindgen */
// eslint-disable-next-line no-unused-vars
function natterStart(wasmBase) {
  var parsed = new Promise(function (done) {
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", done, { once: true });
    else done();
  });
  return Promise.all([wasm_bindgen({ module_or_path: new URL("natter_wasm_bg.wasm", wasmBase) }), parsed]).then(function () {
    return wasm_bindgen.NatterChat;
  });
}
