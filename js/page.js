/* The browser session (docs/api.md, "Browser session"): what the widget tells the server about
 * the page. scripts/build-widget puts this file in every loader (embed.js, the IBM loaders, the
 * npm entry), which hands natterPage to NatterChat._create: plain JS reads the page in fewer
 * bytes than the wasm would.
 *
 * natterPage(options) checks options.context (a plain object of JSON values, at most 4096
 * bytes as JSON: it travels in every session, and the server takes sessions up to 8 KB) and
 * returns a function giving the page now, as JSON, with a copy of the context taken now.
 */
// eslint-disable-next-line no-unused-vars
function natterPage(options) {
  var c = options.context, t;
  try {
    t = c == null ? "" : JSON.stringify(c);
  } catch (e) {
    t = null;
  }
  if (c != null && (typeof c != "object" || Array.isArray(c) || !t || t.length > 4096)) {
    throw new TypeError('loadChat: options.context must be a plain object of JSON values, at most 4096 bytes as JSON, e.g. {customerId: "c-42"}');
  }
  c = t ? JSON.parse(t) : undefined;
  return function () {
    var l = location, d = document, n = navigator, s = screen;
    return JSON.stringify({
      url: l.href, title: d.title, referrer: d.referrer, userAgent: n.userAgent, language: n.language,
      timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone, screen: { width: s.width, height: s.height }, context: c,
    });
  };
}
