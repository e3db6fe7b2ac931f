// The desk page: asks for the open incidents every second (urgent first, as the server orders them), redraws
// when they change, and sends the staff actions as POSTs with the session's CSRF token. All text comes
// translated from the server (an incident's sentence and its detail lines); incident fields are set as text,
// never as HTML. A redraw keeps the keyboard's focus where it was (the same button, else the incident's first,
// else the one now in its place); every button names its incident; new incidents are said politely.
"use strict";
(function () {
  const config = JSON.parse(document.getElementById("desk-config").textContent);
  const t = config.t;
  const list = document.getElementById("incidents");
  const status = document.getElementById("status");
  const dialog = document.getElementById("dialog");
  const announce = document.getElementById("announce");
  const labels = {
    take: t.take, resolve: t.resolve, reprint_ticket: t.reprint_ticket,
    reprint_wristband: t.reprint_wristband, resend: t.resend, cancel: t.cancel,
  };
  let shown = "";
  let pending = null;     // {incident, action} waiting for the dialog's answer
  let opener = null;      // where the focus was when the dialog opened (focusOf)
  let unreachableShown = "";
  let known = null;       // the keys of the incidents shown (null: nothing drawn yet, nothing to announce)

  function key(incident) {
    return encodeURIComponent(incident.kiosk_id) + "-" + incident.id;
  }

  // A translated sentence with its {placeholders} filled in, as text.
  function fill(template, values) {
    return Object.keys(values).reduce(function (text, name) {
      return text.split("{" + name + "}").join(values[name]);
    }, template);
  }

  function named(action, incident) {
    return fill(t.for_incident, {action: action, what: incident.text, kiosk: incident.kiosk});
  }

  // Where the keyboard's focus was: the element, its incident and that incident's place in the list.
  function focusOf(element) {
    const item = element && list.contains(element) ? element.closest("li") : null;
    return item ? {id: element.id, item: item.id, index: [...list.children].indexOf(item)} : null;
  }

  // Back there after a redraw: the same button, else its incident's first, else the one now in its place.
  function refocus(was) {
    const same = document.getElementById(was.id);
    const item = document.getElementById(was.item);
    const inPlace = list.children[Math.min(was.index, list.children.length - 1)];
    const target = same || (item && item.querySelector("button")) || (inPlace && inPlace.querySelector("button"));
    (target || document.getElementById("none")).focus();
  }

  function element(tag, className, text) {
    const e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // Kiosks of the site that did not answer: one line each, the others are listed all the same.
  function drawUnreachable(lines) {
    const json = JSON.stringify(lines);
    if (json === unreachableShown) return;
    unreachableShown = json;
    document.getElementById("unreachable").replaceChildren(...lines.map(function (line) {
      return element("li", "peer-down", line);
    }));
  }

  function draw(incidents) {
    const json = JSON.stringify(incidents);
    if (json === shown) return;
    shown = json;
    document.getElementById("none").hidden = incidents.length > 0;
    const focused = focusOf(document.activeElement);
    const keys = incidents.map(key);
    if (known !== null) {
      const added = incidents.filter(function (incident) { return !known.has(key(incident)); });
      if (added.length) {
        announce.textContent = added.map(function (incident) {
          return fill(t.new_incident, {kiosk: incident.kiosk, what: incident.text});
        }).join(" ");
      }
    }
    known = new Set(keys);
    list.replaceChildren(...incidents.map(function (incident) {
      const item = element("li", "incident " + incident.severity);
      item.id = "incident-" + key(incident);
      item.dataset.incidentId = incident.id;
      item.dataset.kiosk = incident.kiosk_id;
      item.dataset.kind = incident.kind;
      item.dataset.status = incident.status;
      item.append(element("p", "what", incident.text));
      incident.details.forEach(function (line) { item.append(element("p", "detail", line)); });
      const facts = element("p", "facts");
      facts.append(element("span", "severity", incident.severity_text), element("span", "time", incident.time),
                   element("span", "kiosk", incident.kiosk), element("span", "state", incident.status_text));
      if (incident.queue) facts.append(element("span", "queue", incident.queue));
      item.append(facts);
      const actions = element("div", "actions");
      incident.actions.forEach(function (action) {
        const button = element("button", "action", labels[action]);
        button.setAttribute("aria-label", named(labels[action], incident));
        button.id = action + "-" + key(incident);
        button.type = "button";
        button.dataset.action = action;
        button.addEventListener("click", function () { ask(incident, action); });
        actions.append(button);
      });
      item.append(actions);
      return item;
    }));
    if (focused) refocus(focused);
  }

  async function poll() {
    try {
      const response = await fetch("/api/incidents", {cache: "no-store", credentials: "same-origin"});
      if (response.status === 401) { window.location.assign("/login"); return; }
      if (!response.ok) throw new Error(response.status);
      const answer = await response.json();
      draw(answer.incidents);
      drawUnreachable(answer.unreachable || []);
      document.getElementById("offline").hidden = true;
    } catch (e) {
      document.getElementById("offline").hidden = false;
    }
  }

  function say(text, isError) {
    status.textContent = text || "";
    status.classList.toggle("error", Boolean(isError));
  }

  function ask(incident, action) {
    if (action !== "resolve" && action !== "cancel") { send(incident, action, {}); return; }
    pending = {incident: incident, action: action};
    opener = focusOf(document.activeElement);
    const resolving = action === "resolve";
    document.getElementById("dialog-question").textContent =
      resolving ? named(labels.resolve, incident) : t.cancel_question;
    document.getElementById("how").hidden = !resolving;
    document.getElementById("how-label").hidden = !resolving;
    document.getElementById("how").value = "done";
    document.getElementById("note").value = "";
    dialog.showModal();
  }

  // Every action goes to this kiosk's server, which does it or forwards it to the kiosk of the incident.
  async function send(incident, action, fields) {
    const body = new URLSearchParams(fields);
    const url = "/api/kiosks/" + encodeURIComponent(incident.kiosk_id) + "/incidents/" +
                encodeURIComponent(incident.id) + "/" + encodeURIComponent(action);
    try {
      const response = await fetch(url, {
        method: "POST", body: body, credentials: "same-origin",
        headers: {"X-CSRF-Token": config.csrf},
      });
      if (response.status === 401) { window.location.assign("/login"); return; }
      const answer = await response.json();
      say(answer.message || answer.error, !response.ok);
    } catch (e) {
      say(t.offline, true);
    }
    poll();
  }

  document.getElementById("dialog-form").addEventListener("submit", function () {
    if (pending === null) return;
    const fields = {note: document.getElementById("note").value};
    if (pending.action === "resolve") fields.how = document.getElementById("how").value;
    send(pending.incident, pending.action, fields);
    pending = null;
  });
  // The list may have been redrawn under the dialog: the button that opened it may be gone.
  dialog.addEventListener("close", function () {
    if (opener && !list.contains(document.activeElement)) refocus(opener);
    opener = null;
  });
  document.getElementById("dialog-back").addEventListener("click", function () {
    pending = null;
    dialog.close();
  });

  poll();
  window.setInterval(poll, config.poll_ms);
})();
