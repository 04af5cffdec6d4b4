// Live inbox count: polls /inbox/count.json and shows it beside the inbox menu entry and in
// any element marked data-inbox-count. No inline script: the CSP allows only 'self'.
(function () {
  "use strict";
  var URL = "/inbox/count.json";
  var EVERY_MS = 30000;
  // The tooltip's words come from the page, so they follow the UI language.
  var meta = document.querySelector('meta[name="loa-count-title"]');
  var TITLE = meta ? meta.getAttribute("content") : "";

  function badges() {
    var found = Array.prototype.slice.call(document.querySelectorAll("[data-inbox-count]"));
    var link = document.querySelector('header nav a[href="/inbox/"]');
    if (link && !link.querySelector("[data-inbox-count]")) {
      var span = document.createElement("span");
      span.className = "badge";
      span.setAttribute("data-inbox-count", "");
      span.hidden = true;
      link.appendChild(document.createTextNode(" "));
      link.appendChild(span);
      found.push(span);
    }
    return found;
  }

  function show(counts) {
    badges().forEach(function (el) {
      el.textContent = String(counts.unread) + " / " + String(counts.open);
      el.title = TITLE + " " + String(counts.overdue);
      el.classList.toggle("urgent", counts.overdue > 0);
      el.hidden = false;
    });
  }

  // In the open inbox, a newer tip than the page was opened with is announced; a new urgent
  // one as an alert (screen readers read it at once). The list itself is not reloaded under
  // the operator's hands: the banner offers it.
  var banner = document.getElementById("new-tips");
  var seen = null;

  function announce(counts) {
    if (!banner || counts.latest === undefined) { return; }
    if (seen === null) { seen = { latest: counts.latest, urgent: counts.urgent }; return; }
    if (counts.latest <= seen.latest && counts.urgent <= seen.urgent) { return; }
    var urgent = counts.urgent > seen.urgent;
    banner.querySelector("span").textContent =
      banner.getAttribute(urgent ? "data-text-urgent" : "data-text-new");
    banner.classList.toggle("error", urgent || banner.classList.contains("error"));
    banner.setAttribute("role", urgent ? "alert" : "status");
    banner.hidden = false;
    seen = { latest: Math.max(seen.latest, counts.latest), urgent: Math.max(seen.urgent, counts.urgent) };
  }

  function poll() {
    fetch(URL, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (counts) { if (counts) { show(counts); announce(counts); } })
      .catch(function () { /* offline: try again at the next tick */ });
  }

  // On a phone the inbox's filter box starts folded (unless a filter is in use), so the tips
  // come first; without JavaScript it stays open.
  var filters = document.querySelector("details.filter-box");
  if (filters && !filters.hasAttribute("data-filtering") &&
      window.matchMedia && window.matchMedia("(max-width: 700px)").matches) {
    filters.open = false;
  }

  poll();
  setInterval(poll, EVERY_MS);
})();
