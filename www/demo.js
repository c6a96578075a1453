window.natterConfig = {
  bot: "demo",
  onLoad: async (chat) => {
    const log = document.getElementById("log");
    chat.on("*", (event) => {
      const { type, ...rest } = event;
      log.textContent += type + " " + JSON.stringify(rest, (k, v) => (v instanceof Node ? "[element]" : v)) + "\n";
      log.scrollTop = log.scrollHeight;
    });
    window.chat = chat; // try chat.changeView("mainWindow") in the console
    await chat.render();
  },
};
