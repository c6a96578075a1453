// The console is a CRM client like any other: it reads what Natter's local CRM received
// (GET /local-crm/api/conversations) and answers through the public agent API
// (POST /agent/converse/send-message-to-widget), with the bot's CRM API key.
// Files go up through POST /agent/converse/attachments (same key), then are named in a
// message's `attachments`. Text is only ever set with textContent: nothing from a visitor
// becomes HTML; a file is shown as an <img> only when the server typed it as a raster image
// (it serves every other type as a download).
const $ = (id) => document.getElementById(id);
const keyInput = $("key");
keyInput.value = new URLSearchParams(location.search).get("key") || sessionStorage.getItem("natter-agent-key") || "";
let selected = null;
let conversations = [];

function headers() {
  sessionStorage.setItem("natter-agent-key", keyInput.value.trim());
  return { "Authorization": keyInput.value.trim(), "Content-Type": "application/json" };
}

async function agent(body) {
  if (!selected) return;
  const r = await fetch("/agent/converse/send-message-to-widget", {
    method: "POST", headers: headers(), body: JSON.stringify({ platformConversationId: selected, ...body }),
  });
  if (!r.ok) {
    const e = await r.json().catch(() => ({}));
    $("status").textContent = (e.error && e.error.message) || `error ${r.status}`;
  } else {
    $("status").textContent = "";
  }
  refresh();
}

const RASTER = ["image/png", "image/jpeg", "image/gif", "image/webp"];

function size(n) {
  return n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KB` : `${(n / 1048576).toFixed(1)} MB`;
}

/** One file of a line: a thumbnail linking to the full image, or a download link. */
function fileView(f) {
  const a = document.createElement("a");
  a.className = "file";
  a.href = f.url;
  a.target = "_blank";
  a.rel = "noopener";
  if (RASTER.includes(f.type)) {
    const img = document.createElement("img");
    img.src = f.url;
    img.alt = f.name;
    a.append(img);
  } else {
    a.download = f.name;
    a.textContent = `${f.name} (${f.type}, ${size(f.size)})`;
  }
  return a;
}

async function upload(file) {
  const q = new URLSearchParams({ platformConversationId: selected, name: file.name, clientId: crypto.randomUUID() });
  const r = await fetch(`/agent/converse/attachments?${q}`, {
    method: "POST", headers: { Authorization: keyInput.value.trim() }, body: file,
  });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error((body.error && body.error.message) || `upload failed (${r.status})`);
  return body.attachment.id;
}

function render() {
  const list = $("list");
  list.replaceChildren();
  for (const c of conversations) {
    const div = document.createElement("div");
    div.className = "conv" + (c.platformConversationId === selected ? " sel" : "");
    const last = c.lines.filter((l) => l.from === "visitor").pop();
    div.textContent = last ? last.text.slice(0, 60) : "(no message yet)";
    const small = document.createElement("small");
    small.textContent = `${c.status} · ${c.platformConversationId.slice(0, 16)}…`;
    div.append(small);
    div.onclick = () => { selected = c.platformConversationId; render(); };
    list.append(div);
  }
  const c = conversations.find((x) => x.platformConversationId === selected);
  const lines = $("lines");
  if (!c) return;
  const atBottom = lines.scrollTop + lines.clientHeight >= lines.scrollHeight - 4;
  lines.replaceChildren(...c.lines.map((l) => {
    const p = document.createElement("div");
    p.className = "line " + l.from;
    p.textContent = l.text;
    for (const f of l.files || []) p.append(fileView(f));
    return p;
  }));
  if (atBottom) lines.scrollTop = lines.scrollHeight;
}

async function refresh() {
  if (!keyInput.value.trim()) { $("status").textContent = "Enter the bot's CRM API key."; return; }
  try {
    const r = await fetch("/local-crm/api/conversations", { headers: headers() });
    if (!r.ok) { $("status").textContent = r.status === 401 ? "Wrong API key." : `error ${r.status}`; return; }
    conversations = (await r.json()).conversations;
    if (!selected && conversations.length) selected = conversations[0].platformConversationId;
    render();
  } catch (e) {
    $("status").textContent = "Server unreachable.";
  }
}

let typingSent = false;
$("text").addEventListener("input", () => {
  const typing = $("text").value.length > 0;
  if (typing !== typingSent) { typingSent = typing; agent({ eventType: "typing", typing }); }
});
$("form").onsubmit = async (e) => {
  e.preventDefault();
  const text = $("text").value.trim();
  const files = [...$("file").files];
  if (!text && !files.length) return;
  let attachments = [];
  try {
    attachments = await Promise.all(files.map(upload));
  } catch (err) {
    $("status").textContent = err.message;
    return;
  }
  $("text").value = "";
  $("file").value = "";
  typingSent = false;
  agent(attachments.length ? { eventType: "message", text, attachments } : { eventType: "message", text });
};
$("join").onclick = () => agent({ eventType: "escalationSuccess", agent: $("name").value || "Agent" });
$("leave").onclick = () => agent({ eventType: "agentDisconnect" });
keyInput.onchange = refresh;
refresh();
setInterval(refresh, 1500);
