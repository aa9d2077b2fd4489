/* TrinhKy: the visual route editor. Stages are cards in an ordered list; the buttons
   Lên / Xuống / Xóa bước / Thêm bước work without this script (they post the form and the
   server redraws it). With it, they act in place, cards can also be dragged by their
   handle, and a live region says what happened. Field names follow card order
   (stage-<i>-<field>), renumbered after every change, so the server reads the order. */
(function () {
  "use strict";
  var form = document.getElementById("route-editor");
  if (!form) { return; }
  var list = document.getElementById("stage-list");
  var count = document.getElementById("stage_count");
  var status = document.getElementById("editor-status");
  var template = document.getElementById("stage-template");
  var ATTRS = ["name", "id", "for", "aria-describedby"];
  var dragged = null;

  form.classList.add("js");

  function cards() {
    return Array.prototype.slice.call(list.querySelectorAll("li[data-stage]"));
  }

  function say(key, n) {
    var text = (form.getAttribute("data-msg-" + key) || "").replace("{n}", String(n));
    status.textContent = "";
    window.setTimeout(function () { status.textContent = text; }, 30);
  }

  function renumber() {
    cards().forEach(function (card, i) {
      card.id = "stage-" + i;
      card.querySelectorAll("[name], [id], [for], [aria-describedby]").forEach(function (el) {
        ATTRS.forEach(function (attr) {
          var value = el.getAttribute(attr);
          if (value) { el.setAttribute(attr, value.replace(/stage-\d+-/g, "stage-" + i + "-")); }
        });
      });
      card.querySelectorAll("button[data-op]").forEach(function (button) {
        button.value = button.getAttribute("data-op") + "-" + i;
      });
      card.querySelectorAll(".stage-no").forEach(function (span) {
        span.textContent = String(i + 1);
      });
    });
    count.value = String(cards().length);
  }

  function focusButton(card, op) {
    var button = card && card.querySelector('button[data-op="' + op + '"]');
    if (button) { button.focus(); }
  }

  function move(card, op) {
    var all = cards();
    var i = all.indexOf(card);
    if (op === "up" && i > 0) {
      list.insertBefore(card, all[i - 1]);
    } else if (op === "down" && i < all.length - 1) {
      list.insertBefore(all[i + 1], card);
    } else {
      return;
    }
    renumber();
    focusButton(card, op);
    say(op, cards().indexOf(card) + 1);
  }

  function remove(card) {
    var all = cards();
    var i = all.indexOf(card);
    card.parentNode.removeChild(card);
    renumber();
    var next = cards()[Math.min(i, cards().length - 1)];
    if (next) { focusButton(next, "remove"); } else { document.getElementById("add-stage").focus(); }
    say("removed", cards().length);
  }

  function add() {
    if (cards().length >= Number(form.getAttribute("data-max") || 30)) { return; }
    var fragment = template.content.cloneNode(true);
    var card = fragment.querySelector("li[data-stage]");
    list.appendChild(fragment);
    renumber();
    var name = card.querySelector('input[type="text"]');
    if (name) { name.focus(); }
    say("added", cards().length);
  }

  form.addEventListener("click", function (event) {
    var button = event.target.closest("button[name=op]");
    if (!button) { return; }
    if (button.id === "add-stage") {
      event.preventDefault();
      add();
      return;
    }
    var op = button.getAttribute("data-op");
    if (!op) { return; }  /* save: a real submit */
    event.preventDefault();
    var card = button.closest("li[data-stage]");
    if (op === "remove") { remove(card); } else { move(card, op); }
  });

  /* The card's colour follows its action. */
  form.addEventListener("change", function (event) {
    var select = event.target;
    if (select.name && /^stage-\d+-action$/.test(select.name)) {
      select.closest("li[data-stage]").setAttribute("data-action", select.value);
    }
  });

  /* Drag and drop by the handle (the buttons remain the keyboard way). */
  list.addEventListener("dragstart", function (event) {
    var handle = event.target.closest && event.target.closest(".drag-handle");
    if (!handle) { return; }
    dragged = handle.closest("li[data-stage]");
    dragged.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", dragged.id);
    event.dataTransfer.setDragImage(dragged, 20, 20);
  });
  list.addEventListener("dragover", function (event) {
    if (!dragged) { return; }
    var over = event.target.closest("li[data-stage]");
    if (!over || over === dragged) { event.preventDefault(); return; }
    event.preventDefault();
    var box = over.getBoundingClientRect();
    var after = event.clientY > box.top + box.height / 2;
    var target = after ? over.nextSibling : over;
    if (target !== dragged && target !== dragged.nextSibling) {
      list.insertBefore(dragged, target);
      renumber();
    }
  });
  function dropped(event) {
    if (!dragged) { return; }
    if (event.type === "drop") { event.preventDefault(); }
    dragged.classList.remove("dragging");
    renumber();
    say("moved", cards().indexOf(dragged) + 1);
    dragged = null;
  }
  list.addEventListener("drop", dropped);
  list.addEventListener("dragend", dropped);

  renumber();
}());
