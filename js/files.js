/* The attach module's loader (docs/api.md, "Files"). scripts/build-widget puts this file in
 * embed.js and the npm entry (not the IBM loaders).
 *
 * natterFiles(options, load), unless options.attachments is false, asks the server at once,
 * while the wasm loads, what the bot accepts (GET /v1/bots/{bot}). It returns a function to
 * call with the created chat. load() fetches attach.js only when it is needed: the bot accepts
 * files (the attach controls), or a file must be drawn (an agent's file to a bot that takes
 * none, a history with files). Until the module is there, the `userDefinedResponse` and
 * `pre:threadLoaded` events that carry files are kept and handed to it with the chat, so it
 * draws each once; from then on its own handlers draw them. A failed lookup only means no
 * attach controls.
 */
// eslint-disable-next-line no-unused-vars
function natterFiles(o, load) {
  let kept = [], loading;
  const info = o && o.attachments !== false && o.bot &&
    fetch((o.serverUrl + "").replace(/\/+$/, "") + "/v1/bots/" + o.bot)
      .then((r) => r.json())
      .then((b) => b.attachments, () => {});
  // `kept = 0` once the module has them: its own handlers take over
  const start = (c) => (loading ||= info.then((a) => load().then((m) => m.default(c, a, o, kept, (kept = 0)))));
  return (c) => {
    if (info) {
      info.then((a) => a && start(c));
      c.on("userDefinedResponse", keep);
      c.on("pre:threadLoaded", keep);
      // the old conversation's bubbles are gone: its kept files must not land on the new one's
      c.on("restartConversation", () => kept && (kept.length = 0));
    }
    // a file item's JSON: `"file":{`; in a message's text the quotes are escaped (\")
    function keep(e) {
      if (kept && /"file":{/.test(JSON.stringify(e.contentItem || e.messages))) {
        kept.push(e);
        start(c);
      }
    }
  };
}
