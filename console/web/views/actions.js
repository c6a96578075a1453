// Actions of the selected bot: the list, then one action's read-only definition, its Run Test
// form (one field per argument; an optional conversation id or public id) and its recent runs.
// Run Test is POST /admin/v1/bots/{bot}/actions/{action}/test with `argText`: the same code
// path and type conversion as `natter action test --arg name=value`.
import { api } from "../api.js";
import { h } from "../dom.js";
import { runBody, runDetails } from "./runs.js";

function list(el, bot, actions) {
  el.append(h("h1", "Actions"),
    h("p.muted", `The actions of ${bot}, defined in its folder (bots/${bot}/actions/).`),
    actions.length ? h("div.cards", actions.map((a) => h("a.card.link", { href: `#/actions/${encodeURIComponent(a.name)}` },
      h("h2", a.name, " ", h(`span.kind.k-${a.kind}`, a.kind.toUpperCase())),
      h("p.small", a.description),
      h("p.small.muted", a.args.length ? "Arguments: " + a.args.map((x) => `${x.name}: ${x.type}`).join(", ") : "No arguments"),
      h("p.small.muted", a.workflows.length ? "Workflows: " + a.workflows.join(", ") : "Enabled in no workflow")))) : h("p.muted", "This bot has no actions."));
}

export async function render(el, { bot, rest, alive }) {
  if (!bot) return void el.append(h("p.muted", "This server has no bots."));
  if (!rest.length) return list(el, bot, (await api.actions(bot)).actions);
  const name = rest[0];
  const a = await api.action(bot, name);
  const result = h("div.result", { "aria-live": "polite" });
  const runs = h("div.runs");
  const fields = a.args.map((x) => h("div.field",
    h("label", { for: `arg-${x.name}` }, h("code", "$" + x.name), ` ${x.type}${x.required ? "" : " (optional)"}`),
    h("input", { id: `arg-${x.name}`, name: x.name, required: x.required, placeholder: x.type === "string" ? "" : `JSON ${x.type}` }),
    x.description ? h("p.small.muted", x.description) : null));
  const form = h("form.panel.test",
    h("h2", "Run Test"),
    fields.length ? fields : h("p.muted.small", "This action takes no arguments."),
    h("div.field", h("label", { for: "conversation" }, "Conversation id or public id (optional)"),
      h("input", { id: "conversation", name: "conversationId", placeholder: "e.g. copied from a conversation's detail" }),
      h("p.small.muted", a.kind === "python" ? "Fills context[\"conversation\"]; without it, it is None." : "Gives the run its conversation (for $secret arguments and the run log).")),
    h("button", { type: "submit" }, "Run Test"),
    result);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    result.replaceChildren(h("p.muted", "Running…"));
    const argText = {};
    for (const x of a.args) {
      const v = form.elements[x.name].value;
      if (v !== "" || x.required) argText[x.name] = v;
    }
    try {
      const { run } = await api.testAction(bot, name, argText, form.elements.conversationId.value.trim());
      result.replaceChildren(h("h3", "Result of this run"), runBody(run));
      loadRuns();
    } catch (err) {
      result.replaceChildren(h("p.error", err.message));
    } finally {
      button.disabled = false;
    }
  });
  const loadRuns = async () => {
    const { runs: list } = await api.actionRuns({ bot, action: name, limit: 20 });
    if (!alive()) return;
    runs.replaceChildren(...(list.length ? list.map((r) => runDetails(r, r.test ? "Test run" : "Run")) : [h("p.muted", "No runs yet.")]));
  };
  el.append(
    h("p.crumbs", h("a", { href: "#/actions" }, "← Actions")),
    h("h1", a.name, " ", h(`span.kind.k-${a.kind}`, a.kind.toUpperCase())),
    h("p", a.description),
    h("div.cols",
      form,
      h("section.panel", h("h2", "Definition (read-only)"),
        h("p.small.note", `The bot's folder is the source of truth: edit ${a.definition.file}${a.code ? " and " + a.code.file : ""} there and restart natter. Nothing here changes them.`),
        a.method ? h("p", h("code", `${a.method} ${a.base_url}${a.path}`)) : null,
        h("h3", a.definition.file), h("pre.code", a.definition.text ?? "(the file can't be read)"),
        a.code ? [h("h3", a.code.file), h("pre.code", a.code.text ?? "(the file can't be read)")] : null)),
    h("section.panel", h("h2", "Recent runs"), runs));
  await loadRuns();
}
