// The conversation list: newest first, filters (status with counts, tag, dates, search) kept
// in the URL, cursor paging with "Load more".
import { api } from "../api.js";
import { h, badge } from "../dom.js";
import { when, ago, inline } from "../format.js";

/** Message text without its markdown marks, for one-line previews. */
const plain = (t) => inline(t).map(([, s]) => s).join("");

const STATUSES = [["", "All"], ["open", "Open"], ["handed_off", "Handed off"], ["closed", "Closed"]];

export async function render(el, { bot, params, go, alive }) {
  const filters = { status: params.status || "", tag: params.tag || "", from: params.from || "", to: params.to || "", q: params.q || "" };
  const apply = (change) => go("conversations", [], { ...filters, ...change });

  const form = h("form.filters", { role: "search" },
    h("input", { type: "search", name: "q", value: filters.q, placeholder: "Search public id or message text", "aria-label": "Search" }),
    h("input", { name: "tag", value: filters.tag, placeholder: "Tag", "aria-label": "Tag" }),
    h("label", "From ", h("input", { type: "date", name: "from", value: filters.from })),
    h("label", "To ", h("input", { type: "date", name: "to", value: filters.to })),
    h("button", { type: "submit" }, "Filter"),
    h("button.quiet", { type: "button", onclick: () => go("conversations", [], {}) }, "Clear"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const f = new FormData(form);
    apply({ q: f.get("q").trim(), tag: f.get("tag").trim(), from: f.get("from"), to: f.get("to") });
  });

  const tabs = h("div.tabs", { role: "tablist", "aria-label": "Status" });
  const rows = h("tbody");
  const table = h("table.list.conversations",
    h("thead", h("tr", h("th", "Conversation"), h("th", "Status"), h("th", "Tags"), h("th", "Messages"), h("th", "Created"))), rows);
  const more = h("button.quiet.more", { type: "button", hidden: true }, "Load more");
  const empty = h("p.muted", { hidden: true }, "No conversation matches these filters.");
  el.append(h("h1", "Conversations"), form, tabs, table, empty, more);

  let cursor = null;
  const load = async () => {
    more.disabled = true;
    const page = await api.conversations({ bot, ...filters, cursor, limit: 50 });
    if (!alive()) return;
    if (!cursor) {
      const total = page.counts.open + page.counts.handed_off + page.counts.closed;
      // A capped count (a tag or a search matching more than the server counts) is a floor.
      const shown = (n) => (page.countsCapped ? `${n}+` : String(n));
      tabs.replaceChildren(...STATUSES.map(([s, label]) =>
        h("button.tab", { type: "button", role: "tab", "aria-selected": String(filters.status === s), dataset: { status: s || "all" }, onclick: () => apply({ status: s }) },
          label, " ", h("span.count", shown(s ? page.counts[s] : total)))));
    }
    for (const c of page.conversations) {
      const open = () => go("conversations", [c.id]);
      rows.append(h("tr.row", { tabindex: 0, dataset: { id: c.id }, onclick: open, onkeydown: (e) => e.key === "Enter" && open() },
        h("td",
          h("a.pid", { href: `#/conversations/${encodeURIComponent(c.id)}`, onclick: (e) => e.stopPropagation() }, c.publicId),
          c.subject ? h("span.subject", " " + c.subject) : null,
          h("div.small.muted.preview", plain(c.lastMessage || ""))),
        h("td", { dataset: { label: "Status" } }, badge(c.status)),
        h("td", { dataset: { label: "Tags" } }, c.tags.map((t) => h("span.tag", t))),
        h("td", { dataset: { label: "Messages" } }, String(c.messageCount)),
        h("td", { dataset: { label: "Created" }, title: when(c.createdAt) }, ago(c.createdAt))));
    }
    cursor = page.nextCursor;
    more.hidden = !cursor;
    more.disabled = false;
    empty.hidden = rows.children.length > 0;
  };
  more.addEventListener("click", () => load().catch((err) => { more.disabled = false; throw err; }));
  await load();
}
