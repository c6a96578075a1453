// The console is a CRM client like any other: it reads what Natter's local CRM received
// (GET /local-crm/api/conversations) and answers through the public agent API
// (POST /agent/converse/send-message-to-widget), with the bot's CRM API key.
// Text is only ever set with textContent: nothing from a visitor becomes HTML.
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
$("form").onsubmit = (e) => {
  e.preventDefault();
  const text = $("text").value.trim();
  if (!text) return;
  $("text").value = "";
  typingSent = false;
  agent({ eventType: "message", text });
};
$("join").onclick = () => agent({ eventType: "escalationSuccess", agent: $("name").value || "Agent" });
$("leave").onclick = () => agent({ eventType: "agentDisconnect" });
keyInput.onchange = refresh;
refresh();
setInterval(refresh, 1500);
