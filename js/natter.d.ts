// Types of the natter-chat package (hand-written; checked by tsc in tests/types).
// Events and payloads follow web-chat-events.txt; see docs/api.md.

/** Where the thread id is kept between page loads. */
export type Persistence = "local" | "session" | "none";

/** Theme values, set as CSS custom properties on the widget's host. */
export interface Theme {
  primaryColor?: string;
  backgroundColor?: string;
  textColor?: string;
  fontFamily?: string;
  borderRadius?: string;
  zIndex?: string;
}

/** UI strings (English by default). */
export interface Strings {
  title?: string;
  placeholder?: string;
  send?: string;
  launcher?: string;
  maximize?: string;
  minimize?: string;
  restart?: string;
  reconnecting?: string;
  typing?: string;
  feedbackPositive?: string;
  feedbackNegative?: string;
  feedbackTitle?: string;
  feedbackText?: string;
  feedbackSubmit?: string;
  feedbackThanks?: string;
  close?: string;
  handedOff?: string;
  agentJoined?: string;
  agentLeft?: string;
  closed?: string;
  sendFailed?: string;
  queueFull?: string;
  authFailed?: string;
  you?: string;
  bot?: string;
  agent?: string;
  /** The attach module's strings (docs/api.md, "Files"); `{name}` / `{max}` are filled in. */
  attachLabel?: string;
  attachRemove?: string;
  attachUploading?: string;
  attachTooLarge?: string;
  attachTooMany?: string;
  attachType?: string;
  attachNetwork?: string;
  attachFailed?: string;
  attachQuota?: string;
  attachName?: string;
  attachUploaded?: string;
  attachRemoved?: string;
}

export interface LoadChatOptions {
  /** The http(s) URL of the Natter server. Required. */
  serverUrl: string;
  bot?: string;
  /** Render inside this element (or the element a selector matches) instead of floating. */
  element?: Element | string;
  /** Default: true when floating, false inline. */
  showLauncher?: boolean;
  /** Default: false when floating, true inline. */
  openOnLoad?: boolean;
  /** Kept in memory only. */
  authToken?: string;
  /** A language tag such as "en" or "pt-BR". */
  locale?: string;
  strings?: Strings;
  theme?: Theme;
  persistence?: Persistence;
  /** How long an async handler may take before it is abandoned (default 10000). */
  handlerTimeoutMs?: number;
  /** Added to the browser session the bot's actions and handlers see (a plain JSON object,
   *  at most 4096 bytes as JSON; copied when `loadChat` runs), e.g. `{customerId: "c-42"}`. */
  context?: Record<string, unknown>;
  /**
   * `false`: no attach module: no attach button, drag-and-drop or paste of files, even when the
   * bot accepts files, and `file` items are left to `userDefinedResponse` handlers (default: the
   * controls exactly when the bot accepts files; files in the conversation drawn either way).
   */
  attachments?: boolean;
  /** Called with the instance before `loadChat` resolves; the embed renders only without it. */
  onLoad?: (instance: NatterChat) => void | Promise<void>;
}

export interface ViewState {
  launcher: boolean;
  mainWindow: boolean;
}

export type ViewChangeReason = "launcherClicked" | "chatLoaded" | "calledChangeView" | "mainWindowMinimized";

/** One content item of a message. */
export interface ContentItem {
  id?: string;
  response_type?: "text" | "option" | "carousel" | "user_defined" | "file" | (string & {});
  /** The same as `response_type` (on `pre:receive`, `receive` and `pre:threadLoaded` messages). */
  type?: string;
  text?: string;
  /** `file` items: a file sent with the message (docs/protocol.md §5.8). */
  file?: FileRef;
  [key: string]: unknown;
}

/** A file of a conversation. `type` is what the server found in the bytes. */
export type Attachment = FileRef;
/** A file of a conversation. `type` is what the server found in the bytes. */
export interface FileRef {
  id: string;
  name: string;
  type: string;
  size: number;
  /** A path on the Natter server (prefix `serverURL`); images are served inline, the rest as downloads. */
  url: string;
}

export interface Message {
  id?: string;
  role?: "user" | "assistant" | "agent";
  sender?: "user" | "response";
  content: ContentItem[];
  message_options?: Record<string, unknown>;
  /** On `pre:threadLoaded` messages: `{}`, or `{feedback: {isPositive}}` when the visitor rated it. */
  message_state?: { feedback?: { isPositive: boolean }; [key: string]: unknown };
  [key: string]: unknown;
}

export interface ChatReadyEvent { type: "chat:ready" }
export interface PreSendEvent {
  type: "pre:send";
  /**
   * Change `message.message.content` to change what is sent; remove items of
   * `message.message.attachments` to send fewer files. Nothing left (blank text, no files)
   * cancels the send.
   */
  message: { message: { content: string; attachments?: Attachment[] }; context?: Record<string, unknown> };
  silent: boolean;
}
export interface SendEvent { type: "send"; message: { message: { content: string; attachments?: Attachment[] }; context?: Record<string, unknown> } }
export interface PreStreamDeltaEvent {
  type: "pre:stream:delta";
  messageId: string;
  threadId: string;
  runId: string;
  /**
   * Set `delta.text` (a string) to replace this chunk's text, or `delta.content = []` to
   * suppress the chunk.
   */
  delta: { role: string; content: ContentItem[]; text?: string };
  /** The message so far (all earlier deltas). */
  message: Message;
}
export interface PreReceiveEvent { type: "pre:receive"; /** Change `message.content` to change what is rendered. */ message: Message }
export interface ReceiveEvent { type: "receive"; message: Message }
export interface PreRestartConversationEvent { type: "pre:restartConversation" }
export interface RestartConversationEvent { type: "restartConversation" }
export interface PreThreadLoadedEvent { type: "pre:threadLoaded"; /** Replace or edit to change what is shown. */ messages: Message[] }
export interface ViewPreChangeEvent {
  type: "view:pre:change";
  reason: ViewChangeReason;
  oldViewState: ViewState;
  /** Rewrite to change the new state; set it equal to `oldViewState` to veto. */
  newViewState: ViewState;
}
export interface ViewChangeEvent {
  type: "view:change";
  reason: ViewChangeReason;
  oldViewState: ViewState;
  newViewState: ViewState;
}
export interface ViewPropertiesPreChangeEvent { type: "view:properties:pre:change"; newViewState: { maximized: boolean } }
export interface ViewPropertiesChangeEvent { type: "view:properties:change"; newViewState: { maximized: boolean } }
export interface UserDefinedResponseEvent {
  type: "userDefinedResponse";
  contentItem: ContentItem;
  message: Message;
  /** Render your custom content into this element. */
  hostElement: HTMLElement;
}
export interface CustomEvent_ {
  type: "customEvent";
  customEventName: "buttonItemClicked" | (string & {});
  contentItem: ContentItem;
  message: Message;
  /** The clicked button (an `option` item's option, or a card's button). */
  button: { label?: string; value?: string; url?: string; [key: string]: unknown };
}
export interface FeedbackEvent {
  type: "feedback";
  messageItem: ContentItem;
  message: Message;
  isPositive: boolean;
  interactionType: "button" | "details";
  text?: string;
  categories?: string[];
}
export interface AuthTokenNeededEvent {
  type: "authTokenNeeded";
  /** The expired token or null; set it to the new token. */
  authToken: string | null;
}

/** Every event name and its payload. */
export interface NatterEventMap {
  "chat:ready": ChatReadyEvent;
  "pre:send": PreSendEvent;
  send: SendEvent;
  "pre:stream:delta": PreStreamDeltaEvent;
  "pre:receive": PreReceiveEvent;
  receive: ReceiveEvent;
  "pre:restartConversation": PreRestartConversationEvent;
  restartConversation: RestartConversationEvent;
  "pre:threadLoaded": PreThreadLoadedEvent;
  "view:pre:change": ViewPreChangeEvent;
  "view:change": ViewChangeEvent;
  "view:properties:pre:change": ViewPropertiesPreChangeEvent;
  "view:properties:change": ViewPropertiesChangeEvent;
  userDefinedResponse: UserDefinedResponseEvent;
  customEvent: CustomEvent_;
  feedback: FeedbackEvent;
  authTokenNeeded: AuthTokenNeededEvent;
}

export type NatterEventName = keyof NatterEventMap;
export type NatterEvent = NatterEventMap[NatterEventName];

/** A handler; a returned promise is awaited before the next handler runs. */
export type Handler<E> = (event: E, instance: NatterChat) => void | Promise<void>;

/** `{type, handler}` for one event name, or `*` for every event. */
export type Registration =
  | { [K in NatterEventName]: { type: K; handler: Handler<NatterEventMap[K]> } }[NatterEventName]
  | { type: "*"; handler: Handler<NatterEvent> };

export interface ChatState {
  view: ViewState & { maximized: boolean };
  threadId: string | null;
  locale: string;
  /** Whether `chat:ready` has fired. */
  ready: boolean;
}

export declare class NatterChat {
  private constructor();
  on<K extends NatterEventName>(type: K, handler: Handler<NatterEventMap[K]>): this;
  on(type: "*", handler: Handler<NatterEvent>): this;
  on(registration: Registration | readonly Registration[]): this;
  once<K extends NatterEventName>(type: K, handler: Handler<NatterEventMap[K]>): this;
  once(type: "*", handler: Handler<NatterEvent>): this;
  once(registration: Registration | readonly Registration[]): this;
  /** `off(type, handler)` removes that handler, `off(type)` every handler of `type`. */
  off<K extends NatterEventName>(type: K, handler?: Handler<NatterEventMap[K]>): this;
  off(type: "*", handler?: Handler<NatterEvent>): this;
  off(registration: Registration | readonly Registration[]): this;
  /** Renders; resolves after the `chat:ready` handlers ran. Idempotent. */
  render(): Promise<void>;
  /** Resolves after the `send` handlers ran, which is once the server acknowledged the message. */
  /**
   * `label`: shown in the transcript instead of `text` (which is what the bot gets); `context`:
   * an object that goes to the bot with the message (`event.message.context` on `pre:send`);
   * `attachments`: files uploaded to the thread (`POST /v1/threads/{id}/attachments`) that go
   * with it (`text` may then be "").
   */
  send(
    text: string,
    options?: { silent?: boolean; label?: string; context?: Record<string, unknown>; attachments?: Attachment[] },
  ): Promise<void>;
  changeView(view: "launcher" | "mainWindow" | Partial<ViewState>): Promise<void>;
  changeViewProperties(properties: { maximized: boolean }): Promise<void>;
  restartConversation(): Promise<void>;
  loadThreadById(threadId: string): Promise<void>;
  updateAuthToken(token: string | null): void;
  updateLocale(locale: string): void;
  getState(): ChatState;
  /** Removes every node, listener and handler; afterwards other methods throw. */
  destroy(): void;
}

/** Creates a widget; rejects with a TypeError when the options are wrong. */
export declare function loadChat(options: LoadChatOptions): Promise<NatterChat>;

/** Starts loading the wasm early (optional). */
export declare function preload(source?: string | URL | Response | Promise<Response>): Promise<unknown>;
