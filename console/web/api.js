// The console's only way to the server: the documented /admin/v1 JSON API (docs/console.md),
// with the session cookie (sent by the browser) and the CSRF token on state-changing requests.

let csrf = null;

/** An API failure whose message says what happened and what to do. */
export class ApiError extends Error {
  constructor(message, status, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export async function session() {
  const r = await fetch("/console/session", { credentials: "same-origin" });
  const body = await r.json();
  csrf = body.csrfToken || null;
  return body;
}

async function call(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && csrf) headers["X-CSRF-Token"] = csrf;
  let r;
  try {
    r = await fetch(path, { method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError("Natter is not answering: the server (and with it its database) looks stopped. Start it again and retry.", 0, "unreachable");
  }
  const data = await r.json().catch(() => null);
  if (r.ok) return data;
  const code = data?.error?.code || "http_" + r.status;
  let message = data?.error?.message || `The server answered HTTP ${r.status}.`;
  if (r.status === 401) {
    location.assign("/console/sign-in");
    message = "Your session ended: sign in again.";
  } else if (r.status === 503) {
    message = `The server can't serve this right now: ${message}`;
  } else if (r.status >= 500) {
    message = `The server failed (${code}): see its log. ${message}`;
  }
  throw new ApiError(message, r.status, code);
}

const q = (params) => {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") s.set(k, v);
  const t = s.toString();
  return t ? "?" + t : "";
};
const enc = encodeURIComponent;

export const api = {
  bots: () => call("GET", "/admin/v1/bots"),
  stats: (bot) => call("GET", `/admin/v1/bots/${enc(bot)}/stats`),
  conversations: (params) => call("GET", "/admin/v1/conversations" + q(params)),
  conversation: (id) => call("GET", `/admin/v1/conversations/${enc(id)}`),
  eventsUrl: (id, after) => `/admin/v1/conversations/${enc(id)}/events` + q({ after }),
  actions: (bot) => call("GET", `/admin/v1/bots/${enc(bot)}/actions`),
  action: (bot, name) => call("GET", `/admin/v1/bots/${enc(bot)}/actions/${enc(name)}`),
  testAction: (bot, name, argText, conversationId) =>
    call("POST", `/admin/v1/bots/${enc(bot)}/actions/${enc(name)}/test`, { argText, conversationId: conversationId || undefined }),
  actionRuns: (params) => call("GET", "/admin/v1/action-runs" + q(params)),
  handlers: (bot) => call("GET", `/admin/v1/bots/${enc(bot)}/handlers`),
  handler: (bot, name, eventType) => call("GET", `/admin/v1/bots/${enc(bot)}/handlers/${enc(name)}` + q({ eventType })),
  testHandler: (bot, name, conversationId, eventType) =>
    call("POST", `/admin/v1/bots/${enc(bot)}/handlers/${enc(name)}/test`, { conversationId, eventType }),
  handlerRuns: (bot, limit = 200) => call("GET", "/admin/v1/handler-runs" + q({ bot, limit })),
  signOut: () => call("POST", "/console/sign-out"),
};
