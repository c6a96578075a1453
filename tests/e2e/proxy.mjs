// An HTTP proxy on 127.0.0.1 in front of `natter serve`, for fault tests in the browser: it
// forwards everything (streams included) unless told otherwise. `down` answers 503 to the API;
// `cut()` ends every response it is carrying (open event streams); `hold401` (ms) holds each
// 401 that long (requests refused for an expired token stay in flight a while; `held401`: the
// most held at once — Chromium opens at most 6 HTTP/1.1 connections to one origin, so at most 6
// of a page's requests reach a server at a time, the others wait in the browser);
// `slowUploads` (ms) holds each chunk of a file upload that long;
// `switchTo(origin)` sends every later request
// to another server (a load balancer moving a client to another instance). Each event-stream
// request is logged.
import { createServer, request } from "node:http";

export function startProxy(target) {
  const state = { down: false, hold401: 0, holding: 0, held401: 0, slowUploads: 0, attempts: [], open: new Set(), target };
  const server = createServer((req, res) => {
    if (req.url.includes("/events")) state.attempts.push({ at: Date.now(), down: state.down });
    if (state.down && req.url.startsWith("/v1/")) {
      res.writeHead(503, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { code: "unavailable", message: "proxy down (test)" } }));
      return;
    }
    const up = request(state.target + req.url, { method: req.method, headers: req.headers }, (r) => {
      const pass = () => { res.writeHead(r.statusCode, r.headers); r.pipe(res); };
      if (r.statusCode !== 401 || !state.hold401) return pass();
      state.held401 = Math.max(state.held401, ++state.holding);
      setTimeout(() => { state.holding--; pass(); }, state.hold401);
    });
    up.on("error", () => res.destroy());
    if (state.slowUploads && req.method === "POST" && req.url.includes("/attachments")) {
      // a slow uplink: each chunk of the upload is held a while before it is passed on
      req.on("data", (c) => { up.write(c); req.pause(); setTimeout(() => req.resume(), state.slowUploads); });
      req.on("end", () => up.end());
    } else req.pipe(up);
    state.open.add(res);
    res.on("close", () => { state.open.delete(res); up.destroy(); });
  });
  return new Promise((ok) => server.listen(0, "127.0.0.1", () => ok({
    state,
    origin: `http://127.0.0.1:${server.address().port}`,
    cut() { for (const r of state.open) r.destroy(); },
    goDown() { state.down = true; this.cut(); },
    switchTo(origin) { state.target = origin; this.cut(); },
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }),
  })));
}

/** Opens the e2e chat page through `proxy` in a new context; collects page errors. */
export async function openThrough(browser, proxy, query) {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push("pageerror: " + e.message));
  await page.goto(`${proxy.origin}/chat.html?${query}`);
  await page.waitForFunction(() => window.natterLoaded);
  return { page, ctx, problems };
}
