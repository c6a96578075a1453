// Every statement here is a mistake the types must catch. Each is marked @ts-expect-error:
// if one of them ever compiles, tsc reports an unused directive and the check fails.
import { loadChat, type NatterChat } from "natter-chat";

declare const chat: NatterChat;

// @ts-expect-error misspelt event name
chat.on("pre:sned", () => {});
// @ts-expect-error unknown event in the object form
chat.on({ type: "recieve", handler: () => {} });
// @ts-expect-error a handler that is not a function
chat.on("send", "handler");
// @ts-expect-error payload of pre:send has no delta
chat.on("pre:send", (e) => e.delta);
// @ts-expect-error content of a sent message is a string
chat.on("pre:send", (e) => { e.message.message.content = 42; });
// @ts-expect-error newViewState needs booleans
chat.on("view:pre:change", (e) => { e.newViewState = { launcher: "yes", mainWindow: true }; });
// @ts-expect-error handler and type mismatch in a registration object
chat.on({ type: "send", handler: (e: { type: "receive" }) => void e });
// @ts-expect-error changeView takes "launcher" | "mainWindow" | a partial view state
chat.changeView("window");
// @ts-expect-error changeViewProperties needs maximized
chat.changeViewProperties({});
// @ts-expect-error send takes a string
chat.send(42);
// @ts-expect-error serverUrl is required
loadChat({ bot: "acme" });
// @ts-expect-error persistence is one of local | session | none
loadChat({ serverUrl: "https://x", persistence: "cookie" });
// @ts-expect-error unknown theme key
loadChat({ serverUrl: "https://x", theme: { colour: "red" } });
// @ts-expect-error the state has no "open"
chat.getState().view.open;
// @ts-expect-error instances are created by loadChat, not new
new (chat.constructor as typeof NatterChat)();
// @ts-expect-error attachments are file objects, not ids
chat.send("", { attachments: ["att_1"] });
// @ts-expect-error the attachments option is a boolean
loadChat({ serverUrl: "https://x", attachments: "no" });
