// Overview of the selected bot: conversations today / last 7 days by status, hand-off rate,
// feedback, failing actions and handlers (24 h), outbox backlog, and the 14-day chart.
import { api } from "../api.js";
import { h, badge } from "../dom.js";
import { when, ago, percent } from "../format.js";
import { dailyChart } from "../chart.js";

const counts = (c) =>
  h("dl.counts", ["open", "handed_off", "closed"].map((s) => h("div", h("dt", badge(s)), h("dd", String(c[s])))));

function failingTable(rows, what) {
  if (!rows.length) return h("p.muted", `No failing ${what} in the last 24 hours.`);
  return h("table.list",
    h("thead", h("tr", h("th", "Name"), h("th", "Failed / runs"), h("th", "Last failure"))),
    h("tbody", rows.map((f) => h("tr",
      h("td", h("a", { href: `#/${what}/${encodeURIComponent(f.name)}` }, f.name)),
      h("td", `${f.failures} / ${f.runs}`),
      h("td", badge(f.lastStatus), " ", h("span.muted", ago(f.lastAt)), f.lastError ? h("div.small", f.lastError) : null)))));
}

export async function render(el, { bot }) {
  el.append(h("h1", "Overview"));
  if (!bot) return void el.append(h("p.muted", "This server has no bots."));
  const s = await api.stats(bot);
  const fb = s.feedback;
  const top = (list) => (list.length ? h("ul.cats", list.map((c) => h("li", `${c.category} `, h("span.muted", `× ${c.count}`)))) : h("p.muted.small", "No categories picked."));
  const total = fb.positive + fb.negative;
  el.append(
    h("div.cards",
      h("section.card", h("h2", "Today"), h("p.big", String(s.today.open + s.today.handed_off + s.today.closed)), counts(s.today)),
      h("section.card", h("h2", "Last 7 days"), h("p.big", String(s.week.open + s.week.handed_off + s.week.closed)), counts(s.week)),
      h("section.card", h("h2", "Hand-off rate"), h("p.big", percent(s.handoffRate)), h("p.muted.small", `${s.handedOffWeek} handed off in the last 7 days`)),
      h("section.card", h("h2", "Feedback (7 days)"),
        h("p.big", h("span.pos", `+${fb.positive}`), " ", h("span.neg", `−${fb.negative}`)),
        total ? h("div.meter", { title: `${fb.positive} positive, ${fb.negative} negative` }, h("span.pos-bar", { style: null, dataset: { w: Math.round((fb.positive / total) * 100) } })) : null,
        h("div.two", h("div", h("h3", "Positive"), top(fb.topPositive)), h("div", h("h3", "Negative"), top(fb.topNegative)))),
      h("section.card", h("h2", "Outbox"),
        h("p.big", String(s.outbox.pendingHandlers + s.outbox.pendingWebhooks)),
        h("p.small", `${s.outbox.pendingHandlers} handler runs and ${s.outbox.pendingWebhooks} webhooks pending; ${s.outbox.failed} given up`),
        h("p.small", s.outbox.oldestPendingWebhookAt ? `Oldest pending webhook: ${when(s.outbox.oldestPendingWebhookAt)} (${ago(s.outbox.oldestPendingWebhookAt)})` : "No webhook waiting."))),
    h("section.panel", h("h2", "Conversations per day (last 14 days)"), dailyChart(s.daily)),
    h("div.cols",
      h("section.panel", h("h2", "Failing actions (24 h)"), failingTable(s.failingActions, "actions")),
      h("section.panel", h("h2", "Failing event handlers (24 h)"), failingTable(s.failingHandlers, "handlers"))),
    h("p.muted.small", `As of ${when(s.generatedAt)}. Days are UTC.`),
  );
  // The meter's width can't be an inline style under the CSP: set it through CSSOM.
  for (const bar of el.querySelectorAll(".pos-bar")) bar.style.width = bar.dataset.w + "%";
}
