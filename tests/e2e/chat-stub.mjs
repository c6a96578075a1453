// A minimal stand-in for a Natter server, for pages whose widget points at an unreachable
// serverUrl (https://chat.example.com): Playwright answers the widget's requests so sends are
// acknowledged (the widget fires `send` only after the server's 202). Used by the foundation's
// widget-api tests and bench/widget; the chat-*.test.mjs tests use a real `natter serve`.
const cors = { "access-control-allow-origin": "*", "access-control-allow-headers": "authorization, content-type, last-event-id", "access-control-allow-methods": "GET, POST, OPTIONS" };

export async function stubServer(target, origin = "https://chat.example.com") {
  let n = 0;
  await target.route(origin + "/**", (route) => {
    const req = route.request();
    const url = new URL(req.url());
    const json = (status, body) => route.fulfill({ status, headers: { ...cors, "content-type": "application/json" }, body: JSON.stringify(body) });
    if (req.method() === "OPTIONS") return route.fulfill({ status: 204, headers: cors });
    if (req.method() === "POST" && url.pathname.endsWith("/threads")) return json(201, { threadId: "thr_stub" + ++n, publicId: "STUB" });
    if (req.method() === "POST" && url.pathname.endsWith("/messages")) return json(202, { messageId: "msg_stub" + ++n, runId: null });
    if (req.method() === "GET" && url.pathname.endsWith("/messages")) return json(200, { messages: [], status: "open", lastSeq: 0 });
    if (url.pathname.endsWith("/events")) return route.fulfill({ status: 200, headers: { ...cors, "content-type": "text/event-stream" }, body: "retry: 2000\n\n" });
    return json(200, {});
  });
}
