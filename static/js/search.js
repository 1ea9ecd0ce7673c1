/* Search page: "use my location", a busy state, and a map kept in step with the list.
   Everything here is an enhancement: without it the form and the list work in full. */
(function () {
  "use strict";
  var form = document.getElementById("search-form");
  if (!form) { return; }
  var status = document.getElementById("search-status");
  var locate = document.getElementById("use-location");
  var lat = document.getElementById("lat");
  var lng = document.getElementById("lng");
  var near = document.getElementById("near");

  if (near) {
    near.addEventListener("input", function () { lat.value = ""; lng.value = ""; });
  }
  // Shorter, cleaner URLs to bookmark and share: empty fields mean "any" and are left out.
  form.addEventListener("formdata", function (event) {
    var empty = [];
    event.formData.forEach(function (value, name) { if (value === "") { empty.push(name); } });
    empty.forEach(function (name) { event.formData.delete(name); });
  });
  form.addEventListener("submit", function () {
    var button = document.getElementById("search-button");
    if (button) { button.setAttribute("aria-busy", "true"); button.disabled = true; }
    if (status) { status.textContent = "Searching…"; }
  });

  if (locate && navigator.geolocation) {
    locate.hidden = false;
    locate.addEventListener("click", function () {
      status.textContent = "Finding your location…";
      locate.disabled = true;
      navigator.geolocation.getCurrentPosition(function (pos) {
        lat.value = pos.coords.latitude.toFixed(5);
        lng.value = pos.coords.longitude.toFixed(5);
        if (near) { near.value = ""; }
        status.textContent = "Searching near your location…";
        form.submit();
      }, function (err) {
        locate.disabled = false;
        status.textContent = err && err.code === 1
          ? "Location permission was refused. Type a postcode or town instead."
          : "We could not find your location. Type a postcode or town instead.";
      }, { timeout: 10000, maximumAge: 600000 });
    });
  }

  var dataNode = document.getElementById("map-data");
  var mapNode = document.getElementById("map");
  if (!dataNode || !mapNode || typeof L === "undefined") { return; }
  var data = JSON.parse(dataNode.textContent);
  var map = L.map(mapNode, { keyboard: true, scrollWheelZoom: false });
  var tiles = L.tileLayer(data.tiles.url, { attribution: data.tiles.attribution, maxZoom: 18 });
  // Without its background (offline, or the tile server down) the map says so, rather than
  // showing a grey box: the markers and the list still hold every result.
  tiles.once("tileerror", function () {
    var note = document.getElementById("map-note");
    if (note) { note.hidden = false; }
  });
  tiles.addTo(map);
  // A search by name alone has no searched place: the map fits the results only.
  var bounds = data.origin ? [[data.origin.lat, data.origin.lng]] : [];
  var origin = data.origin ? L.circleMarker([data.origin.lat, data.origin.lng],
    { radius: 6, color: "#b3261e" }).addTo(map).bindTooltip("You searched: " + data.origin.label) : null;
  var markers = {};
  data.markers.forEach(function (m) {
    if (m.lat === null || m.lng === null) { return; }
    var marker = L.marker([m.lat, m.lng], { title: m.name, alt: m.name, riseOnHover: true }).addTo(map);
    var popup = document.createElement("div");
    var link = document.createElement("a");
    link.href = m.url; link.textContent = m.name;
    popup.appendChild(link);
    popup.appendChild(document.createElement("br"));
    popup.appendChild(document.createTextNode(m.clinic));
    marker.bindPopup(popup);
    marker.on("click", function () { highlight(m.id, false); });
    markers[m.id] = marker;
    bounds.push([m.lat, m.lng]);
  });
  if (!bounds.length) { mapNode.closest(".map-wrap").hidden = true; return; }
  map.fitBounds(bounds, { padding: [30, 30], maxZoom: 14 });
  // The window changed size (a phone turned, a window resized): fit the results again.
  var refit = null;
  window.addEventListener("resize", function () {
    clearTimeout(refit);
    refit = setTimeout(function () {
      map.invalidateSize();
      map.fitBounds(bounds, { padding: [30, 30], maxZoom: 14 });
    }, 150);
  });
  // The heading names the searched place: its dot (drawn once the map has a view) is no stop
  // for the keyboard; the tooltip's focus listeners would make this unnamed shape one.
  var dot = origin && origin.getElement();
  if (dot) { dot.setAttribute("tabindex", "-1"); dot.setAttribute("aria-hidden", "true"); }

  function highlight(id, fromList) {
    document.querySelectorAll(".result.is-active").forEach(function (el) { el.classList.remove("is-active"); });
    var item = document.getElementById("result-" + id);
    if (item) {
      item.classList.add("is-active");
      if (!fromList) { item.scrollIntoView({ block: "nearest" }); }
    }
    if (fromList && markers[id]) { markers[id].openPopup(); }
  }
  document.querySelectorAll(".result").forEach(function (item) {
    var id = item.getAttribute("data-id");
    item.addEventListener("mouseenter", function () { highlight(id, true); });
    item.addEventListener("focusin", function () { highlight(id, true); });
  });
})();
