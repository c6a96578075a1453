// The console's shell: signs the page's API calls (CSRF token), picks the bot, routes
// `#/<screen>/<id>?<filters>` to a view module and shows failures in one notice line.
import { api, session } from "./api.js";
import { h } from "./dom.js";
import * as overview from "./views/overview.js";
import * as conversations from "./views/conversations.js";
import * as conversation from "./views/conversation.js";
import * as actions from "./views/actions.js";
import * as handlers from "./views/handlers.js";

const view = document.getElementById("view");
const notice = document.getElementById("notice");
const botSelect = document.getElementById("bot");
let bots = [];
let cleanup = null;
let generation = 0;

export function showError(err) {
  notice.replaceChildren(h("span", err.message || String(err)), h("button.quiet", { type: "button", onclick: () => (notice.hidden = true) }, "Dismiss"));
  notice.hidden = false;
}

function parseHash() {
  const [path, query = ""] = location.hash.replace(/^#\/?/, "").split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { screen: parts[0] || "overview", rest: parts.slice(1), params: Object.fromEntries(new URLSearchParams(query)) };
}

/** Changes the hash (so back/forward and reload work). */
export function go(screen, rest = [], params = {}) {
  const path = [screen, ...rest.map(encodeURIComponent)].join("/");
  const qs = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== "" && v !== undefined && v !== null)).toString();
  location.hash = "#/" + path + (qs ? "?" + qs : "");
}

async function route() {
  const gen = ++generation;
  if (cleanup) cleanup();
  cleanup = null;
  notice.hidden = true;
  const { screen, rest, params } = parseHash();
  for (const a of document.querySelectorAll("[data-nav]")) a.classList.toggle("active", a.dataset.nav === screen);
  const bot = botSelect.value;
  const ctx = { bot, bots, params, rest, go, showError, alive: () => gen === generation };
  const el = h("div.screen");
  view.replaceChildren(el);
  try {
    let mod;
    if (screen === "conversations" && rest.length) mod = conversation;
    else mod = { overview, conversations, actions, handlers }[screen] || overview;
    cleanup = (await mod.render(el, ctx)) || null;
  } catch (err) {
    if (gen === generation) {
      showError(err);
      el.append(h("p.error", err.message));
    }
  }
}

async function start() {
  try {
    const s = await session();
    if (!s.signedIn) return location.replace("/console/sign-in");
    bots = (await api.bots()).bots;
  } catch (err) {
    showError(err);
    view.replaceChildren(h("p.error", err.message));
    return;
  }
  const saved = sessionStorage.getItem("natter.console.bot");
  botSelect.replaceChildren(...bots.map((b) => h("option", { value: b.slug }, b.name === b.slug ? b.slug : `${b.name} (${b.slug})`)));
  if (bots.some((b) => b.slug === saved)) botSelect.value = saved;
  botSelect.addEventListener("change", () => {
    sessionStorage.setItem("natter.console.bot", botSelect.value);
    const before = location.hash;
    go(parseHash().screen);
    if (location.hash === before) route();
  });
  document.getElementById("sign-out").addEventListener("click", async () => {
    try {
      await api.signOut();
    } catch (err) {
      return showError(err);
    }
    location.replace("/console/sign-in");
  });
  window.addEventListener("hashchange", route);
  await route();
}

start();
