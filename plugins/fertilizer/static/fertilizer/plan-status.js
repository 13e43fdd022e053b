/* Recommendation page: while the bag plan is worked out in the background, poll its status.json
   and reload the page once the job has finished (the page then shows the plan as usual). */
(function () {
  "use strict";
  var box = document.querySelector("[data-plan-status]");
  if (!box || !window.fetch) return;
  var note = box.querySelector("[data-plan-note]");
  function poll() {
    fetch(box.getAttribute("data-plan-status"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (s) {
        if (!s.solving) { window.location.reload(); return; }
        if (note) { note.textContent = s.note || ""; note.hidden = !s.note; }
        window.setTimeout(poll, 1000);
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, 700);
})();
