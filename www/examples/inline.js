// The configuration a host page sets before the embed script: render inside #chat.
window.natterConfig = { bot: "demo", element: "#chat" };
