// A lobby display: the calls pushed by the site service (Server-Sent Events), each new one shown and announced
// (a chime, then the call read aloud in each of the display's languages). Reconnects by itself; what it shows
// is always the service's latest list, so a display that was cut off catches up at once.
(function () {
  "use strict";
  var root = document.getElementById("display");
  var languages = root.dataset.languages.split(" ");
  var newest = Number(root.dataset.newest || 0);
  var sounds = [], playing = false, source = null;

  function show(calls) {
    var first = calls[0];
    document.getElementById("none").hidden = !!first;
    document.getElementById("newest-number").textContent = first ? first.number : "";
    document.getElementById("newest-counter").textContent = first ? first.counter : "";
    var body = document.getElementById("earlier");
    body.replaceChildren.apply(body, calls.slice(1).map(function (call) {
      var row = document.createElement("tr");
      [call.number, call.counter].forEach(function (text) {
        var cell = document.createElement("td");
        cell.textContent = text;
        row.appendChild(cell);
      });
      return row;
    }));
  }

  function play() {
    if (playing || !sounds.length) { return; }
    playing = true;
    var audio = new Audio(sounds.shift());
    var next = function () { playing = false; play(); };
    audio.onended = next;
    audio.onerror = next;
    audio.play().catch(function () {          // the browser wants a touch first: offer the button
      playing = false;
      sounds = [];
      document.getElementById("sound").hidden = false;
    });
  }

  function announce(call) {
    sounds.push(root.dataset.chime);
    languages.forEach(function (language) {
      sounds.push(root.dataset.audio.replace("/0/xx.wav", "/" + call.id + "/" + language + ".wav"));
    });
    play();
  }

  function connect() {
    source = new EventSource(root.dataset.events);
    source.addEventListener("calls", function (event) {
      document.getElementById("offline").hidden = true;
      var calls = JSON.parse(event.data).calls;
      show(calls);
      if (calls.length && calls[0].id > newest) {
        newest = calls[0].id;
        announce(calls[0]);
      }
    });
    source.onerror = function () {
      document.getElementById("offline").hidden = false;
      if (source.readyState === EventSource.CLOSED) {   // refused (e.g. the server restarting): try again
        window.setTimeout(connect, 3000);
      }
    };
  }

  document.getElementById("sound").addEventListener("click", function () {
    document.getElementById("sound").hidden = true;
    new Audio(root.dataset.chime).play().catch(function () {});
  });
  connect();
}());
