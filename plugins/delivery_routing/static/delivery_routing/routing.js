/* Dispatcher pages: "use my location" for a depot pin, and the solve progress of a plan page
   (polls the plan's status.json; reloads the page once the background solve has finished). */
(function () {
  "use strict";
  var button = document.getElementById("use-location");
  if (button && navigator.geolocation) {
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.geolocation.getCurrentPosition(function (p) {
        document.getElementById("id_latitude").value = p.coords.latitude.toFixed(6);
        document.getElementById("id_longitude").value = p.coords.longitude.toFixed(6);
      });
    });
  }
  var box = document.querySelector("[data-solve-status]");
  if (!box || !window.fetch) return;
  var bar = box.querySelector("progress"), text = box.querySelector("[data-solve-text]");
  var note = box.querySelector("[data-solve-note]");
  function poll() {
    fetch(box.getAttribute("data-solve-status"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (s) {
        if (!s.solving) { window.location.reload(); return; }
        if (bar) bar.value = s.percent;
        if (text) text.textContent = s.job_label + " · " + Math.round(s.elapsed_s) + " / " + Math.round(s.budget_s) + " s";
        if (note) { note.textContent = s.note || ""; note.hidden = !s.note; }
        window.setTimeout(poll, 1500);
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, 1000);
})();
