// Click on the warehouse map → fill latitude / longitude (the SVG carries its bounding box).
document.querySelectorAll("[data-map-picker] svg.map").forEach(function (svg) {
  svg.style.cursor = "crosshair";
  svg.addEventListener("click", function (e) {
    var r = svg.getBoundingClientRect(), d = svg.dataset;
    var lon = +d.west + (e.clientX - r.left) / r.width * (d.east - d.west);
    var lat = +d.north - (e.clientY - r.top) / r.height * (d.north - d.south);
    var form = svg.closest(".card").querySelector("form");
    form.querySelector("[data-lat]").value = lat.toFixed(6);
    form.querySelector("[data-lon]").value = lon.toFixed(6);
  });
});
