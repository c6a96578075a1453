// A tiny DOM builder: text is always inserted as text nodes, never parsed as HTML, so nothing a
// visitor typed (or an action returned) can become markup in the console.

/** h("div.a.b", {onclick, title, ...}, child, "text", [children]) → Element */
export function h(sel, attrs, ...children) {
  const [tag, ...classes] = sel.split(".");
  const el = document.createElement(tag || "div");
  if (classes.length) el.className = classes.join(" ");
  if (attrs && (typeof attrs !== "object" || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k in el && typeof v !== "string") el[k] = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** An SVG element (chart). */
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  append(el, children);
  return el;
}

/** A JSON value, pretty-printed, in a <pre>. */
export const json = (v) => h("pre.json", v === undefined ? "" : JSON.stringify(v, null, 2));

/** A button that copies `text` and says so. */
export function copyButton(text, label = "Copy") {
  const b = h("button.copy.quiet", { type: "button", title: `Copy ${text}` }, label);
  b.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text);
      b.textContent = "Copied";
    } catch {
      b.textContent = "Select and copy";
    }
    setTimeout(() => (b.textContent = label), 1500);
  });
  return b;
}

export function badge(status) {
  return h(`span.badge.s-${String(status).replace(/[^a-z_]/g, "")}`, String(status).replace("_", " "));
}
