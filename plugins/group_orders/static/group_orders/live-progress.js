/* Live campaign progress without a full reload: every [data-live-progress] widget polls its JSON
   endpoint and swaps in the server-rendered widget; once the campaign has closed the widget shows
   the result (no data-live-progress any more) and polling stops. */
(function () {
  "use strict";
  if (!window.fetch) return;
  var PERIOD = 10000;
  function watch(el) {
    var url = el.getAttribute("data-live-progress");
    function tick() {
      if (document.hidden) { window.setTimeout(tick, PERIOD); return; }
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
        .then(function (data) {
          var box = document.createElement("div");
          box.innerHTML = data.html;
          var fresh = box.firstElementChild;
          if (fresh) { el.replaceWith(fresh); el = fresh; }
          if (data.open) window.setTimeout(tick, PERIOD);
        })
        .catch(function () { window.setTimeout(tick, PERIOD * 3); });
    }
    window.setTimeout(tick, PERIOD);
  }
  Array.prototype.forEach.call(document.querySelectorAll("[data-live-progress]"), watch);
})();
