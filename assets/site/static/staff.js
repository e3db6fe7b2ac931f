// The waiting list for staff: every button posts without leaving the page, the list follows every change at
// once (Server-Sent Events) and is redrawn without losing the keyboard's focus, new patients are said politely.
(function () {
  "use strict";
  var root = document.getElementById("staff");
  var rows = document.getElementById("rows");
  var status = document.getElementById("status");
  var announce = document.getElementById("announce");

  function numbers() {
    return Array.prototype.map.call(rows.querySelectorAll("tr"), function (row) { return row.dataset.number; });
  }

  function redraw() {
    return fetch(root.dataset.rows, {credentials: "same-origin", headers: {Accept: "text/html"}})
      .then(function (answer) {
        if (answer.status === 401) { window.location.reload(); }
        return answer.text();
      })
      .then(function (html) {
        var focused = document.activeElement && document.activeElement.id;
        var before = numbers();
        var template = document.createElement("template");
        template.innerHTML = html;                 // the server's own markup, every value escaped there
        rows.replaceChildren(template.content);
        document.getElementById("nobody").hidden = rows.children.length > 0;
        var joined = numbers().filter(function (number) { return before.indexOf(number) < 0; });
        if (joined.length && before.length + joined.length > 0) {
          announce.textContent = joined.map(function (number) {
            return root.dataset.joined.replace("{number}", number);
          }).join(" ");
        }
        if (focused && document.getElementById(focused) === null && rows.contains(document.activeElement) === false
            && document.activeElement === document.body) {
          document.getElementById("next").focus();   // its row went (called or done elsewhere)
        } else if (focused && document.getElementById(focused)) {
          document.getElementById(focused).focus();
        }
      });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.id === "settings" || form.closest(".who")) { return; }   // these reload the page
    event.preventDefault();
    fetch(form.action, {method: "POST", body: new FormData(form), credentials: "same-origin",
                        headers: {Accept: "application/json"}})
      .then(function (answer) {
        if (answer.status === 401 || answer.status === 403) { window.location.reload(); }   // signed out, or expired
        return answer.json();
      })
      .then(function (said) { status.textContent = said.message; return redraw(); })
      .catch(function () { status.textContent = document.getElementById("offline").textContent; });
  });

  function connect() {
    var source = new EventSource(root.dataset.events);
    source.addEventListener("list", function () {
      document.getElementById("offline").hidden = true;
      redraw();
    });
    source.onerror = function () {
      document.getElementById("offline").hidden = false;
      if (source.readyState === EventSource.CLOSED) {     // refused: signed out (redraw reloads), or busy
        redraw().catch(function () {});
        window.setTimeout(connect, 3000);
      }
    };
  }
  connect();
}());
