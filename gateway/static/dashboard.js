// The home page's dashboards refresh themselves: every 30 s the page is fetched again and each
// block (campaigns in flight, the tip-line figures, the system's health) is replaced by its new
// version. Nothing else on the page moves. No inline script: the CSP allows only 'self'.
(function () {
  "use strict";
  var EVERY_MS = 30000;
  var BLOCKS = ["#campaigns-in-flight", ".inbox-dashboard", "#health"];

  function refresh() {
    fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html");
        BLOCKS.forEach(function (selector) {
          var now = document.querySelector(selector);
          var next = fresh.querySelector(selector);
          if (now && next) { now.replaceWith(document.importNode(next, true)); }
        });
      })
      .catch(function () { /* offline: try again at the next tick */ });
  }

  setInterval(refresh, EVERY_MS);
})();
