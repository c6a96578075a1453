// The strict-CSP test page's setup (an external script: the page allows no inline script).
// Every CSP / Trusted Types violation is counted in window.violations.
window.violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  violations.push(e.violatedDirective + " " + e.blockedURI + " " + (e.sample || ""));
});
window.natterConfig = {
  bot: "t",
  persistence: "none",
  onLoad: (chat) => {
    window.chat = chat;
    window.natterLoaded = true;
  },
};
