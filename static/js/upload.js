// Upload page: drag and drop onto the file field, an upload progress bar (XHR), and the
// route the document will take. Without this script the form posts as usual.
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  if (!form) { return; }
  var zone = document.getElementById("dropzone");
  var input = document.getElementById("file");
  var info = document.getElementById("file-info");
  var box = document.getElementById("upload-progress");
  var bar = document.getElementById("upload-bar");
  var statusLine = document.getElementById("upload-status");
  var errorBox = document.getElementById("upload-error");
  var submit = document.getElementById("upload-submit");
  var preview = document.getElementById("route-preview");

  function msg(name, values) {
    var text = form.getAttribute("data-msg-" + name) || "";
    Object.keys(values || {}).forEach(function (k) { text = text.split("{" + k + "}").join(values[k]); });
    return text;
  }

  function human(bytes) {
    if (bytes >= 1048576) { return (bytes / 1048576).toFixed(1) + " MB"; }
    return Math.max(1, Math.round(bytes / 1024)) + " KB";
  }

  // A refused file is explained right under the field, and the explanation goes as soon
  // as an acceptable file is chosen.
  var fileError = document.getElementById("file-error");
  var ACCEPTED = /\.(pdf|docx|odt|doc|rtf)$/i;

  function setFileError(text) {
    fileError.textContent = text || "";
    fileError.hidden = !text;
    if (text) { input.setAttribute("aria-invalid", "true"); } else { input.removeAttribute("aria-invalid"); }
  }

  function acceptable(file) {
    return ACCEPTED.test(file.name) || file.type === "application/pdf";
  }

  function showFile() {
    var file = input.files && input.files[0];
    info.textContent = file ? msg("file", { name: file.name, size: human(file.size) }) : "";
    if (!file) { return; }
    if (acceptable(file)) {
      setFileError("");
      errorBox.hidden = true;
    } else {
      setFileError(msg("wrong-type"));
    }
  }

  // --- drag and drop --------------------------------------------------------------------
  ["dragenter", "dragover"].forEach(function (type) {
    zone.addEventListener(type, function (event) {
      event.preventDefault();
      zone.classList.add("dragover");
    });
  });
  ["dragleave", "drop"].forEach(function (type) {
    zone.addEventListener(type, function () { zone.classList.remove("dragover"); });
  });
  zone.addEventListener("drop", function (event) {
    event.preventDefault();
    var files = event.dataTransfer && event.dataTransfer.files;
    if (!files || !files.length) { return; }
    var file = files[0];
    if (!acceptable(file)) {
      setFileError(msg("wrong-type"));
      return;
    }
    var transfer = new DataTransfer();
    transfer.items.add(file);
    input.files = transfer.files;
    showFile();
  });
  input.addEventListener("change", showFile);

  // --- upload with progress ---------------------------------------------------------------
  function fail(text) {
    errorBox.textContent = text;
    errorBox.hidden = false;
    box.hidden = true;
    submit.disabled = false;
    errorBox.focus();
  }

  function errorsIn(html) {
    var page = new DOMParser().parseFromString(html, "text/html");
    // The form again with its errors, or an error page (too large, expired form...).
    var found = page.querySelectorAll(".flash-error, .field-error");
    if (!found.length) { found = page.querySelectorAll("main [role=alert]"); }
    var texts = [];
    Array.prototype.forEach.call(found, function (el) {
      var text = el.textContent.trim();
      if (text && texts.indexOf(text) < 0) { texts.push(text); }
    });
    return texts.slice(0, 3).join(" ");
  }

  errorBox.setAttribute("tabindex", "-1");
  form.addEventListener("submit", function (event) {
    if (!window.FormData || !form.checkValidity()) { return; }
    event.preventDefault();
    errorBox.hidden = true;
    submit.disabled = true;
    box.hidden = false;
    bar.value = 0;
    statusLine.textContent = msg("progress", { percent: 0 });
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.getAttribute("action") || window.location.pathname);
    xhr.upload.addEventListener("progress", function (e) {
      if (!e.lengthComputable) { return; }
      var percent = Math.round(e.loaded / e.total * 100);
      bar.value = percent;
      bar.textContent = percent + "%";
      statusLine.textContent = msg("progress", { percent: percent });
    });
    xhr.upload.addEventListener("load", function () {
      bar.value = 100;
      statusLine.textContent = msg("processing");
    });
    xhr.addEventListener("load", function () {
      var landed = xhr.responseURL || "";
      if (xhr.status === 200 && landed && landed.indexOf("/documents/new") < 0) {
        // The redirect to the new document was followed: show that answer as the page
        // (it carries the confirmation message; loading it again would lose it).
        window.history.replaceState(null, "", landed);
        document.open();
        document.write(xhr.responseText);
        document.close();
        return;
      }
      var page = new DOMParser().parseFromString(xhr.responseText, "text/html");
      var refused = page.getElementById("file-error");
      if (refused && !refused.hasAttribute("hidden") && refused.textContent.trim()) {
        box.hidden = true;
        submit.disabled = false;
        setFileError(refused.textContent.trim());
        input.focus();
        return;
      }
      fail(errorsIn(xhr.responseText) || msg("failed"));
    });
    xhr.addEventListener("error", function () { fail(msg("failed")); });
    xhr.send(new FormData(form));
  });

  // --- route preview ------------------------------------------------------------------------
  var fields = ["doc_type", "urgency", "route"].map(function (id) { return document.getElementById(id); });

  function renderRoute(data) {
    var wrap = document.createElement("div");
    var head = document.createElement("p");
    var strong = document.createElement("strong");
    strong.textContent = data.route.name;
    head.appendChild(strong);
    head.appendChild(document.createTextNode(" · " + data.doc_type.name));
    wrap.appendChild(head);
    if (!data.stages.length) {
      var none = document.createElement("p");
      none.textContent = msg("no-stage");
      wrap.appendChild(none);
    }
    var list = document.createElement("ol");
    list.className = "route-steps";
    data.stages.forEach(function (stage) {
      var li = document.createElement("li");
      var name = document.createElement("strong");
      name.textContent = stage.name;
      li.appendChild(name);
      var parts = [stage.action_label];
      if (stage.deadline_days) { parts.push(msg("days", { days: stage.deadline_days })); }
      li.appendChild(document.createTextNode(" (" + parts.join(", ") + ")"));
      if (stage.assignees.length) {
        var who = document.createElement("div");
        who.className = "muted";
        var names = stage.assignees.map(function (a) { return a.name + (a.title ? " — " + a.title : ""); });
        who.textContent = (stage.assignees.length > 1 ? msg(stage.mode === "all" ? "all" : "any") + ": " : "") + names.join("; ");
        li.appendChild(who);
      }
      list.appendChild(li);
    });
    wrap.appendChild(list);
    preview.replaceChildren(wrap);
    preview.setAttribute("data-loaded", "1");
  }

  function loadRoute() {
    var query = "type=" + encodeURIComponent(fields[0].value) + "&urgency=" +
      encodeURIComponent(fields[1].value) + "&route=" + encodeURIComponent(fields[2].value);
    fetch(form.getAttribute("data-preview-url") + "?" + query, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
      .then(function (res) {
        if (res.ok) { renderRoute(res.body); } else {
          var p = document.createElement("p");
          p.textContent = res.body.detail || msg("route-failed");
          preview.replaceChildren(p);
        }
      })
      .catch(function () { /* the static list of routes stays */ });
  }

  fields.forEach(function (el) { if (el) { el.addEventListener("change", loadRoute); } });
  loadRoute();
})();
