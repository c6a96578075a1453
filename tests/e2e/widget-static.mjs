// A tiny static file server for the widget's browser tests and benchmarks. It mirrors how
// `natter serve` lays things out: pkg/ at /widget/, www/ at /; plus the test fixtures at
// /fixtures/, the widget benchmark pages at /bench/ and node_modules/ (deep-chat) at
// /node_modules/. Every response is `Cache-Control: no-store`, so each page load is cold.
// `serveStatic({widget})` serves another build of the package at /widget/ (a folder, relative to
// the repository or absolute), for comparing two builds side by side.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repo = resolve(fileURLToPath(new URL("../..", import.meta.url)));
const MOUNTS = [
  ["/fixtures/", "tests/e2e/widget-fixtures"],
  ["/bench/", "bench/widget/pages"],
  ["/node_modules/", "node_modules"],
  ["/", "www"],
];
const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".wasm": "application/wasm",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".svg": "image/svg+xml",
};

/** Starts the server on 127.0.0.1 (a free port); resolves to {origin, close()}. */
export function serveStatic({ widget = "pkg" } = {}) {
  const mounts = [["/widget/", widget], ...MOUNTS];
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, "http://x");
    const path = decodeURIComponent(url.pathname);
    // `?delay=ms` holds the response back (fixtures use it to keep the HTML parser blocked)
    const delay = Number(url.searchParams.get("delay")) || 0;
    if (delay) await new Promise((r) => setTimeout(r, Math.min(delay, 5000)));
    const [prefix, dir] = mounts.find(([p]) => path.startsWith(p));
    let rel = normalize(path.slice(prefix.length));
    if (rel.startsWith("..")) return end(res, 403);
    if (rel === "." || rel.endsWith("/")) rel = join(rel, "index.html");
    try {
      const body = await readFile(join(resolve(repo, dir), rel));
      res.writeHead(200, { "content-type": TYPES[extname(rel)] || "application/octet-stream", "cache-control": "no-store" });
      res.end(body);
    } catch {
      end(res, 404);
    }
  });
  return new Promise((ok) =>
    server.listen(0, "127.0.0.1", () =>
      ok({
        origin: `http://127.0.0.1:${server.address().port}`,
        close: () => new Promise((done) => { server.closeAllConnections(); server.close(done); }),
      }),
    ),
  );
}

function end(res, code) {
  res.writeHead(code, { "content-type": "text/plain" });
  res.end(String(code));
}

/**
 * The same server in a process of its own (so a browser driver in this one does not compete
 * with it for the event loop); resolves to {origin, close()}.
 */
export async function serveStaticProcess({ widget = "pkg" } = {}) {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), widget], { stdio: ["ignore", "pipe", "inherit"] });
  const [line] = await once(child.stdout, "data");
  return { origin: String(line).trim(), close: async () => { child.kill(); } };
}

// `node tests/e2e/widget-static.mjs [package folder]` serves until killed and prints its origin.
if (import.meta.url === `file://${process.argv[1]}`) {
  const { origin } = await serveStatic({ widget: process.argv[2] || "pkg" });
  console.log(origin);
}
