/* Natter <script> embed: a classic script with no build step on the host page.
 *
 *   <script>window.natterConfig = { serverUrl: "https://chat.example.com", bot: "acme",
 *     onLoad: async (chat) => { chat.on("send", console.log); await chat.render(); } };</script>
 *   <script src="https://chat.example.com/widget/embed.js" async></script>
 *
 * or <script src=".../widget/embed.js" data-server-url="https://chat.example.com" data-bot="acme" async>.
 *
 * scripts/build-widget wraps this file, together with wasm-bindgen's classic-script glue
 * (`--target no-modules`) and js/boot.js (natterStart), in one function scope: the host page
 * gets no globals, and the page loads two files (this one and the .wasm) instead of four.
 *
 * It finds its own URL, fetches natter_wasm_bg.wasm next to it, reads window.natterConfig
 * (data-* attributes fill what it leaves out; serverUrl defaults to this script's origin),
 * waits until the document is parsed, then calls onLoad(chat) — or, without onLoad, renders
 * at once. Meanwhile js/files.js asks what the bot accepts; attach.js, from the same folder,
 * is fetched only when needed (the bot takes files, or a file is to be drawn). Failures go to console.error. (What loadChat does is the same as in natter.js.)
 */
/* global natterStart, natterPage, natterFiles */
var script = document.currentScript || document.querySelector("script[data-natter],script[src*='embed.js']");
var base = new URL(".", (script && script.src) || location.href);
var cfg = Object.assign({}, window.natterConfig);
var data = (script && script.dataset) || {};
if (cfg.serverUrl === undefined) cfg.serverUrl = data.serverUrl || base.origin;
if (cfg.bot === undefined && data.bot) cfg.bot = data.bot;
var files = natterFiles(cfg, function () {
  return import(base + "attach.js");
});
natterStart(base)
  .then(function (NatterChat) {
    var page = natterPage(cfg);
    var chat = NatterChat._create(cfg);
    chat._attach(chat, page);
    files(chat);
    return typeof cfg.onLoad === "function" ? cfg.onLoad(chat) : chat.render();
  })
  .catch(function (e) {
    console.error("natter: the chat widget could not start:", e);
  });
