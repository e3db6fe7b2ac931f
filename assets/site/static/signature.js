// The signature pad of the consent page: finger, pen or mouse (Pointer Events), drawn on the canvas and
// sent as strokes (lists of [x, y] fractions of the pad, y upwards, as the kiosk's pad sends them) in the
// hidden field "signature". The page works without it but for signing (the pad stays hidden).
(function () {
  "use strict";
  var pad = document.getElementById("pad");
  var canvas = document.getElementById("pad-canvas");
  var field = document.getElementById("signature");
  if (!pad || !canvas || !field || !canvas.getContext) { return; }
  pad.hidden = false;
  var ink = canvas.getContext("2d");
  ink.lineWidth = 4;
  ink.lineCap = "round";
  ink.lineJoin = "round";
  ink.strokeStyle = "#000";
  var strokes = [];
  var drawing = null;

  function point(event) {
    var box = canvas.getBoundingClientRect();
    var x = Math.min(Math.max((event.clientX - box.left) / box.width, 0), 1);
    var y = Math.min(Math.max((event.clientY - box.top) / box.height, 0), 1);
    return [Math.round(x * 10000) / 10000, Math.round((1 - y) * 10000) / 10000];
  }
  function at(p) { return [p[0] * canvas.width, (1 - p[1]) * canvas.height]; }

  canvas.addEventListener("pointerdown", function (event) {
    event.preventDefault();
    canvas.setPointerCapture(event.pointerId);
    drawing = [point(event)];
    strokes.push(drawing);
    var xy = at(drawing[0]);
    ink.beginPath();
    ink.arc(xy[0], xy[1], 2, 0, 2 * Math.PI);
    ink.fill();
    ink.beginPath();
    ink.moveTo(xy[0], xy[1]);
  });
  canvas.addEventListener("pointermove", function (event) {
    if (!drawing) { return; }
    event.preventDefault();
    var p = point(event);
    drawing.push(p);
    var xy = at(p);
    ink.lineTo(xy[0], xy[1]);
    ink.stroke();
  });
  function end() {
    drawing = null;
    field.value = strokes.length ? JSON.stringify(strokes) : "";
  }
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  document.getElementById("clear").addEventListener("click", function () {
    strokes = [];
    drawing = null;
    field.value = "";
    ink.clearRect(0, 0, canvas.width, canvas.height);
  });
}());
