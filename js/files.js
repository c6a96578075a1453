/* The attach module's loader (docs/api.md, "Files"). scripts/build-widget puts this file in
 * embed.js and the npm entry (not the IBM loaders).
 *
 * natterFiles(options, load), unless options.attachments is false (the wasm checks that it is
 * a boolean), asks the server at once, while the wasm loads, whether the bot accepts files
 * (GET /v1/bots/{bot}); only then does load() fetch attach.js. It returns a function to call
 * with the created chat, which hands it to the module when (and if) that is there. A failed
 * lookup means no attach control, nothing else.
 */
// eslint-disable-next-line no-unused-vars
function natterFiles(o, load) {
  const m = o && o.attachments !== false && o.bot &&
    fetch((o.serverUrl + "").replace(/\/+$/, "") + "/v1/bots/" + o.bot)
      .then((r) => r.json())
      .then((b) => b.attachments && load().then((x) => (c) => x.default(c, b.attachments, o)))
      .catch(() => {});
  return (c) => m && m.then((f) => f && f(c));
}
