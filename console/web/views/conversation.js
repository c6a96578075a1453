// One conversation: the transcript as the visitor saw it (with buttons, cards and feedback),
// its ids, status, tags, metadata, browser session, timeline, action and handler runs and
// outbox jobs. While open it follows the conversation's live events and reloads on each.
import { api } from "../api.js";
import { h, json, copyButton, badge } from "../dom.js";
import { when, duration, inline } from "../format.js";
import { runDetails } from "./runs.js";

const WHO = { user: "Visitor", assistant: "Bot", agent: "Agent" };

function text(t) {
  return h("p.text", inline(t || "").map(([kind, s]) => (kind === "text" ? s : h(kind, s))));
}

const RASTER = ["image/png", "image/jpeg", "image/gif", "image/webp"];

/** An attachment: the server types it from its bytes and serves only raster images inline. */
function file(f) {
  const label = `${f.name} (${f.type}, ${f.size} bytes)`;
  if (!/^\/v1\//.test(f.url || "")) return h("span.muted.small", label);
  return h("a.file", { href: f.url, target: "_blank", rel: "noopener", download: RASTER.includes(f.type) ? null : f.name },
    RASTER.includes(f.type) ? h("img", { src: f.url, alt: f.name, loading: "lazy" }) : null, h("span.small", label));
}

function item(c) {
  switch (c.response_type) {
    case "text":
      return text(c.text);
    case "option":
      return h("div", c.text ? text(c.text) : null, h("div.options", (c.options || []).map((o) => h("span.option", { title: o.url || o.value }, o.label))));
    case "carousel":
      return h("div", c.text ? text(c.text) : null, h("div.cards-row", (c.cards || []).map((card) =>
        h("div.mcard",
          card.image_url && /^https:\/\//.test(card.image_url) ? h("img", { src: card.image_url, alt: "", loading: "lazy", referrerpolicy: "no-referrer" }) : null,
          h("strong", card.title), card.description ? h("p.small", card.description) : null,
          h("div.options", (card.buttons || []).map((o) => h("span.option", o.label)))))));
    case "file":
      return file(c.file || {});
    default:
      return h("div", h("span.muted.small", `${c.response_type} item`), json(c.user_defined ?? c));
  }
}

function feedbackOf(rows) {
  if (!rows.length) return null;
  const last = rows[rows.length - 1];
  const details = rows.filter((r) => r.interactionType === "details").pop();
  return h("div.feedback", h("span", last.isPositive ? "👍 Helpful" : "👎 Not helpful"),
    details?.categories?.length ? h("span", details.categories.map((c) => h("span.tag", c))) : null,
    details?.text ? h("q", details.text) : null);
}

function transcript(d) {
  const fb = new Map();
  for (const f of d.feedback) fb.set(f.messageId, [...(fb.get(f.messageId) || []), f]);
  return h("section.panel.transcript", h("h2", "Transcript"),
    d.messages.length ? d.messages.map((m) =>
      h(`div.msg.${m.role}`, { dataset: { id: m.id } },
        h("div.who", WHO[m.role] || m.role, h("span.muted.small", " " + when(m.created_at))),
        h("div.bubble", m.content.map(item)),
        feedbackOf(fb.get(m.id) || []))) : h("p.muted", "No messages."));
}

function idRow(label, value) {
  return h("div.idrow", h("span.muted", label), h("code", value), copyButton(value));
}

function timeline(events) {
  return h("ol.timeline", events.map((e) => h("li",
    h("code", e.type), h("span.muted.small", ` #${e.seq} · ${when(e.createdAt)}`),
    h("details", h("summary", "data"), json(e.data)))));
}

function outbox(jobs) {
  if (!jobs.length) return h("p.muted", "No outbox jobs.");
  return h("table.list", h("thead", h("tr", h("th", "Job"), h("th", "Event"), h("th", "Status"), h("th", "Attempts"))),
    h("tbody", jobs.map((j) => h("tr",
      h("td", h("strong", j.kind), " ", j.target, h("div.small.muted", j.id)),
      h("td", j.eventType),
      h("td", badge(j.status), j.lastError ? h("div.small.error", j.lastError) : null),
      h("td", String(j.attempts))))));
}

function build(d) {
  const c = d.conversation;
  return [
    h("div.head",
      h("h1", c.publicId, " ", badge(c.status)),
      h("p", c.subject || h("span.muted", "No subject"), " · ", h("span.muted", `${c.bot} · created ${when(c.createdAt)}`))),
    h("div.cols.detail",
      transcript(d),
      h("div.side",
        h("section.panel", h("h2", "Ids"), idRow("Conversation id", c.id), idRow("Public id", c.publicId),
          h("p.small.muted", "Use either in Run Test of an action or handler.")),
        h("section.panel", h("h2", "Tags"), c.tags.length ? c.tags.map((t) => h("span.tag", { title: t.id }, t.tag)) : h("p.muted", "No tags.")),
        h("section.panel", h("h2", "Metadata"), json(c.metadata)),
        h("section.panel", h("h2", "Browser session"), d.browserSession ? json(d.browserSession) : h("p.muted", "None sent.")),
        h("section.panel", h("h2", `Action runs (${d.actionRuns.length})`), d.actionRuns.length ? d.actionRuns.map((r) => runDetails(r, r.action)) : h("p.muted", "No action ran.")),
        h("section.panel", h("h2", `Handler runs (${d.handlerRuns.length})`), d.handlerRuns.length ? d.handlerRuns.map((r) => runDetails(r, `${r.handler} (${r.eventType})`)) : h("p.muted", "No handler ran.")),
        h("section.panel", h("h2", "Outbox"), outbox(d.outbox)),
        h("section.panel", h("h2", `Timeline (${d.timeline.length} events)`), timeline(d.timeline)))),
  ];
}

export async function render(el, { rest, alive, showError }) {
  const id = rest[0];
  const live = h("span.live", { hidden: true }, "● Live");
  const typing = h("p.typing.muted", { hidden: true }, "The bot is typing…");
  const body = h("div");
  el.append(h("p.crumbs", h("a", { href: "#/conversations" }, "← Conversations"), " ", live), body, typing);
  let d = await api.conversation(id);
  body.replaceChildren(...build(d));
  if (d.conversation.status === "closed") return;

  // Live: any committed event but a streaming delta reloads the detail (debounced).
  let timer = null;
  let stream = null;
  const reload = () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      try {
        d = await api.conversation(id);
        if (!alive()) return;
        const scroll = window.scrollY;
        body.replaceChildren(...build(d));
        window.scrollTo(0, scroll);
        if (d.conversation.status === "closed") stop();
      } catch (err) {
        showError(err);
      }
    }, 150);
  };
  const stop = () => {
    clearTimeout(timer);
    stream?.close();
    live.hidden = true;
    typing.hidden = true;
  };
  stream = new EventSource(api.eventsUrl(d.conversation.id, d.lastSeq));
  stream.onopen = () => (live.hidden = false);
  stream.onerror = () => (live.hidden = true);
  const onEvent = (e) => {
    if (e.type === "message.delta" || e.type === "message.started") {
      typing.hidden = false;
      return;
    }
    if (e.type === "message.completed" || e.type.startsWith("run.")) typing.hidden = true;
    reload();
  };
  for (const t of ["message.created", "message.started", "message.delta", "message.completed", "run.started", "run.completed", "run.failed",
    "thread.handed_off", "thread.closed", "thread.reopened", "thread.event", "action.started", "action.completed",
    "agent.joined", "agent.left", "agent.message", "agent.queue", "agent.typing"]) {
    stream.addEventListener(t, onEvent);
  }
  return stop;
}
