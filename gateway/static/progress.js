// Live campaign progress: poll progress.json every few seconds and refresh the figures in place.
// The page is rendered complete by the server, so it stays readable without this script.
(function () {
  "use strict";
  var root = document.getElementById("progress");
  if (!root) { return; }
  var url = root.getAttribute("data-url");
  var FINAL = { completed: true, cancelled: true };

  var lang = document.documentElement.lang || "vi";

  function setText(id, value) {
    var el = document.getElementById(id);
    if (el) { el.textContent = value === null || value === undefined ? "—" : String(value); }
  }

  // Counts as the page's language writes them (1.200.000 in Vietnamese), as the server does.
  function setCount(id, value) {
    setText(id, typeof value === "number" ? value.toLocaleString(lang) : value);
  }

  function render(data) {
    setText("p-status", data.status_label);
    setCount("p-done", data.done);
    setCount("p-total", data.total);
    setText("p-percent", data.percent_done);
    setText("p-rate", data.rate_per_second);
    setText("p-eta", data.eta_text);
    var bar = document.getElementById("p-bar");
    if (bar) { bar.value = data.percent_done; }
    var paused = document.getElementById("p-paused");
    if (paused) { paused.hidden = !data.paused_reason_label; }
    setText("p-paused-reason", data.paused_reason_label || "");
    var win = document.getElementById("p-window");
    if (win) { win.textContent = data.window_open ? win.getAttribute("data-open") || "✓" : win.getAttribute("data-closed") || "✗"; }
    var next = document.getElementById("p-next-opening-wrap");
    if (next) { next.hidden = data.window_open; }
    setText("p-next-opening", data.next_opening_local);
    Object.keys(data.counts).forEach(function (status) { setCount("p-count-" + status, data.counts[status]); });
    var errors = document.getElementById("p-errors");
    if (errors) {
      errors.replaceChildren();
      Object.keys(data.errors_by_code).forEach(function (code) {
        var tr = document.createElement("tr");
        var a = document.createElement("td");
        a.textContent = code === "unknown" ? errors.getAttribute("data-unknown") || code : code;
        var b = document.createElement("td"); b.className = "num"; b.textContent = data.errors_by_code[code].toLocaleString(lang);
        tr.appendChild(a); tr.appendChild(b); errors.appendChild(tr);
      });
      if (!errors.children.length) {
        var none = document.createElement("tr");
        var cell = document.createElement("td");
        cell.colSpan = 2; cell.className = "muted"; cell.textContent = errors.getAttribute("data-none") || "";
        none.appendChild(cell); errors.appendChild(none);
      }
    }
    // After the end, receipts keep moving "sent" to "delivered" for a while: keep polling
    // (more slowly) until none is left waiting for its receipt.
    if (!FINAL[data.status]) { return 3000; }
    return data.counts.sent ? 10000 : 0;
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (resp) { return resp.ok ? resp.json() : null; })
      .then(function (data) {
        var next = data ? render(data) : 10000;
        if (next) { setTimeout(poll, next); }
      })
      .catch(function () { setTimeout(poll, 10000); });
  }
  setTimeout(poll, 3000);
})();
