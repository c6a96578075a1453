/* The attach module's loader (docs/api.md, "Files"). scripts/build-widget puts this file in
 * embed.js and the npm entry (not the IBM loaders).
 *
 * natterFiles(options, load), unless options.attachments is false, asks the server at once,
 * while the wasm loads, what the bot accepts (GET /v1/bots/{bot}), then load() fetches
 * attach.js: it draws the files of the conversation (an agent may send one to any bot's
 * visitor) and, when the bot accepts files, the attach controls. It returns a function to call
 * with the created chat, which hands it to the module when that is there. A failed lookup
 * means no attach module, nothing else.
 */
// eslint-disable-next-line no-unused-vars
function natterFiles(o, load) {
  const m = o && o.attachments !== false && o.bot &&
    fetch((o.serverUrl + "").replace(/\/+$/, "") + "/v1/bots/" + o.bot)
      .then((r) => r.json())
      .then((b) => load().then((x) => (c) => x.default(c, b.attachments, o)))
      .catch(() => {});
  return (c) => m && m.then((f) => f && f(c));
}
