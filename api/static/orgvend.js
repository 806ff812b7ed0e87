/* orgvend pages: live parts, catalogue filter, copy buttons. No inline script anywhere (CSP). */
(function () {
  "use strict";

  function signInAgain() {
    var here = window.location.pathname + window.location.search;
    window.location.assign("/signin?next=" + encodeURIComponent(here));
  }

  /* "3 min", "2 h": how long ago each <time data-age> was; kept current every second. */
  function ages() {
    var now = Date.now();
    document.querySelectorAll("time[data-age]").forEach(function (el) {
      var then = Date.parse(el.getAttribute("datetime"));
      if (isNaN(then)) { return; }
      var s = Math.max(0, Math.floor((now - then) / 1000));
      el.textContent = s >= 86400 ? Math.floor(s / 86400) + " d" : s >= 3600 ? Math.floor(s / 3600) + " h"
        : s >= 60 ? Math.floor(s / 60) + " min" : s + " s";
    });
  }

  /* Elements with data-poll="/partials/..." are refreshed in place every data-poll-ms.
     The generation the element shows is sent along; an unchanged part is answered 204. */
  function poll(el) {
    var url = el.getAttribute("data-poll");
    var every = parseInt(el.getAttribute("data-poll-ms") || "2000", 10);
    function finished() {
      var marker = el.querySelector("[data-final]");
      return marker !== null && marker.getAttribute("data-final") === "true";
    }
    function later() {
      if (!finished()) { window.setTimeout(tick, every); }
    }
    function tick() {
      if (document.hidden) { later(); return; }
      var headers = { "Accept": "text/html" };
      var shown = el.getAttribute("data-generation");
      if (shown) { headers["X-Orgvend-Generation"] = shown; }
      window.fetch(url, { credentials: "same-origin", cache: "no-store", headers: headers })
        .then(function (reply) {
          if (reply.status === 401) { signInAgain(); throw new Error("signed out"); }
          if (!reply.ok) { throw new Error("HTTP " + reply.status); }
          var generation = reply.headers.get("X-Orgvend-Generation");
          if (generation) { el.setAttribute("data-generation", generation); }
          return reply.status === 204 ? null : reply.text();
        })
        .then(function (html) {
          if (html !== null && html !== el.innerHTML) {
            el.innerHTML = html;
            ages();
            el.setAttribute("data-refreshed", String(Date.now()));
          }
          later();
        })
        .catch(function () { later(); });
    }
    later();
  }

  /* The catalogue search: every word must appear in the row or its group's heading. */
  function filter(input) {
    var root = document.querySelector(input.getAttribute("data-filter"));
    var count = document.getElementById("match-count");
    if (!root) { return; }
    var rows = [];
    root.querySelectorAll("[data-group]").forEach(function (group) {
      var heading = group.querySelector("h2");
      var prefix = heading ? heading.textContent + " " : "";
      var members = [];
      group.querySelectorAll("tr[data-row]").forEach(function (row) {
        members.push({ row: row, text: (prefix + row.textContent).toLowerCase() });
      });
      rows.push({ group: group, members: members });
    });
    function apply() {
      var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      var shown = 0;
      rows.forEach(function (entry) {
        var visible = 0;
        entry.members.forEach(function (m) {
          var match = words.every(function (w) { return m.text.indexOf(w) !== -1; });
          m.row.hidden = !match;
          if (match) { visible += 1; }
        });
        entry.group.hidden = visible === 0;
        shown += visible;
      });
      if (count) { count.textContent = shown + (shown === 1 ? " link" : " links"); }
    }
    input.addEventListener("input", apply);
    var q = new URLSearchParams(window.location.search).get("q");
    if (q) { input.value = q; }
    apply();
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "offscreen";
    document.body.appendChild(area);
    area.select();
    var ok = document.execCommand("copy");
    document.body.removeChild(area);
    return ok ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button.copy") : null;
    var row = button ? button.closest("tr") : null;
    var link = row ? row.querySelector("a.switch") : null;
    if (!link) { return; }
    copyText(link.href).then(function () {
      button.textContent = "Copied";
      button.classList.add("copied");
      window.setTimeout(function () { button.textContent = "Copy link"; button.classList.remove("copied"); }, 1500);
    }, function () { button.textContent = "Copy failed"; });
  });

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-poll]").forEach(poll);
    document.querySelectorAll("input[data-filter]").forEach(filter);
    ages();
    window.setInterval(ages, 1000);
  });
}());
