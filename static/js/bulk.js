// Bulk signing progress page: poll the page's JSON (session cookie) and update the bar.
(function () {
  "use strict";
  var root = document.getElementById("bulk-job");
  if (!root) { return; }
  // Labels in the page's language, given by the server (templates/bulk/job.html).
  function labels(name) {
    try { return JSON.parse(root.getAttribute(name) || "{}"); } catch (e) { return {}; }
  }
  var STATUS = labels("data-status-labels");
  var ITEM = labels("data-item-labels");
  var url = root.getAttribute("data-progress-url");

  function text(id, value) {
    var el = document.getElementById(id);
    if (el) { el.textContent = value; }
  }

  function render(job) {
    var bar = document.getElementById("bulk-progress");
    bar.max = job.total;
    bar.value = job.done;
    bar.textContent = job.done + " / " + job.total;
    text("bulk-status", STATUS[job.status] || job.status);
    text("bulk-done", job.done);
    text("bulk-succeeded", job.succeeded);
    text("bulk-failed", job.failed);
    var error = document.getElementById("bulk-error");
    error.textContent = job.error || "";
    error.hidden = !job.error;
    job.items.forEach(function (item) {
      var row = document.querySelector('tr[data-task-id="' + item.task_id + '"]');
      if (!row) { return; }
      var state = row.querySelector(".bulk-state");
      state.textContent = ITEM[item.state] || item.state;
      state.className = "bulk-state state state-" + item.state;
      row.querySelector(".bulk-error").textContent = item.error || "";
    });
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (job) {
        render(job);
        if (job.status === "queued" || job.status === "running") { setTimeout(poll, 1000); }
      })
      .catch(function () { setTimeout(poll, 5000); });
  }

  var status = root.getAttribute("data-status");
  if (status === "queued" || status === "running") { setTimeout(poll, 500); }
})();
