// Live progress of running sweeps: every element with data-live="<sweep id>" is refreshed from
// /api/sweeps/<id>/status every 1.5 s; when a sweep ends the page reloads once to show its verdict.
(function () {
  "use strict";
  var PERIOD_MS = 1500;
  var MAX_POLLS = 40000; // about 16 hours: a forgotten tab stops polling
  var boxes = document.querySelectorAll("[data-live]");
  if (!boxes.length) { return; }
  var ids = Array.from(new Set(Array.from(boxes, function (b) { return b.getAttribute("data-live"); })));
  var polls = 0;

  function set(box, field, text) {
    var el = box.querySelector('[data-field="' + field + '"]');
    if (el) { el.textContent = text; }
  }

  function show(s) {
    document.querySelectorAll('[data-live="' + CSS.escape(s.sweep_id) + '"]').forEach(function (box) {
      set(box, "samples", s.samples.toLocaleString("en"));
      set(box, "planned", s.planned === null ? "?" : s.planned.toLocaleString("en"));
      set(box, "compared", s.compared.toLocaleString("en"));
      set(box, "disagreements", s.disagreements.toLocaleString("en"));
      set(box, "errors", s.errors.toLocaleString("en"));
      set(box, "status", s.status);
      set(box, "bounds", s.lower === null ? "—" : "[" + s.lower.toFixed(6) + ", " + s.upper.toFixed(6) + "]");
      var bar = box.querySelector('[data-field="bar"]');
      if (bar && s.planned) { bar.style.width = Math.min(100, 100 * s.samples / s.planned).toFixed(1) + "%"; }
    });
  }

  function tick() {
    polls += 1;
    Promise.all(ids.map(function (id) {
      return fetch("/api/sweeps/" + encodeURIComponent(id) + "/status", { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; });
    })).then(function (all) {
      var ended = false;
      all.forEach(function (s) {
        if (!s) { return; }
        show(s);
        if (s.status !== "running") { ended = true; }
      });
      if (ended) { window.location.reload(); return; }
      if (polls < MAX_POLLS) { window.setTimeout(tick, PERIOD_MS); }
    }).catch(function () {
      if (polls < MAX_POLLS) { window.setTimeout(tick, PERIOD_MS * 2); }
    });
  }
  tick();
}());
