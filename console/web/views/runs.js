// One logged run (action or handler) as an expandable block: status, duration, arguments,
// result, stdout, stderr, error/traceback, runtime log.
import { h, json, badge } from "../dom.js";
import { when, duration } from "../format.js";

const out = (label, text) => h("div.out", h("h4", label), text ? h("pre", text) : h("p.muted.small", "(empty)"));

export function runBody(r) {
  return h("div.run-body",
    h("p.small", badge(r.status), ` ${duration(r.durationMs)} · ${when(r.createdAt || r.startedAt)} · `, h("code", r.id), r.test ? h("span.tag", "test") : null,
      r.threadId ? [" · conversation ", h("a", { href: `#/conversations/${encodeURIComponent(r.threadId)}` }, h("code", r.threadId))] : null),
    r.args !== undefined ? h("div.out", h("h4", "Arguments"), json(r.args)) : null,
    h("div.out", h("h4", "Result"), json(r.result)),
    out("stdout", r.stdout),
    out("stderr", r.stderr),
    r.error ? h("div.out", h("h4", "Error"), h("pre.error", r.error)) : null,
    r.traceback ? h("div.out", h("h4", "Traceback"), h("pre.error", r.traceback)) : null,
    r.log?.length ? h("details", h("summary", "Runtime log"), h("pre", r.log.join("\n"))) : null);
}

export function runDetails(r, title) {
  return h("details.run", { dataset: { run: r.id, status: r.status } },
    h("summary", badge(r.status), " ", h("strong", title), h("span.muted.small", ` ${duration(r.durationMs)} · ${when(r.createdAt || r.startedAt)}`)),
    runBody(r));
}
