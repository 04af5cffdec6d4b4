// Live progress of a contact import running in a worker: poll progress.json and refresh the
// figures in place; once the import has ended, reload to show its result (or its error).
(function () {
  "use strict";
  var root = document.getElementById("import-progress");
  if (!root) { return; }
  var url = root.getAttribute("data-url");
  var started = root.getAttribute("data-status");

  var lang = document.documentElement.lang || "vi";

  function setText(id, value) {
    var el = document.getElementById(id);
    if (!el) { return; }
    if (value === null || value === undefined) { el.textContent = "…"; return; }
    el.textContent = typeof value === "number" ? value.toLocaleString(lang) : String(value);
  }

  function render(data) {
    if (data.status === "done" || (data.status === "failed" && started !== "failed")) {
      window.location.reload();
      return 0;
    }
    setText("i-status", data.status_label);
    setText("i-percent", data.percent);
    setText("i-rows", data.rows || 0);
    setText("i-accepted", (data.added || 0) + (data.updated || 0));
    setText("i-duplicates", data.duplicates || 0);
    setText("i-rejected", data.rejected_count || 0);
    var bar = document.getElementById("i-bar");
    if (bar && data.percent !== null && data.percent !== undefined) { bar.value = data.percent; }
    return data.status === "failed" ? 0 : 1500;
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (resp) { return resp.ok ? resp.json() : null; })
      .then(function (data) {
        var next = data ? render(data) : 5000;
        if (next) { setTimeout(poll, next); }
      })
      .catch(function () { setTimeout(poll, 5000); });
  }
  if (started !== "failed") { setTimeout(poll, 1000); }
})();
