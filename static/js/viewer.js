// Document page: page images with zoom and page navigation, and the signature stamp
// placed by a click (or the arrow keys) on a page. Without this script the pages still
// show at the default size and the sign form signs at the default place.
//
// Positions are sent in "view points": the page as displayed (crop box, after its
// /Rotate), origin top left, y downwards, 1 unit = 1 PDF point. The server maps them to
// PDF user space (workflow/pagerender.py: view_to_pdf, box_at).
(function () {
  "use strict";
  var viewer = document.getElementById("viewer");
  if (!viewer) { return; }
  var scroller = viewer.querySelector(".viewer-scroll");
  var pagesBox = viewer.querySelector(".viewer-pages");
  var toolbar = viewer.querySelector(".viewer-toolbar");
  var pageInput = document.getElementById("viewer-page");
  var zoomOut = document.getElementById("viewer-zoom");
  var figures = Array.prototype.slice.call(viewer.querySelectorAll(".pdf-page"));
  var ZOOMS = [0.5, 0.75, 1, 1.25, 1.5, 2, 3];
  var SIZES = [800, 1600, 3200];
  var zoom = 1;

  function msg(name, values) {
    var text = viewer.getAttribute("data-msg-" + name) || "";
    Object.keys(values || {}).forEach(function (k) { text = text.split("{" + k + "}").join(values[k]); });
    return text;
  }

  function geometry(figure) {
    return {
      index: parseInt(figure.getAttribute("data-index"), 10),
      width: parseFloat(figure.getAttribute("data-width")),
      height: parseFloat(figure.getAttribute("data-height")),
      rotation: parseInt(figure.getAttribute("data-rotation"), 10) || 0
    };
  }

  // --- zoom and sharper images -------------------------------------------------------
  function sharpen() {
    var ratio = window.devicePixelRatio || 1;
    figures.forEach(function (figure) {
      var img = figure.querySelector("img");
      var needed = Math.max(img.clientWidth, img.clientHeight) * ratio;
      var size = SIZES.filter(function (s) { return s >= needed; })[0] || SIZES[SIZES.length - 1];
      if (size > parseInt(img.getAttribute("data-size"), 10)) {
        img.setAttribute("data-size", String(size));
        var base = img.getAttribute("data-src");
        img.src = base + (base.indexOf("?") < 0 ? "?" : "&") + "size=" + size;
      }
    });
  }

  function setZoom(value) {
    var g = geometry(figures[currentPage()]);
    var before = scroller.scrollTop / Math.max(pagesBox.offsetHeight, 1);
    zoom = value;
    pagesBox.style.width = Math.round(zoom * 100) + "%";
    zoomOut.textContent = Math.round(zoom * 100) + "%";
    scroller.scrollTop = before * pagesBox.offsetHeight;
    sharpen();
    return g;
  }

  function zoomBy(step) {
    var i = ZOOMS.indexOf(zoom) + step;
    if (i >= 0 && i < ZOOMS.length) { setZoom(ZOOMS[i]); }
  }

  // --- page navigation ----------------------------------------------------------------
  function currentPage() {
    var top = scroller.scrollTop + 10;
    var current = 0;
    figures.forEach(function (figure, i) { if (figure.offsetTop <= top) { current = i; } });
    return current;
  }

  function goTo(index) {
    index = Math.max(0, Math.min(figures.length - 1, index));
    scroller.scrollTop = figures[index].offsetTop;
    pageInput.value = String(index + 1);
  }

  toolbar.hidden = false;
  toolbar.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-action]");
    if (!button) { return; }
    var action = button.getAttribute("data-action");
    if (action === "prev") { goTo(currentPage() - 1); }
    if (action === "next") { goTo(currentPage() + 1); }
    if (action === "zoom-in") { zoomBy(1); }
    if (action === "zoom-out") { zoomBy(-1); }
    if (action === "fit") { setZoom(1); }
  });
  pageInput.addEventListener("change", function () { goTo(parseInt(pageInput.value, 10) - 1); });
  scroller.addEventListener("scroll", function () { pageInput.value = String(currentPage() + 1); });
  scroller.addEventListener("keydown", function (event) {
    if (event.target !== scroller) { return; }
    if (event.key === "+" || event.key === "=") { zoomBy(1); event.preventDefault(); }
    if (event.key === "-") { zoomBy(-1); event.preventDefault(); }
  });
  window.addEventListener("resize", sharpen);
  sharpen();

  // --- the signature stamp ------------------------------------------------------------
  var form = document.querySelector("form.sign-form");
  if (!form) { return; }
  var field = function (name) { return form.querySelector('[data-field="' + name + '"]'); };
  var status = form.querySelector(".placement-status");
  var reset = form.querySelector(".reset-placement");
  var stamp = { width: 200, height: 110, image: null, def: null };
  var spot = null; // {page, x, y}: the stamp's centre in view points, or null = default
  var overlay = document.createElement("button");
  overlay.type = "button";
  overlay.className = "stamp-overlay";
  overlay.hidden = true;
  viewer.classList.add("placing");

  function size(g) { // the stamp as displayed on this page (turned with the page)
    var turned = g.rotation === 90 || g.rotation === 270;
    return { w: Math.min(turned ? stamp.height : stamp.width, g.width),
             h: Math.min(turned ? stamp.width : stamp.height, g.height) };
  }

  function draw(pageIndex, left, top, w, h, isDefault) {
    var figure = figures[pageIndex];
    var img = overlay.querySelector("img");
    var src = isDefault ? (stamp.imageDefault || stamp.image) : stamp.image;
    if (img && src && img.getAttribute("src") !== src) { img.src = src; }
    var g = geometry(figure);
    figure.querySelector(".page-box").appendChild(overlay);
    overlay.style.left = (left / g.width * 100) + "%";
    overlay.style.top = (top / g.height * 100) + "%";
    overlay.style.width = (w / g.width * 100) + "%";
    overlay.style.height = (h / g.height * 100) + "%";
    overlay.classList.toggle("stamp-default", !!isDefault);
    overlay.setAttribute("aria-label", msg("stamp", { n: pageIndex + 1 }));
    overlay.hidden = false;
  }

  function place(pageIndex, x, y) {
    var g = geometry(figures[pageIndex]);
    x = Math.max(0, Math.min(g.width, x));
    y = Math.max(0, Math.min(g.height, y));
    spot = { page: pageIndex, x: x, y: y };
    field("page").value = String(pageIndex);
    field("x").value = x.toFixed(2);
    field("y").value = y.toFixed(2);
    var s = size(g);
    // Centred on the point, kept inside the page (as the server does).
    var left = Math.max(0, Math.min(g.width - s.w, x - s.w / 2));
    var top = Math.max(0, Math.min(g.height - s.h, y - s.h / 2));
    draw(pageIndex, left, top, s.w, s.h, false);
    status.textContent = msg("placed", { n: pageIndex + 1 });
    reset.hidden = false;
  }

  function showDefault() {
    spot = null;
    ["page", "x", "y"].forEach(function (n) { field(n).value = ""; });
    reset.hidden = true;
    if (stamp.def) {
      var d = stamp.def;
      draw(d.page, d.x, d.y, d.width, d.height, true);
      status.textContent = msg("default", { n: d.page + 1 });
    }
  }

  figures.forEach(function (figure) {
    figure.querySelector("img").addEventListener("click", function (event) {
      var rect = event.currentTarget.getBoundingClientRect();
      var g = geometry(figure);
      // Pixels on screen (any zoom) -> fraction of the page -> view points.
      var x = (event.clientX - rect.left) / rect.width * g.width;
      var y = (event.clientY - rect.top) / rect.height * g.height;
      place(g.index, x, y);
    });
  });

  overlay.addEventListener("keydown", function (event) {
    var step = event.shiftKey ? 1 : 10;
    var moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    var current = spot;
    if (!current) {
      var d = stamp.def || { page: figures.length - 1, x: 0, y: 0, width: 0, height: 0 };
      current = { page: d.page, x: d.x + d.width / 2, y: d.y + d.height / 2 };
    }
    if (moves[event.key]) {
      place(current.page, current.x + moves[event.key][0], current.y + moves[event.key][1]);
    } else if (event.key === "PageDown" || event.key === "PageUp") {
      var next = current.page + (event.key === "PageDown" ? 1 : -1);
      if (next < 0 || next >= figures.length) { return; }
      place(next, current.x, current.y);
      goTo(next);
    } else {
      return;
    }
    event.preventDefault();
    overlay.focus();
  });
  reset.addEventListener("click", showDefault);

  // After a refused attempt the server sends the signer back with the place they chose
  // (Post/Redirect/Get: ?page=&x=&y=): keep it, and show it.
  (function keptPlace() {
    var query = new URLSearchParams(window.location.search);
    var p = parseInt(query.get("page"), 10), x = parseFloat(query.get("x")), y = parseFloat(query.get("y"));
    if (isFinite(p) && isFinite(x) && isFinite(y) && p >= 0 && p < figures.length) {
      place(p, x, y);
      status.textContent = msg("kept", { n: p + 1 });
    }
  })();

  function bringIntoView() { // the stamp visible in the viewer, without moving the page
    if (overlay.hidden) { return; }
    var figure = overlay.closest(".pdf-page");
    var top = figure.offsetTop + overlay.offsetTop - (scroller.clientHeight - overlay.offsetHeight) / 2;
    scroller.scrollTop = Math.max(0, top);
    // ... and the viewer itself on the screen, moving the page as little as possible.
    if (overlay.scrollIntoView) { overlay.scrollIntoView({ block: "nearest", inline: "nearest" }); }
  }

  fetch(form.getAttribute("data-preview-url"), { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.json(); })
    .then(function (preview) {
      stamp.width = preview.width;
      stamp.height = preview.height;
      stamp.def = preview["default"];
      stamp.image = preview.image;
      stamp.imageDefault = preview.image_default;
      if (preview.image) {
        var img = document.createElement("img");
        img.src = preview.image;
        img.alt = "";
        overlay.appendChild(img);
      } else {
        overlay.textContent = preview.lines.join(" · ");
      }
      if (spot) { place(spot.page, spot.x, spot.y); status.textContent = msg("kept", { n: spot.page + 1 }); } else { showDefault(); }
      bringIntoView();
    })
    .catch(function () {
      status.textContent = msg("preview-failed");
      overlay.classList.add("stamp-plain");
      if (spot) { place(spot.page, spot.x, spot.y); }
    });
})();
