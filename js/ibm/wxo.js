/* The watsonx Orchestrate embedded chat loader, served by `natter` as /wxochat/wxoLoader.js (and
 * /wxoLoader.js, the path of IBM's local/developer edition). A page written for Orchestrate
 * switches to Natter by pointing `hostURL` (from which it builds the script URL) at its Natter
 * server.
 *
 * Defines the global `wxoLoader`: `init(config = window.wxOConfiguration)` starts a widget —
 * `chatOptions.agentId` picks the bot (the bot whose bot.toml lists it under [ibm] agent_ids),
 * the options IBM and Natter share are mapped, the rest is named in one console.warn — hands the
 * IBM-shaped instance to `chatOptions.onLoad` and renders it (Orchestrate pages never call
 * render()). `destroy()` removes it again.
 */
/* global ibmClaimPage, ibmOrigin, ibmStart, ibmUnknownOptions */
ibmClaimPage("wxo");
(function () {
  var server = ibmOrigin("wxoLoader.js");
  var current = null;
  function destroy() {
    var was = current;
    current = null;
    if (was) was.then(function (inst) { if (inst) inst.destroy(); });
  }
  window.wxoLoader = {
    init: function (cfg) {
      var o = cfg || window.wxOConfiguration || {};
      ibmUnknownOptions("wxOConfiguration", o, {
        orchestrationID: 1, hostURL: 1, rootElementID: 1, showLauncher: 1, crn: 1, deploymentPlatform: 1, token: 1,
        defaultLocale: 1,
        chatOptions: { agentId: 1, agentEnvironmentId: 1, onLoad: 1 },
        layout: { form: 1, customElement: 1 },
        style: { primaryColor: 1, fontFamily: 1 },
      });
      var chatOptions = o.chatOptions || {};
      var layout = o.layout || {};
      var style = o.style || {};
      var options = {};
      if (layout.form === "custom") {
        if (!layout.customElement) throw new TypeError("wxoLoader.init: layout.form \"custom\" needs layout.customElement (the element to render into)");
        options.element = layout.customElement;
      }
      if (o.showLauncher !== undefined) options.showLauncher = o.showLauncher;
      if (o.token) options.authToken = o.token;
      if (o.defaultLocale) options.locale = o.defaultLocale;
      var theme = {};
      if (style.primaryColor) theme.primaryColor = style.primaryColor;
      if (style.fontFamily) theme.fontFamily = style.fontFamily;
      if (theme.primaryColor || theme.fontFamily) options.theme = theme;
      destroy();
      current = ibmStart({
        what: "wxOConfiguration.chatOptions.agentId",
        param: "agentId",
        id: chatOptions.agentId,
        server: server,
        options: options,
        onLoad: chatOptions.onLoad,
        render: true,
        classic: false,
        mount: o.rootElementID,
        session: false,
      });
      return current;
    },
    destroy: destroy,
  };
})();
