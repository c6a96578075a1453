// The overview's chart: conversations per day (last 14 days) as stacked bars by status, drawn
// as inline SVG (no library; geometry from format.js's stackedBars).
import { svg, h } from "./dom.js";
import { stackedBars } from "./format.js";

const KEYS = ["closed", "handed_off", "open"];
const LABELS = { open: "Open", handed_off: "Handed off", closed: "Closed" };

export function dailyChart(daily) {
  const W = 560, H = 160, PAD_L = 28, PAD_B = 20;
  const { max, bars } = stackedBars(daily, KEYS, W - PAD_L, H - PAD_B);
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": "Conversations per day, last 14 days, by status" });
  root.append(
    svg("line", { x1: PAD_L, y1: H - PAD_B, x2: W, y2: H - PAD_B, class: "axis" }),
    svg("text", { x: PAD_L - 4, y: 10, class: "tick", "text-anchor": "end" }, String(max)),
    svg("text", { x: PAD_L - 4, y: H - PAD_B, class: "tick", "text-anchor": "end" }, "0"),
  );
  bars.forEach((b, i) => {
    const g = svg("g");
    for (const s of b.segments) {
      if (!s.value) continue;
      g.append(svg("rect", { x: PAD_L + b.x, y: s.y, width: b.width, height: Math.max(0.5, s.height), class: `seg-${s.key}` },
        svg("title", {}, `${b.day}: ${s.value} ${LABELS[s.key].toLowerCase()}`)));
    }
    if (i % 2 === 1 || bars.length <= 7) {
      g.append(svg("text", { x: PAD_L + b.x + b.width / 2, y: H - 6, class: "tick", "text-anchor": "middle" }, b.day.slice(5)));
    }
    root.append(g);
  });
  const legend = h("div.legend", KEYS.slice().reverse().map((k) => h("span", h(`i.key.seg-${k}`), LABELS[k])));
  return h("figure.chart-box", root, legend);
}
