// Every form that posts: one request per press. After the first submit the form is
// marked busy (aria-busy, its buttons disabled, the pressed one says it is working), and
// further submits are ignored until the next page. Forms sent by a script of their own
// (the upload page) prevent the default and are left alone.
(function () {
  "use strict";
  var working = document.body.getAttribute("data-msg-busy") || "…";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (event.defaultPrevented || (form.method || "").toLowerCase() !== "post") { return; }
    if (form.getAttribute("aria-busy") === "true") { event.preventDefault(); return; }
    form.setAttribute("aria-busy", "true");
    var pressed = event.submitter;
    // Disabled after this turn: a disabled button's name/value would not be sent.
    window.setTimeout(function () {
      Array.prototype.forEach.call(form.querySelectorAll("button, input[type=submit]"), function (b) {
        b.disabled = true;
      });
      if (pressed && pressed.tagName === "BUTTON") {
        pressed.setAttribute("data-label", pressed.textContent);
        pressed.textContent = working;
        pressed.classList.add("busy");
      }
    }, 0);
  });
  window.addEventListener("pageshow", function (event) { // back from the next page
    if (!event.persisted) { return; }
    Array.prototype.forEach.call(document.querySelectorAll("form[aria-busy=true]"), function (form) {
      form.removeAttribute("aria-busy");
      Array.prototype.forEach.call(form.querySelectorAll("button, input[type=submit]"), function (b) {
        b.disabled = false;
        if (b.hasAttribute("data-label")) { b.textContent = b.getAttribute("data-label"); b.classList.remove("busy"); }
      });
    });
  });
})();
