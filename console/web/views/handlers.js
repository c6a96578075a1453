// Event handlers of the selected bot, by event type: the list, then one handler's code, its
// Run Test (a conversation id; the event type is passed as context["args"]["event_type"], as
// `natter handler test`) and its recent runs.
import { api } from "../api.js";
import { h } from "../dom.js";
import { runBody, runDetails } from "./runs.js";

const EVENTS = ["conversation_closed", "conversation_handed_off"];

export async function render(el, { bot, rest, alive, go }) {
  if (!bot) return void el.append(h("p.muted", "This server has no bots."));
  const { handlers } = await api.handlers(bot);
  if (!rest.length) {
    el.append(h("h1", "Event handlers"), h("p.muted", `Python run when a conversation of ${bot} is closed or handed off (bots/${bot}/handlers/<event>/).`),
      ...EVENTS.map((ev) => h("section.panel", h("h2", ev),
        handlers.filter((x) => x.eventType === ev).length
          ? h("ul.plain", handlers.filter((x) => x.eventType === ev).map((x) => h("li", h("a", { href: `#/handlers/${ev}/${encodeURIComponent(x.name)}` }, x.name), h("span.muted.small", " " + x.file))))
          : h("p.muted", "No handler for this event."))));
    return;
  }
  // `#/handlers/<name>` (from the overview) or `#/handlers/<event>/<name>`.
  const [event, name] = rest.length > 1 ? rest : [handlers.find((x) => x.name === rest[0])?.eventType, rest[0]];
  const def = await api.handler(bot, name, event);
  const result = h("div.result", { "aria-live": "polite" });
  const runs = h("div.runs");
  const form = h("form.panel.test", h("h2", "Run Test"),
    h("div.field", h("label", { for: "conversation" }, "Conversation id or public id"),
      h("input", { id: "conversation", name: "conversationId", required: true, placeholder: "copied from a conversation's detail" })),
    h("div.field", h("label", { for: "event" }, "Event type (context[\"args\"][\"event_type\"])"),
      h("select", { id: "event", name: "eventType" }, EVENTS.map((ev) => h("option", { value: ev, selected: ev === def.eventType }, ev)))),
    h("p.small.muted", "Runs the handler against the conversation without the event firing: nothing is queued, hand-offs are skipped."),
    h("button", { type: "submit" }, "Run Test"), result);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    result.replaceChildren(h("p.muted", "Running…"));
    try {
      const run = await api.testHandler(bot, name, form.elements.conversationId.value.trim(), form.elements.eventType.value);
      result.replaceChildren(h("h3", "Result of this run"), runBody(run));
      loadRuns();
    } catch (err) {
      result.replaceChildren(h("p.error", err.message));
    } finally {
      button.disabled = false;
    }
  });
  const loadRuns = async () => {
    const { runs: list } = await api.handlerRuns(bot);
    if (!alive()) return;
    const mine = list.filter((r) => r.handler === name).slice(0, 20);
    runs.replaceChildren(...(mine.length ? mine.map((r) => runDetails(r, `${r.test ? "Test run" : "Run"} · ${r.eventType}`)) : [h("p.muted", "No runs yet.")]));
  };
  el.append(h("p.crumbs", h("a", { href: "#/handlers" }, "← Event handlers")),
    h("h1", def.name, " ", h("span.kind", def.eventType)),
    h("div.cols", form,
      h("section.panel", h("h2", "Code (read-only)"),
        h("p.small.note", `The bot's folder is the source of truth: edit ${def.file} there and restart natter.`),
        h("pre.code", def.code ?? "(the file can't be read)"))),
    h("section.panel", h("h2", "Recent runs"), runs));
  await loadRuns();
}
