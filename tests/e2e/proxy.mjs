// An HTTP proxy on 127.0.0.1 in front of `natter serve`, for fault tests in the browser: it
// forwards everything (streams included) unless told otherwise. `down` answers 503 to the API;
// `cut()` ends every response it is carrying (open event streams); `gather401` (`{count,
// delay(i)}`) holds every 401 until `count` of them are held — that many requests were refused
// while all in flight at once — then lets the i-th through after `delay(i)` ms (some while the
// token refresh runs, some after it has finished); `slowUploads` (ms) holds each chunk of a
// file upload that long; `switchTo(origin)` sends every later request to another server (a
// load balancer moving a client to another instance). Each event-stream request is logged.
// `{h2: true}`: HTTP/2 over TLS (a throwaway self-signed certificate: open pages with
// `openThrough`, whose context ignores certificate errors). Chromium opens at most 6 HTTP/1.1
// connections to one origin, so only over HTTP/2 do more than 6 of a page's requests reach
// the server at once, as behind a production front end.
import { createServer, request } from "node:http";
import { createSecureServer } from "node:http2";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// Headers of one connection, not of the request: HTTP/2 forbids them.
const HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "host"]);
const forH2 = (headers) => Object.fromEntries(Object.entries(headers).filter(([k]) => !k.startsWith(":") && !HOP.has(k)));
// An HTTP/2 request's headers as HTTP/1.1 ones: `:authority` is the Host (natter compares the
// Origin of a request with it).
const fromH2 = (headers) => ({ ...forH2(headers), host: headers[":authority"] || headers.host });

/** A self-signed certificate for 127.0.0.1 (openssl, as Debian ships it). */
function selfSigned() {
  const dir = mkdtempSync(join(tmpdir(), "natter-e2e-tls-"));
  try {
    execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
      "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")], { stdio: "ignore" });
    return { key: readFileSync(join(dir, "key.pem")), cert: readFileSync(join(dir, "cert.pem")) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function startProxy(target, { h2 = false } = {}) {
  const state = { down: false, gather401: null, held401: 0, slowUploads: 0, attempts: [], open: new Set(), target };
  const kill = (res) => (res.stream || res).destroy();
  const handle = (req, res) => {
    if (req.url.includes("/events")) state.attempts.push({ at: Date.now(), down: state.down });
    if (state.down && req.url.startsWith("/v1/")) {
      res.writeHead(503, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { code: "unavailable", message: "proxy down (test)" } }));
      return;
    }
    const headers = h2 ? fromH2(req.headers) : req.headers;
    const up = request(state.target + req.url, { method: req.method, headers }, (r) => {
      const pass = () => { res.writeHead(r.statusCode, h2 ? forH2(r.headers) : r.headers); r.pipe(res); };
      const g = state.gather401;
      if (r.statusCode !== 401 || !g) return pass();
      g.held = [...(g.held || []), pass];
      state.held401 = Math.max(state.held401, g.held.length);
      if (g.held.length < g.count) return;
      state.gather401 = null;
      g.held.forEach((p, i) => setTimeout(p, g.delay(i)));
    });
    up.on("error", () => kill(res));
    if (state.slowUploads && req.method === "POST" && req.url.includes("/attachments")) {
      // a slow uplink: each chunk of the upload is held a while before it is passed on
      req.on("data", (c) => { up.write(c); req.pause(); setTimeout(() => req.resume(), state.slowUploads); });
      req.on("end", () => up.end());
    } else req.pipe(up);
    state.open.add(res);
    res.on("close", () => { state.open.delete(res); up.destroy(); });
  };
  const server = h2 ? createSecureServer({ ...selfSigned(), allowHTTP1: true }, handle) : createServer(handle);
  const sockets = new Set();
  server.on(h2 ? "secureConnection" : "connection", (s) => { sockets.add(s); s.on("close", () => sockets.delete(s)); });
  return new Promise((ok) => server.listen(0, "127.0.0.1", () => ok({
    state,
    origin: `${h2 ? "https" : "http"}://127.0.0.1:${server.address().port}`,
    cut() { for (const r of state.open) kill(r); },
    goDown() { state.down = true; this.cut(); },
    switchTo(origin) { state.target = origin; this.cut(); },
    close: () => new Promise((r) => { for (const s of sockets) s.destroy(); server.close(r); }),
  })));
}

/** Opens the e2e chat page through `proxy` in a new context; collects page errors. */
export async function openThrough(browser, proxy, query) {
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await ctx.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push("pageerror: " + e.message));
  await page.goto(`${proxy.origin}/chat.html?${query}`);
  await page.waitForFunction(() => window.natterLoaded);
  return { page, ctx, problems };
}
