// Pure formatting helpers (unit-tested in console/tests/format.test.mjs).

/** "1.2 s", "340 ms". */
export function duration(ms) {
  if (ms === null || ms === undefined) return "";
  return ms >= 1000 ? `${(ms / 1000).toFixed(ms >= 10000 ? 0 : 1)} s` : `${Math.round(ms)} ms`;
}

/** A stored RFC 3339 UTC time as "2026-01-31 14:05:09 UTC" (seconds, no millis). */
export function when(iso) {
  if (!iso) return "";
  return iso.replace("T", " ").replace(/\.\d+Z$|Z$/, "") + " UTC";
}

/** "3 min ago" relative to `now` (ms). */
export function ago(iso, now = Date.now()) {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return "";
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

/** 0.1234 → "12.3 %". */
export const percent = (r) => `${(r * 100).toFixed(r > 0 && r < 0.1 ? 1 : 0)} %`;

/**
 * Inline markdown of message text (bold, italic, code) as [kind, text] runs; the console
 * builds text nodes from them, so nothing is ever parsed as HTML.
 */
export function inline(text) {
  const out = [];
  const re = /\*\*([^*]+)\*\*|\*([^*]+)\*|`([^`]+)`/g;
  let at = 0;
  for (let m; (m = re.exec(text)); ) {
    if (m.index > at) out.push(["text", text.slice(at, m.index)]);
    out.push(m[1] !== undefined ? ["strong", m[1]] : m[2] !== undefined ? ["em", m[2]] : ["code", m[3]]);
    at = re.lastIndex;
  }
  if (at < text.length) out.push(["text", text.slice(at)]);
  return out;
}

/**
 * Stacked bars for the overview chart: one column per day, segments bottom-up in `keys` order.
 * Returns {max, bars: [{day, x, segments: [{key, y, height, value}]}]} in a `width`×`height` box.
 */
export function stackedBars(days, keys, width, height, gap = 4) {
  const max = Math.max(1, ...days.map((d) => keys.reduce((s, k) => s + (d[k] || 0), 0)));
  const w = days.length ? width / days.length : width;
  const bars = days.map((d, i) => {
    let y = height;
    const segments = keys.map((key) => {
      const value = d[key] || 0;
      const hgt = (value / max) * height;
      y -= hgt;
      return { key, y, height: hgt, value };
    });
    return { day: d.day, x: i * w + gap / 2, width: Math.max(1, w - gap), segments };
  });
  return { max, bars };
}
