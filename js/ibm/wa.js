/* The classic watsonx Assistant web chat loader, served by `natter` as /WatsonAssistantChatEntry.js
 * (and /versions/<any>/WatsonAssistantChatEntry.js, the path IBM's embed code builds). A page
 * written for IBM switches to Natter by pointing that one script URL at its Natter server.
 *
 * Reads window.watsonAssistantChatOptions once, when it runs: `integrationID` picks the bot (the
 * bot whose bot.toml lists it under [ibm] integration_ids), the options IBM and Natter share are
 * mapped, the rest is named in one console.warn. Then `onLoad(instance)` gets the IBM-shaped
 * instance and, as with IBM, the page calls `instance.render()` (without onLoad the widget
 * renders at once).
 */
/* global ibmClaimPage, ibmOrigin, ibmStart, ibmUnknownOptions */
ibmClaimPage("wa");
(function () {
  var o = window.watsonAssistantChatOptions || {};
  ibmUnknownOptions("watsonAssistantChatOptions", o, {
    integrationID: 1, region: 1, serviceInstanceID: 1, subscriptionID: 1, clientVersion: 1, onLoad: 1, debug: 1,
    element: 1, showLauncher: 1, openChatByDefault: 1, disableSessionHistory: 1, pageLinkConfig: 1,
  });
  var options = {};
  if (o.element) options.element = o.element;
  if (o.showLauncher !== undefined) options.showLauncher = o.showLauncher;
  if (o.openChatByDefault !== undefined) options.openOnLoad = o.openChatByDefault;
  if (o.disableSessionHistory) options.persistence = "none";
  ibmStart({
    what: "watsonAssistantChatOptions.integrationID",
    param: "integrationID",
    id: o.integrationID,
    server: ibmOrigin("WatsonAssistantChatEntry.js"),
    options: options,
    onLoad: o.onLoad,
    classic: true,
    links: o.pageLinkConfig,
    session: !o.disableSessionHistory,
  });
})();
