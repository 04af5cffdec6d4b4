// Live SMS facts in the composer: on input, POST the text to /campaigns/sms-info and refresh the
// encoding, segment counts and the highlighted characters that force UCS-2. The page shows the
// same facts rendered by the server, so it works without this script (CSP: no inline scripts).
(function () {
  "use strict";
  var body = document.getElementById("body");
  if (!body) { return; }
  var url = body.getAttribute("data-sms-info");
  var tokenInput = document.querySelector("#composer input[name=csrf_token]");
  var timer = null;
  var latest = 0;

  function setText(id, value) {
    var el = document.getElementById(id);
    if (el) { el.textContent = String(value); }
  }

  function mark(text) {
    var m = document.createElement("mark");
    m.className = "nongsm";
    m.textContent = text;
    return m;
  }

  function render(info) {
    setText("sms-encoding", info.encoding);
    setText("sms-segments", info.segments);
    setText("sms-characters", info.characters);
    setText("sms-ascii-segments", info.ascii_variant_segments);
    setText("sms-ascii", info.ascii_variant);
    var list = document.getElementById("sms-nongsm");
    if (list) {
      if (!list.hasAttribute("data-none")) {  // remember the server's translated "none"
        var none = list.querySelector(".muted");
        list.setAttribute("data-none", none ? none.textContent : "—");
      }
      list.replaceChildren();
      info.non_gsm_list.forEach(function (ch) {
        list.appendChild(mark(ch));
        list.appendChild(document.createTextNode(" "));
      });
      if (!info.non_gsm_list.length) {
        var span = document.createElement("span");
        span.className = "muted";
        span.textContent = list.getAttribute("data-none");
        list.appendChild(span);
      }
    }
    var out = document.getElementById("sms-highlight");
    if (out) {
      out.replaceChildren();
      info.spans.forEach(function (span) {
        out.appendChild(span.mark ? mark(span.text) : document.createTextNode(span.text));
      });
    }
  }

  function refresh() {
    var ticket = ++latest;
    var data = new FormData();
    data.append("text", body.value);
    var headers = {};
    if (tokenInput) { headers["X-CSRFToken"] = tokenInput.value; }
    fetch(url, { method: "POST", body: data, headers: headers, credentials: "same-origin" })
      .then(function (resp) { return resp.ok ? resp.json() : null; })
      .then(function (info) { if (info && ticket === latest) { render(info); } })
      .catch(function () { /* the server-rendered facts stay; the next keystroke retries */ });
  }

  body.addEventListener("input", function () {
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(refresh, 250);
  });
})();

// The route ("Loa gửi" or "nhờ nhà mạng gửi") shows only the fields that route uses; without
// this script every field shows and the server ignores those of the other route.
(function () {
  "use strict";
  var radios = document.querySelectorAll("#route input[name=route]");
  if (!radios.length) { return; }
  function follow() {
    var chosen = document.querySelector("#route input[name=route]:checked");
    var route = chosen ? chosen.value : "direct";
    document.querySelectorAll("[data-route]").forEach(function (el) {
      el.hidden = el.getAttribute("data-route") !== route;
    });
  }
  radios.forEach(function (r) { r.addEventListener("change", follow); });
  follow();
}());
