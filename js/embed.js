/* Natter <script> embed: a classic script with no build step on the host page.
 *
 *   <script>window.natterConfig = { serverUrl: "https://chat.example.com", bot: "acme",
 *     onLoad: async (chat) => { chat.on("send", console.log); await chat.render(); } };</script>
 *   <script src="https://chat.example.com/widget/embed.js" async></script>
 *
 * or <script src=".../widget/embed.js" data-server-url="https://chat.example.com" data-bot="acme" async>.
 * It finds its own URL, loads natter.js and the wasm next to it, reads window.natterConfig
 * (data-* attributes fill what it leaves out; serverUrl defaults to this script's origin),
 * waits until the document is parsed, then calls onLoad(chat) — or, without onLoad, renders
 * at once. Failures go to console.error.
 */
(function () {
  var script = document.currentScript || document.querySelector("script[data-natter],script[src*='embed.js']");
  var base = new URL(".", (script && script.src) || location.href);
  var cfg = Object.assign({}, window.natterConfig);
  var data = (script && script.dataset) || {};
  if (cfg.serverUrl === undefined) cfg.serverUrl = data.serverUrl || base.origin;
  if (cfg.bot === undefined && data.bot) cfg.bot = data.bot;
  var link = document.createElement("link");
  link.rel = "modulepreload";
  link.href = new URL("natter_wasm.js", base).href;
  document.head.appendChild(link);
  var wasm = fetch(new URL("natter_wasm_bg.wasm", base));
  wasm.catch(function () {});
  // an async script may run before <body> (or options.element) exists: start downloading now,
  // create the widget once the document is parsed
  var parsed = new Promise(function (done) {
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", done, { once: true });
    else done();
  });
  Promise.all([import(new URL("natter.js", base).href), parsed])
    .then(function (loaded) {
      loaded[0].preload(wasm);
      return loaded[0].loadChat(cfg);
    })
    .then(function (chat) {
      if (typeof cfg.onLoad !== "function") return chat.render();
    })
    .catch(function (e) {
      console.error("natter: the chat widget could not start:", e);
    });
})();
