// What `import { loadChat } from "natter-chat"` resolves to when the package is served by natter.
import { loadChat } from "/widget/natter.js";

const chat = await loadChat({ serverUrl: location.origin, bot: "demo", openOnLoad: true,
  theme: { primaryColor: "#7c3aed" }, strings: { title: "Demo (npm)" } });
chat.on("pre:send", (e) => { e.message.message.content = e.message.message.content.toUpperCase(); });
await chat.render();
