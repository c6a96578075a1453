// Calls that must type-check, with the payload types they must infer.
import { loadChat, type Attachment, type NatterChat, type NatterEventMap, type Registration } from "natter-chat";

async function main(): Promise<void> {
  const chat: NatterChat = await loadChat({
    serverUrl: "https://chat.example.com",
    bot: "acme",
    element: "#chat",
    showLauncher: false,
    openOnLoad: true,
    locale: "pt-BR",
    strings: { title: "Ajuda", attachLabel: "Anexar" },
    attachments: true,
    theme: { primaryColor: "#0a5", borderRadius: "8px" },
    persistence: "session",
    handlerTimeoutMs: 2000,
    context: { customerId: "c-42", plan: { tier: 2 } },
    onLoad: async (c) => {
      await c.render();
    },
  });

  chat
    .on("pre:send", (event, instance) => {
      const text: string = event.message.message.content;
      event.message.message.content = text.trim();
      // a handler drops the PDFs it does not want sent
      const files: Attachment[] = event.message.message.attachments ?? [];
      event.message.message.attachments = files.filter((f) => f.type !== "application/pdf");
      const bytes: number = files.reduce((n, f) => n + f.size, 0);
      void bytes;
      instance.getState();
    })
    .on("pre:stream:delta", async (e) => {
      const t: string | undefined = e.delta.content[0]?.text;
      if (t === "secret") e.delta.content = [];
      e.delta.text = (t ?? "").toUpperCase();
      const id: string = e.messageId + e.threadId + e.runId;
      void id;
    })
    .on("pre:threadLoaded", (e) => {
      const rated: boolean | undefined = e.messages[0]?.message_state?.feedback?.isPositive;
      const kind: string | undefined = e.messages[0]?.content[0]?.type;
      void rated, kind;
    })
    .once("view:pre:change", (e) => {
      if (e.reason === "launcherClicked") e.newViewState = { launcher: false, mainWindow: true };
      const old: boolean = e.oldViewState.mainWindow;
      void old;
    })
    .on("view:properties:pre:change", (e) => {
      e.newViewState.maximized = false;
    })
    .on("authTokenNeeded", async (e) => {
      e.authToken = e.authToken ?? "fresh";
    })
    .on("userDefinedResponse", (e) => {
      e.hostElement.textContent = String(e.contentItem.text);
    })
    .on("feedback", (e) => {
      const positive: boolean = e.isPositive;
      const kind: "button" | "details" = e.interactionType;
      void positive, kind;
    })
    .on("*", (e) => {
      const name: keyof NatterEventMap = e.type;
      void name;
    });

  const regs: Registration[] = [
    { type: "receive", handler: (e) => void e.message.content },
    { type: "chat:ready", handler: () => {} },
    { type: "*", handler: (e) => void e.type },
  ];
  chat.on(regs).on(regs[0]!).off(regs);
  const h = (e: NatterEventMap["send"]) => void e.message;
  chat.on("send", h).off("send", h).off("send").off("*");

  await chat.send("hello", { silent: true });
  const photo: Attachment = { id: "att_1", name: "dent.png", type: "image/png", size: 48213, url: "/v1/threads/t/attachments/att_1" };
  await chat.send("", { attachments: [photo] });
  await chat.changeView("mainWindow");
  await chat.changeView({ launcher: true });
  await chat.changeViewProperties({ maximized: true });
  await chat.restartConversation();
  await chat.loadThreadById("t1");
  chat.updateAuthToken(null);
  chat.updateLocale("en");
  const s = chat.getState();
  const open: boolean = s.view.mainWindow && s.view.maximized;
  const thread: string | null = s.threadId;
  void open, thread;
  chat.destroy();
}
void main;
