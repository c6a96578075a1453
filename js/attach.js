// natter attach module: draws the conversation's files and lets visitors send files. Loaded by
// embed.js / natter.js (js/files.js) only when needed — the bot accepts files (its lookup,
// GET /v1/bots/{bot}), or a file item is to be drawn — and never with the `attachments` option
// false; it is not part of the widget's size budget. See docs/api.md, "Files".
//
//   attach(chat, {maxFileBytes, types} | null | undefined, options, kept)
//
// `kept`: the `userDefinedResponse` / `pre:threadLoaded` events with files that happened
// before the module arrived (the loader kept them); they are drawn first, then the module's
// own handlers draw the rest.
//
// For every bot it draws `file` items (an agent may send a file to any visitor). For a bot that
// accepts files (`info` not null) it also adds to the widget's open shadow root: an attach button (and a hidden file input), a tray
// of staged files above the composer (name, progress bar, thumbnail once uploaded, remove
// button), a status line (role=status) for refusals and for each upload done and file removed, drag-and-drop onto the window and pasting
// files into the input. Each staged file is uploaded at once (XHR, for upload progress) with a
// clientId of its own, retried with the same clientId after a network error, so the server keeps
// it once. A submit with staged files waits for their uploads, then calls
// `chat.send(text, {attachments})` (the core's `pre:send` / `send` / storage of unacknowledged
// sends do the rest). Files in the transcript are links `name · type · size` (a thumbnail for
// raster images; the link opens the full size): `file` items of messages through
// userDefinedResponse, and the files of the visitor's own sends from the composer.
//
// Invariants: nothing here writes HTML (createElement / textContent only: Trusted Types) or a
// style attribute (one constructed stylesheet: strict style-src); a restart drops every staged
// file and stops their uploads; strings are the `attach…` keys of `options.strings`, checked
// here (the core only checks that they are strings).

const EN = {
  attachLabel: "Attach files",
  attachRemove: "Remove",
  attachUploading: "Uploading",
  attachTooLarge: "{name} is too large (at most {max}).",
  attachTooMany: "At most {max} files per message.",
  attachType: "{name}: this kind of file is not accepted.",
  attachNetwork: "{name} could not be uploaded. Check your connection.",
  attachFailed: "{name} could not be uploaded.",
  attachQuota: "{name} could not be added: this conversation has reached its limit for files.",
  attachName: "{name}: this file name is not accepted. Rename the file and try again.",
  attachUploaded: "{name} uploaded.",
  attachRemoved: "{name} removed.",
};
const FR = {
  attachLabel: "Joindre des fichiers",
  attachRemove: "Retirer",
  attachUploading: "Envoi en cours",
  attachTooLarge: "{name} est trop volumineux (au plus {max}).",
  attachTooMany: "Au plus {max} fichiers par message.",
  attachType: "{name} : ce type de fichier n'est pas accepté.",
  attachNetwork: "{name} n'a pas pu être envoyé. Vérifiez votre connexion.",
  attachFailed: "{name} n'a pas pu être envoyé.",
  attachQuota: "{name} n'a pas pu être ajouté : cette conversation a atteint sa limite de fichiers.",
  attachName: "{name} : ce nom de fichier n'est pas accepté. Renommez le fichier et réessayez.",
  attachUploaded: "{name} envoyé.",
  attachRemoved: "{name} retiré.",
};
/** Files one message may carry (the server's limit). */
const MAX_FILES = 10;
/** Types shown as thumbnails: the ones the server serves inline. */
const RASTER = ["image/png", "image/jpeg", "image/gif", "image/webp"];

const CSS = `
[part=attach]{padding:0 8px;border-radius:8px;font-size:18px}
[part=attach]:hover{background:#0000000f}
[part=attachments]{display:flex;flex-wrap:wrap;gap:6px;padding:8px 10px 0}
[part=attachment]{display:flex;align-items:center;gap:6px;max-width:100%;box-sizing:border-box;padding:4px 6px;border:1px solid #0002;border-radius:8px;font-size:12px}
[part=attachment] img{width:32px;height:32px;object-fit:cover;border-radius:4px}
[part=attachment] span{max-width:150px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
[part=attachment] progress{width:56px}
[part=attachment] button{width:22px;height:22px;border-radius:50%}
[part=attachment] button:hover{background:#0000000f}
[part=attach-status]{padding:0 12px;font-size:12px}
[part=attach-status] :not(:empty){display:inline-block;margin:4px 6px 0 0}
[part=attach-status] b{color:#b91c1c;font-weight:inherit}
[part=attach-status] span{opacity:.75}
.w[data-drop]{outline:2px dashed var(--natter-primary);outline-offset:-6px}
a[part=file]{display:block;color:inherit}
a[part=file] img{display:block;max-width:200px;max-height:160px;border-radius:8px;margin-bottom:4px;background:#e5e7eb}
`;
let sheet;

/** `options.strings`' `attach…` keys over the locale's defaults; an unknown one is a TypeError. */
function strings(options) {
  const s = { ...(/^fr([-_]|$)/i.test(options.locale || "") ? FR : EN) };
  for (const [k, v] of Object.entries(options.strings || {})) {
    if (!k.startsWith("attach")) continue;
    if (!(k in EN)) {
      throw new TypeError(`loadChat: options.strings has an unknown key "${k}": rename it to one of the attach module's keys (${Object.keys(EN).join(", ")}) or remove it`);
    }
    s[k] = v;
  }
  return s;
}

const fill = (t, name, max) => t.replace("{name}", name).replace("{max}", max);
const mb = (n) => (n < 1 << 20 ? Math.ceil(n / 1024) + " KB" : (n / 1048576).toFixed(1) + " MB");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function el(tag, parent, attrs = {}, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text != null) e.textContent = text;
  if (parent) parent.append(e);
  return e;
}

export default function attach(chat, info, options, kept = []) {
  if (typeof options.attachments != "boolean" && options.attachments !== undefined) {
    throw new TypeError(`loadChat: options.attachments must be true or false, not ${typeof options.attachments}`);
  }
  const s = strings(options);
  const base = String(options.serverUrl).replace(/\/+$/, "");
  if (!sheet) {
    sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
  }
  // a path on the server, or an http(s) URL; anything else (javascript:, data:…) is no link
  const href = (url) => (/^\/(?!\/)/.test(url) ? base + url : /^https?:\/\//i.test(url) ? url : "");
  /** `<a part="file">name · type · size</a>` (a thumbnail first for images), opening the file. */
  const link = (parent, f) => {
    const u = href(String(f.url || ""));
    const a = el("a", parent, { part: "file", "data-type": f.type }, `${f.name} · ${f.type} · ${mb(f.size)}`);
    if (!u) return;
    a.setAttribute("href", u);
    a.setAttribute("target", "_blank");
    if (RASTER.includes(f.type)) a.prepend(el("img", null, { src: u, alt: "", loading: "lazy" }));
  };
  // Files in the transcript: `file` items reach the page as userDefinedResponse (the core
  // slots a light-DOM host element into the bubble); the link goes in a shadow root of that
  // host, styled by this module's sheet. Registered at once: a history may render before
  // chat:ready.
  const item = (e) => {
    const it = e.contentItem;
    if ((it.response_type || it.type) !== "file" || !it.file) return;
    const r = e.hostElement.shadowRoot || e.hostElement.attachShadow({ mode: "open" });
    r.adoptedStyleSheets = [sheet];
    link(r, it.file);
  };
  // The visitor's files in a loaded history: the core draws a user message's text only; its
  // bubbles come in the order of the history's user messages, drawn once the handlers are done.
  const fileItems = (m) => (m.content || []).filter((c) => (c.response_type || c.type) === "file" && c.file);
  const history = (e) => {
    const users = e.messages.filter((m) => m.role === "user" || m.sender === "user");
    setTimeout(() => {
      let host;
      try {
        host = chat.getState()._host;
      } catch {
        return; // destroyed meanwhile
      }
      const bubbles = host ? host.shadowRoot.querySelectorAll("[part=message].user:not(.pending)") : [];
      users.forEach((m, i) => bubbles[i] && fileItems(m).forEach((c) => link(bubbles[i], c.file)));
    });
  };
  chat.on("userDefinedResponse", item);
  chat.on("pre:threadLoaded", history);
  // what happened before the module arrived (a history replaced since is not drawn: its bubbles are gone)
  const last = kept.findLast((e) => e.messages);
  for (const e of kept) e.contentItem ? item(e) : e === last && history(e);
  if (!info) return; // the bot takes no files: no attach controls
  const start = () => setup(chat, info, s, base, link, href, options);
  if (chat.getState().ready) start();
  else chat.once("chat:ready", start);
}

function setup(chat, info, s, base, link, href, options) {
  const host = chat.getState()._host;
  const root = host && host.shadowRoot;
  if (!root || root.querySelector("[part=attach]")) return;
  root.adoptedStyleSheets = [...root.adoptedStyleSheets, sheet];
  const win = root.querySelector("[part=window]");
  const form = root.querySelector("form");
  const input = root.querySelector("[part=input]");
  const messages = root.querySelector("[part=messages]");

  const button = el("button", null, { type: "button", part: "attach", "aria-label": s.attachLabel, title: s.attachLabel }, "\u{1f4ce}\ufe0e");
  const picker = el("input", null, { type: "file", multiple: "", hidden: "", accept: info.types.join(","), tabindex: "-1", "aria-label": s.attachLabel });
  form.insertBefore(button, input);
  form.append(picker);
  // the status line (role=status): a refusal (red), and the last upload done or file removed;
  // never hidden, only empty (a live region shown with its text is not always announced)
  const status = el("div", null, { part: "attach-status", role: "status" });
  const error = el("b", status);
  const notice = el("span", status);
  const tray = el("div", null, { part: "attachments", role: "list", hidden: "" });
  form.before(status, tray);

  /** Staged files: {file, chip, xhr, done: Promise<attachment | null>, gone}. */
  let staged = [];
  let send;
  const say = (t) => {
    error.textContent = t;
    notice.textContent = "";
  };
  const tell = (t) => { notice.textContent = t; };
  const refresh = () => tray.toggleAttribute("hidden", staged.length === 0);

  function drop(item) {
    item.gone = true;
    item.xhr?.abort();
    item.chip.remove();
    staged = staged.filter((x) => x !== item);
    refresh();
  }

  function stage(files) {
    say("");
    for (const file of files) {
      if (staged.length >= MAX_FILES) {
        say(fill(s.attachTooMany, "", MAX_FILES));
        break;
      }
      if (file.size > info.maxFileBytes) {
        say(fill(s.attachTooLarge, file.name, mb(info.maxFileBytes)));
        continue;
      }
      const chip = el("div", tray, { part: "attachment", role: "listitem" });
      el("span", chip, { title: file.name }, file.name);
      const bar = el("progress", chip, { max: "1", value: "0", "aria-label": s.attachUploading + " " + file.name });
      const remove = el("button", chip, { type: "button", "aria-label": s.attachRemove + " " + file.name, title: s.attachRemove }, "\u00d7");
      const item = { file, chip, bar };
      remove.addEventListener("click", () => {
        drop(item);
        tell(fill(s.attachRemoved, file.name));
        input.focus();
      });
      item.done = upload(item).then((a) => {
        if (!a) {
          if (!item.gone) drop(item);
          return null;
        }
        bar.remove();
        if (error.textContent === fill(s.attachNetwork, file.name)) say(""); // its retry got through
        tell(fill(s.attachUploaded, file.name));
        const u = href(a.url || "");
        if (u && RASTER.includes(a.type)) chip.prepend(el("img", null, { src: u, alt: "" }));
        return a;
      });
      staged.push(item);
    }
    refresh();
  }


  /** Uploads one file; resolves to its attachment, or null (refused: said why; or removed). */
  async function upload(item) {
    const { file } = item;
    const clientId = "f" + Date.now().toString(36) + Math.random().toString(36).slice(2, 10);
    for (let attempt = 0; !item.gone; attempt++) {
      let tid = chat.getState().threadId;
      while (!tid && !item.gone) {
        await sleep(100);
        tid = chat.getState().threadId;
      }
      if (item.gone) break;
      const q = new URLSearchParams({ name: file.name, clientId });
      const r = await new Promise((done) => {
        const x = (item.xhr = new XMLHttpRequest());
        x.open("POST", `${base}/v1/threads/${tid}/attachments?${q}`);
        const token = chat.getState()._token;
        if (token) x.setRequestHeader("authorization", "Bearer " + token);
        x.upload.onprogress = (e) => e.lengthComputable && (item.bar.value = e.loaded / e.total);
        x.onload = () => done({ status: x.status, body: x.responseText });
        x.onerror = x.onabort = x.ontimeout = () => done({ status: 0 });
        x.send(file);
      });
      item.xhr = null;
      if (item.gone) break;
      if (r.status === 200 || r.status === 201) return JSON.parse(r.body).attachment;
      if (r.status === 0 || r.status >= 500 || r.status === 429 || r.status === 401) {
        // network cut, server trouble, or a token being refreshed: again, same clientId
        if (r.status === 0 && attempt > 0) say(fill(s.attachNetwork, file.name));
        await sleep(Math.min(8000, 500 * 2 ** attempt));
        continue;
      }
      let code;
      try {
        code = JSON.parse(r.body).error.code;
      } catch {
        code = "";
      }
      const why = {
        payload_too_large: s.attachTooLarge,
        conversation_quota_exceeded: s.attachQuota,
        unsupported_media_type: s.attachType,
        invalid_attachment_name: s.attachName,
      };
      say(fill(why[code] || s.attachFailed, file.name, mb(info.maxFileBytes)));
      return null;
    }
    return null;
  }

  button.addEventListener("click", () => picker.click());
  picker.addEventListener("change", () => {
    stage([...picker.files]);
    picker.value = "";
  });
  win.addEventListener("dragover", (e) => {
    if (![...e.dataTransfer.types].includes("Files")) return;
    e.preventDefault();
    win.setAttribute("data-drop", "");
  });
  win.addEventListener("dragleave", (e) => {
    if (!win.contains(e.relatedTarget)) win.removeAttribute("data-drop");
  });
  win.addEventListener("drop", (e) => {
    win.removeAttribute("data-drop");
    if (!e.dataTransfer.files.length) return;
    e.preventDefault();
    stage([...e.dataTransfer.files]);
  });
  input.addEventListener("paste", (e) => {
    const files = [...(e.clipboardData?.files || [])];
    if (!files.length) return;
    e.preventDefault();
    stage(files);
  });

  // A submit with staged files is ours: it waits for the uploads, then sends text and files
  // together. (Capture on the shadow root runs before the core's own listener on the form.)
  root.addEventListener(
    "submit",
    (e) => {
      if (!staged.length) return;
      e.preventDefault();
      e.stopImmediatePropagation();
      const text = input.value;
      input.value = "";
      const batch = staged;
      staged = [];
      for (const item of batch) item.chip.setAttribute("aria-busy", "true");
      Promise.all(batch.map((i) => i.done)).then((got) => {
        const files = got.filter((a, i) => a && !batch[i].gone);
        for (const item of batch) item.chip.remove();
        refresh();
        if (text.trim() || files.length) send(text, files).catch(() => {});
      });
    },
    true,
  );
  chat.on("restartConversation", () => {
    for (const item of [...staged]) drop(item);
    say("");
  });

  // The visitor's own files: the bubble of a send from the composer gets links to the files
  // left in it by pre:send handlers (its attachments array may be replaced; its objects are ours).
  const ours = new WeakSet();
  let sending = [];
  chat.on("pre:send", (e) => {
    const m = e.message.message;
    if (!e.silent && (m.attachments || []).some((a) => ours.has(a))) sending.push(m);
  });
  // Sends restored after a reload (kept by the core as [clientMessageId, text, files] beside the
  // thread id) show as pending bubbles, in the same order: their files too.
  try {
    const store = globalThis[`${options.persistence || "local"}Storage`];
    const kept = JSON.parse(store?.getItem(`natter.thread:${base}#${options.bot}:sends`) || "[]");
    const pending = messages.querySelectorAll("[part=message].user.pending");
    kept.forEach((k, i) => pending[i] && Array.isArray(k[2]) && k[2].forEach((f) => link(pending[i], f)));
  } catch {
    // storage unavailable or not ours: the text alone shows
  }
  const seen = new WeakSet();
  new MutationObserver((records) => {
    for (const r of records) {
      for (const b of r.addedNodes) {
        // a bubble is added, then moved into its group: one send per bubble
        if (!sending.length || seen.has(b) || !b.matches?.("[part=message].user")) continue;
        seen.add(b);
        for (const f of sending.shift().attachments || []) link(b, f);
      }
    }
  }).observe(messages, { childList: true, subtree: true });
  send = (text, files) => {
    for (const f of files) ours.add(f);
    return chat.send(text, { attachments: files }).finally(() => {
      // a cancelled send has no bubble: forget it
      sending = sending.filter((m) => (m.content || "").trim() || (m.attachments || []).length);
    });
  };
}
