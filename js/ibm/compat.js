/* IBM web chat compatibility: an instance shaped like IBM's — classic watsonx Assistant web chat
 * and watsonx Orchestrate embedded chat — over a NatterChat, so host pages written for IBM run
 * on Natter. Only the two IBM loaders (js/ibm/wa.js, js/ibm/wxo.js) carry this file:
 * scripts/build-widget wraps glue + js/boot.js + this file + one loader in one function scope.
 * docs/ibm.md lists what is supported.
 *
 * Invariants:
 * - IBM payload fields are aliases over Natter's event objects (accessors, or the very same
 *   arrays), never copies: what a page writes is what Natter reads back;
 * - an IBM feature Natter lacks (an option, a method, an event) never throws: it warns once,
 *   naming it, and does nothing;
 * - the page's handlers are called as IBM calls them, `handler(event, instance)` with the IBM
 *   instance, through wrappers registered on the NatterChat (so Natter's ordering, awaiting and
 *   timeouts apply unchanged).
 */
/* global natterStart, natterPage */
/* eslint-disable no-unused-vars */

var IBM_SAY = "natter (IBM web chat compatibility): ";
var ibmWarned = {};
function ibmWarn(key, msg) {
  if (ibmWarned[key]) return;
  ibmWarned[key] = 1;
  console.warn(IBM_SAY + msg);
}

// Natter's own event names (an IBM page may use any of them as is).
var IBM_NATIVE = (
  "* chat:ready pre:send send pre:stream:delta pre:receive receive pre:restartConversation restartConversation " +
  "pre:threadLoaded view:pre:change view:change view:properties:pre:change view:properties:change " +
  "userDefinedResponse customEvent feedback authTokenNeeded"
).split(" ");
// IBM names Natter has under another name, or derives from one.
var IBM_ALIASES = {
  identityTokenExpired: "authTokenNeeded",
  customResponse: "userDefinedResponse", // its name before IBM web chat 8.2
  "window:open": "view:change",
  "window:close": "view:change",
  "history:begin": "pre:threadLoaded",
  chatstarted: "chat:ready",
};
// IBM methods Natter has no counterpart for: each warns once and does nothing.
var IBM_UNSUPPORTED = (
  "updateHomeScreenConfig updateLauncherGreetingMessage updateCustomMenuOptions updateCustomHeaderItems " +
  "updateWelcomeScreen updateIsTypingCounter updateIsLoadingCounter updateLanguagePack updateCSSVariables " +
  "updateMainHeaderTitle updateBotName updateBotAvatarImage scrollToMessage showLauncherGreetingMessage " +
  "startTour endTour agentEndConversation requestFocus"
).split(" ");
// Hosts already given a compatibility root (two instances on one page each claim their own).
var ibmClaimed = typeof WeakSet === "function" ? new WeakSet() : { has: function () { return false; }, add: function () {} };

/** One accessor property; `enumerable` for fields IBM pages see, not for ones added to Natter's objects. */
function ibmAlias(obj, key, get, set, enumerable) {
  Object.defineProperty(obj, key, { configurable: true, enumerable: !!enumerable, get: get, set: set });
}

function ibmText(v) {
  return typeof v === "string" ? v : "";
}

/** Warns once about keys of `o` not in `known` (an object of key → 1 or → nested known map). */
function ibmUnknownOptions(what, o, known) {
  var bad = [];
  (function walk(obj, map, prefix) {
    if (!obj || typeof obj !== "object") return;
    Object.keys(obj).forEach(function (k) {
      if (!(k in map)) bad.push(prefix + k);
      else if (typeof map[k] === "object" && !(obj[k] instanceof Element)) walk(obj[k], map[k], prefix + k + ".");
    });
  })(o, known, "");
  if (bad.length) ibmWarn(what, what + ": Natter ignores these options it does not support: " + bad.join(", "));
}

/** The message object (Natter's) with IBM's fields added as aliases: `output.generic` is its
 *  `content`, `history.user_defined` what updateHistoryUserDefined kept for its id. */
function ibmMessage(c, m) {
  if (!m || typeof m !== "object" || Object.prototype.hasOwnProperty.call(m, "output")) return m;
  var output = {};
  ibmAlias(output, "generic", function () { return m.content; }, function (v) { m.content = v; }, true);
  ibmAlias(m, "output", function () { return output; });
  var history = {};
  ibmAlias(history, "user_defined", function () { return c.ud[m.id]; }, function (v) { c.ud[m.id] = v; }, true);
  ibmAlias(m, "history", function () { return history; });
  if (!("context" in m)) ibmAlias(m, "context", function () { return {}; });
  return m;
}

/** Adds the IBM fields of a Natter event of type `t` (idempotent: several handlers share it). */
function ibmShape(c, t, ev) {
  if (!ev || typeof ev !== "object" || c.shaped.has(ev)) return ev;
  c.shaped.add(ev);
  if (t === "pre:send" || t === "send") {
    var m = ev.message;
    var input = {};
    ibmAlias(input, "text", function () { return m.message.content; }, function (v) { m.message.content = v; }, true);
    // `data.context` is the message's context (sent with it); writing one sets it
    if (!m.context) m.context = {};
    ev.data = { input: input, history: { is_welcome_request: false } };
    ibmAlias(ev.data, "context", function () { return m.context; }, function (v) { m.context = v; }, true);
  } else if (t === "pre:receive" || t === "receive") {
    ev.data = ibmMessage(c, ev.message);
  } else if (t === "userDefinedResponse") {
    ev.data = { message: ev.contentItem, element: ev.hostElement, fullMessage: ibmMessage(c, ev.message) };
  } else if (t === "authTokenNeeded") {
    ibmAlias(ev, "identityToken", function () { return ev.authToken; }, function (v) { ev.authToken = v; }, true);
  } else if ((t === "view:change" || t === "view:pre:change") && c.classic) {
    if (c.restoring) ev.reason = "sessionHistory";
    else if (ev.reason === "chatLoaded") ev.reason = "webChatLoaded";
  } else if (t === "pre:threadLoaded") {
    (ev.messages || []).forEach(function (msg) { ibmMessage(c, msg); });
  }
  return ev;
}

/** Whether an IBM handler of type `type` hears this Natter event at all. */
function ibmHears(c, type, ev) {
  if (type === "window:open" || type === "window:close") {
    var opened = !!(ev.newViewState && ev.newViewState.mainWindow);
    var was = !!(ev.oldViewState && ev.oldViewState.mainWindow);
    return opened !== was && opened === (type === "window:open");
  }
  if (type === "userDefinedResponse" || type === "customResponse") return !c.drawn.has(ev);
  // the new, empty thread of a welcome request is no history the page loads
  if (c.adopting && (type === "pre:threadLoaded" || type === "history:begin")) return false;
  return true;
}

function ibmDrop(c, entry) {
  var i = c.reg.indexOf(entry);
  if (i >= 0) c.reg.splice(i, 1);
  c.chat.off(entry.natter, entry.wrapper);
}

/** `on` / `once` / `off` in both IBM forms: `(type, handler)` and `{type, handler}` (or an array). */
function ibmRegister(c, mode, a, b) {
  var list = typeof a === "string" ? [{ type: a, handler: b }] : Array.isArray(a) ? a : [a];
  list.forEach(function (r) {
    var type = r && r.type;
    var fn = r && r.handler;
    if (typeof type !== "string") throw new TypeError(mode + ": expected (type, handler) or {type, handler}");
    if (mode === "off") {
      c.reg.slice().forEach(function (e) {
        if (e.type === type && (fn === undefined || e.fn === fn)) ibmDrop(c, e);
      });
      return;
    }
    var natter = IBM_NATIVE.indexOf(type) >= 0 ? type : IBM_ALIASES[type];
    if (!natter) {
      ibmWarn("event " + type, 'the IBM event "' + type + '" is not supported by Natter: its handlers never run');
      return;
    }
    if (typeof fn !== "function") throw new TypeError(mode + ': the handler for "' + type + '" must be a function');
    var entry = { type: type, natter: natter, fn: fn, once: mode === "once" };
    entry.wrapper = function (ev) {
      if (!ibmHears(c, type, ev)) return;
      if (entry.once) ibmDrop(c, entry);
      ibmShape(c, natter === "*" ? ev.type : natter, ev);
      // IBM Orchestrate's `chatstarted` hands the instance itself to its handler
      var r = fn.call(c.inst, type === "chatstarted" ? c.inst : ev, c.inst);
      if (natter !== "authTokenNeeded") return r;
      return Promise.resolve(r).then(function () {
        if (typeof ev.authToken === "string") c.token = ev.authToken;
      });
    };
    c.reg.push(entry);
    // `once` stays `on` for Natter: the wrapper drops itself when its event is really heard
    c.chat.on(natter, entry.wrapper);
  });
  return c.inst;
}

/** Calls the page's handlers of IBM `type` for an event Natter does not emit itself, one after
 *  another, awaiting each (a throwing handler is reported and the next one runs). */
function ibmRun(c, type, ev) {
  return c.reg
    .filter(function (e) { return e.type === type; })
    .reduce(function (p, e) {
      return p.then(function () { return e.wrapper(ev); }).catch(function (err) {
        console.error('natter: a "' + type + '" handler threw; the next handler runs:', err);
      });
    }, Promise.resolve());
}

/** IBM's welcome request: a `pre:send` with empty text and `history.is_welcome_request`; text a
 *  handler puts in `input.text` is sent (silently) as the first message. `fresh`: no thread yet
 *  (the window is opening): that text replaces the bot's greeting, as on IBM, so the thread is
 *  started here without it and handed to the widget before it would start its own. */
function ibmWelcome(c, fresh) {
  var ev = { type: "pre:send", message: { message: { content: "" } }, silent: true };
  ibmShape(c, "pre:send", ev);
  ev.data.history.is_welcome_request = true;
  return ibmRun(c, "pre:send", ev)
    .then(function () {
      var text = ibmText(ev.message.message.content);
      if (!text.trim()) return;
      if (!fresh) return c.chat.send(text, { silent: true });
      return ibmApi(c, "/v1/bots/" + encodeURIComponent(c.bot) + "/threads", {
        method: "POST",
        body: JSON.stringify({ channel: c.channel, browserSession: JSON.parse(c.page()), greeting: false }),
      })
        .then(function (body) {
          c.adopting = true;
          return c.chat.loadThreadById(body.threadId);
        })
        .then(function () {
          c.adopting = false;
          // not awaited: the window opens while the answer comes
          c.chat.send(text, { silent: true });
        });
    })
    .catch(function (e) {
      console.error(IBM_SAY + "the welcome request could not be sent:", e);
    });
}

function ibmApi(c, path, init) {
  var headers = { "content-type": "application/json" };
  if (c.token) headers.authorization = "Bearer " + c.token;
  return fetch(c.server + path, Object.assign({ headers: headers, cache: "no-store" }, init)).then(function (r) {
    return r.json().then(
      function (body) {
        if (!r.ok) throw new Error((body && body.error && body.error.message) || "HTTP " + r.status);
        return body;
      },
      function () {
        throw new Error("HTTP " + r.status);
      },
    );
  });
}

function ibmThreadPath(tid, tail) {
  return "/v1/threads/" + encodeURIComponent(tid) + tail;
}

/** The Natter host, moved into IBM's root `<div id="WACContainer" class="WACContainer">` (page CSS
 *  is written as `#WACContainer.WACContainer …`); `null` before render. */
function ibmHost(c) {
  if (c.host) return c.host;
  var scope = c.element && c.element.querySelectorAll ? c.element : document;
  var found = scope.querySelectorAll("div[data-natter]");
  for (var i = found.length - 1; i >= 0 && !c.host; i--) if (!ibmClaimed.has(found[i])) c.host = found[i];
  if (!c.host) return null;
  ibmClaimed.add(c.host);
  var root = document.createElement("div");
  if (!document.getElementById("WACContainer")) root.id = "WACContainer";
  root.className = "WACContainer";
  // CSSOM, not a style attribute: fine under a strict style-src
  if (c.element) root.style.setProperty("height", "100%");
  var mount = typeof c.mount === "string" ? document.getElementById(c.mount) : null;
  if (mount && !c.element) mount.appendChild(root);
  else c.host.parentNode.insertBefore(root, c.host);
  root.appendChild(c.host);
  c.root = root;
  c.classes.forEach(function (k) { c.host.classList.add(k); });
  return c.host;
}

/** Draws IBM item types Natter has no renderer for (they reach Natter as custom items). */
function ibmDraw(c, ev) {
  var item = ev.contentItem || {};
  var kind = item.response_type;
  var src = ibmText(item.source);
  if ((kind !== "image" && kind !== "iframe") || !/^https?:\/\//i.test(src)) return;
  c.drawn.add(ev);
  var el = document.createElement(kind === "image" ? "img" : "iframe");
  el.src = src;
  if (kind === "image") el.alt = ibmText(item.alt_text || item.title);
  else {
    // no allow-same-origin: the framed page cannot reach the host page
    el.setAttribute("sandbox", "allow-scripts allow-forms allow-popups");
    el.title = ibmText(item.title);
  }
  el.setAttribute("loading", "lazy");
  el.className = "ibm-web-chat--" + kind;
  ev.hostElement.appendChild(el);
  if (item.title || item.description) {
    var cap = document.createElement("div");
    cap.textContent = [item.title, item.description].filter(Boolean).join(" — ");
    ev.hostElement.appendChild(cap);
  }
}

/** Natter-side handlers the layer needs itself; registered before onLoad, so they run first. */
function ibmInternal(c) {
  var chat = c.chat;
  chat.on("userDefinedResponse", function (ev) { ibmDraw(c, ev); });
  chat.on("pre:threadLoaded", function (ev) {
    var tid = c.loading || chat.getState().threadId;
    c.loading = null;
    var msgs = ev.messages || [];
    var kept = tid
      ? ibmApi(c, ibmThreadPath(tid, "/user_defined")).then(
          function (body) { Object.assign(c.ud, body.messages || {}); },
          function (e) { console.warn(IBM_SAY + "could not read the history's user_defined data:", e); },
        )
      : Promise.resolve();
    // IBM shows history as it was shown: the page's pre:receive rewrites apply again
    return kept.then(function () {
      return msgs.reduce(function (p, m) {
        if (m.sender === "user") return p;
        return p.then(function () {
          return ibmRun(c, "pre:receive", { type: "pre:receive", message: m, history: true });
        });
      }, Promise.resolve());
    });
  });
  // Before the window opens, so before the widget starts a thread (with the greeting): the
  // welcome request may start it without one
  chat.on("view:pre:change", function (ev) {
    if (ev.newViewState.mainWindow && !ev.oldViewState.mainWindow && !c.welcomed && !chat.getState().threadId) {
      c.welcomed = true;
      return ibmWelcome(c, true);
    }
  });
  chat.on("view:change", function (ev) {
    if (!c.session) return;
    try { sessionStorage.setItem(c.viewKey, ev.newViewState.mainWindow ? "1" : "0"); } catch (e) { /* storage blocked: nothing to keep */ }
  });
  chat.on("restartConversation", function () {
    c.ud = {};
    c.welcomed = chat.getState().view.mainWindow;
    if (c.welcomed) ibmWelcome(c);
  });
}

/** After the first render: reopen the window if it was open before a reload (IBM's session
 *  history), or follow a deep link (`?wa_lid=<id>` and `pageLinkConfig.linkIDs[id].text`). */
function ibmAfterRender(c) {
  var chat = c.chat;
  var link = c.links && c.links.linkIDs && c.links.linkIDs[new URLSearchParams(location.search).get("wa_lid")];
  if (link && typeof link.text === "string" && link.text.trim()) {
    c.welcomed = true;
    return chat.changeView("mainWindow").then(function () { return chat.send(link.text); });
  }
  if (c.wasOpen && !chat.getState().view.mainWindow) {
    c.restoring = true;
    return chat.changeView("mainWindow").then(function () { c.restoring = false; });
  }
}

function ibmDetached() {
  return document.createElement("div");
}

/** The IBM-shaped instance over `chat`. `o`: {server, bot, classic, channel, page (the browser
 *  session now, as JSON), element, mount (the id of the element a floating widget's root goes
 *  into), links, session, token}. */
function ibmInstance(chat, o) {
  var c = {
    chat: chat,
    server: o.server,
    bot: o.bot,
    classic: o.classic,
    channel: o.channel,
    page: o.page,
    element: o.element || null,
    mount: o.mount || null,
    links: o.links,
    session: o.session,
    viewKey: "natter.ibm.view:" + o.server + "#" + o.bot,
    token: o.token || null,
    reg: [],
    ud: {},
    classes: [],
    shaped: new WeakSet(),
    drawn: new WeakSet(),
    welcomed: false,
    adopting: false,
    restoring: false,
    loading: null,
    host: null,
    root: null,
  };
  try {
    // read before the first render: its own view:change rewrites the key
    c.wasOpen = c.session && sessionStorage.getItem(c.viewKey) === "1";
  } catch (e) {
    c.wasOpen = false; // storage blocked: no session history
  }
  var rendered = null;
  var mainWindow = {
    addClassName: function (k) {
      if (c.classes.indexOf(k) < 0) c.classes.push(k);
      var h = ibmHost(c);
      if (h) h.classList.add(k);
    },
    removeClassName: function (k) {
      c.classes = c.classes.filter(function (x) { return x !== k; });
      var h = ibmHost(c);
      if (h) h.classList.remove(k);
    },
    getHTMLElement: function () { return ibmHost(c); },
  };
  var writeable = new Proxy({}, {
    get: function (t, k) {
      if (typeof k !== "string" || k === "then") return undefined;
      return t[k] || (t[k] = ibmDetached());
    },
  });
  function writeables() {
    ibmWarn("writeable", "writeable elements are not supported by Natter; what is put in them is not shown");
    return writeable;
  }
  var panel = { hostElement: ibmDetached(), open: function () {}, close: function () {} };
  var inst = {
    on: function (a, b) { return ibmRegister(c, "on", a, b); },
    once: function (a, b) { return ibmRegister(c, "once", a, b); },
    off: function (a, b) { return ibmRegister(c, "off", a, b); },
    render: function () {
      if (!rendered) {
        var p = chat.render();
        ibmHost(c);
        rendered = p.then(function () { return ibmAfterRender(c); });
      }
      return rendered;
    },
    send: function (msg, opts) {
      var silent = !!(opts && opts.silent);
      var text = typeof msg === "string" ? msg : msg && msg.input ? msg.input.text : msg && msg.message ? msg.message.content : undefined;
      if (typeof text !== "string") throw new TypeError('send: pass a string or {input: {text}}, e.g. send({input: {text: "hi"}})');
      var context = msg && typeof msg === "object" && msg.context && typeof msg.context === "object" && !Array.isArray(msg.context) ? msg.context : undefined;
      var label = msg && msg.history && typeof msg.history.label === "string" ? msg.history.label : undefined;
      // IBM: an empty silent send asks for the welcome message
      if (!text.trim()) return silent ? ibmWelcome(c) : Promise.resolve();
      return chat.send(text, { silent: silent, label: label, context: context });
    },
    changeView: function (v) { return chat.changeView(v); },
    changeViewProperties: function (v) { return chat.changeViewProperties(v); },
    restartConversation: function () { return chat.restartConversation(); },
    loadThreadById: function (id) {
      c.loading = id;
      return chat.loadThreadById(id);
    },
    updateIdentityToken: function (t) { inst.updateAuthToken(t); },
    updateAuthToken: function (t) {
      chat.updateAuthToken(t);
      c.token = t || null;
    },
    updateHistoryUserDefined: function (messageId, data) {
      if (typeof messageId !== "string" || !messageId) throw new TypeError("updateHistoryUserDefined: the first argument must be a message id (fullMessage.id)");
      if (!data || typeof data !== "object" || Array.isArray(data)) throw new TypeError("updateHistoryUserDefined: the second argument must be an object, e.g. {selectedIndex: 1}");
      c.ud[messageId] = data;
      var tid = chat.getState().threadId;
      if (!tid) return Promise.resolve();
      return ibmApi(c, ibmThreadPath(tid, "/user_defined"), {
        method: "POST",
        body: JSON.stringify({ messageId: messageId, data: data }),
      }).then(
        function () {},
        function (e) { console.warn(IBM_SAY + "updateHistoryUserDefined: the server did not keep it:", e.message); },
      );
    },
    updateLocale: function (l) { chat.updateLocale(l); },
    getLocale: function () { return chat.getState().locale; },
    getState: function () { return chat.getState(); },
    doAutoScroll: function () {}, // Natter keeps the transcript scrolled itself
    elements: { getMainWindow: function () { return mainWindow; } },
    getWriteableElement: function (name) {
      return writeables()[name];
    },
    destroy: function () {
      chat.destroy();
      if (c.root && c.root.parentNode) c.root.remove();
      c.reg = [];
    },
  };
  IBM_UNSUPPORTED.forEach(function (name) {
    inst[name] = function () {
      ibmWarn(name, "instance." + name + "() is not supported by Natter; it does nothing");
    };
  });
  ibmAlias(inst, "writeableElements", writeables, undefined, true);
  ibmAlias(inst, "customPanels", function () {
    ibmWarn("panels", "custom panels are not supported by Natter; a panel never opens");
    return { getPanel: function () { return panel; } };
  }, undefined, true);
  c.inst = inst;
  ibmInternal(c);
  return inst;
}

/** Only one IBM loader kind per page: the second one is a mistake the page must fix. */
function ibmClaimPage(kind) {
  var other = window.__natterIbmLoader;
  if (other && other !== kind) {
    throw new Error(
      "natter: both IBM web chat loaders are on this page (WatsonAssistantChatEntry.js and wxoLoader.js); " +
        "a page uses one of them: remove the other <script>",
    );
  }
  window.__natterIbmLoader = kind;
}

/** The origin that served this loader (the Natter server), from the running script's URL. */
function ibmOrigin(name) {
  var s = document.currentScript || document.querySelector('script[src*="' + name + '"]');
  return new URL((s && s.src) || location.href).origin;
}

/** Starts a widget for an IBM page: resolves the bot of `o.param=o.id`, creates the NatterChat
 *  with `o.options`, hands the IBM instance to `o.onLoad`; renders after it when `o.render`.
 *  Resolves to the instance (or `null` when it could not start: the reason is logged). */
function ibmStart(o) {
  if (typeof o.id !== "string" || !o.id) {
    console.error(IBM_SAY + o.what + " is required: the id this page used with IBM, mapped to a bot in its bot.toml ([ibm])");
    return Promise.resolve(null);
  }
  var server = o.server;
  var bot = fetch(server + "/ibm/bot?" + o.param + "=" + encodeURIComponent(o.id)).then(function (r) {
    return r.json().then(function (body) {
      if (!r.ok) throw new Error((body && body.error && body.error.message) || "HTTP " + r.status);
      return body.bot;
    });
  });
  return Promise.all([natterStart(server + "/widget/"), bot])
    .then(function (got) {
      // `_channel`: the conversation is recorded as having come through this loader
      var channel = o.classic ? "ibm_web_chat" : "ibm_orchestrate";
      var options = Object.assign({ serverUrl: server, bot: got[1], _channel: channel }, o.options);
      var page = natterPage(options);
      var chat = got[0]._create(options);
      var inst = ibmInstance(chat, {
        server: server,
        bot: got[1],
        classic: o.classic,
        channel: channel,
        page: page,
        element: options.element,
        mount: o.mount,
        links: o.links,
        session: o.session,
        token: options.authToken,
      });
      chat._attach(inst, page);
      return Promise.resolve(typeof o.onLoad === "function" ? o.onLoad(inst) : undefined)
        .then(function () { return o.render || typeof o.onLoad !== "function" ? inst.render() : undefined; })
        .then(function () { return inst; });
    })
    .catch(function (e) {
      console.error("natter: the IBM web chat compatibility loader could not start:", e);
      return null;
    });
}
