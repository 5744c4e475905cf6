// campusid: small behaviours, no inline script (the CSP forbids it). Every page works without
// this file; it adds the confirmation dialog, toasts, copy buttons and a few conveniences.
(function () {
  "use strict";

  // Toasts: short messages in the corner, read out by screen readers (the box is a live region).
  function toast(message, kind) {
    var box = document.getElementById("toasts");
    if (!box || !message) { return; }
    var item = document.createElement("div");
    item.className = "toast" + (kind === "error" ? " toast-error" : "");
    item.textContent = message;
    box.appendChild(item);
    setTimeout(function () { item.remove(); }, 3500);
  }

  // The confirmation dialog for destructive actions: data-confirm="…" on a form or on the
  // button that submits it; data-confirm-ok names the confirming button; "{n}" in the message
  // becomes the number of ticked boxes named by data-confirm-count.
  // The texts this script says itself, in the page's language (base.html's #ui-texts).
  var texts = null;
  function say(key, fallback, values) {
    if (texts === null) {
      var node = document.getElementById("ui-texts");
      try { texts = node ? JSON.parse(node.textContent) : {}; } catch (e) { texts = {}; }
    }
    var text = texts[key] || fallback;
    Object.keys(values || {}).forEach(function (name) { text = text.replace("%(" + name + ")s", values[name]); });
    return text;
  }
  var dialog = null;
  function confirmDialog() {
    if (dialog) { return dialog; }
    dialog = document.createElement("dialog");
    dialog.className = "dialog-box confirm-dialog";
    dialog.setAttribute("aria-labelledby", "confirm-dialog-title");
    dialog.setAttribute("aria-describedby", "confirm-dialog-text");
    var title = document.createElement("h2");
    title.id = "confirm-dialog-title";
    title.textContent = say("confirm", "请确认");
    var text = document.createElement("p");
    text.id = "confirm-dialog-text";
    var form = document.createElement("form");
    form.method = "dialog";
    form.className = "dialog-actions";
    var cancel = document.createElement("button");
    cancel.value = "cancel";
    cancel.textContent = say("cancel", "取消");
    var ok = document.createElement("button");
    ok.value = "ok";
    ok.className = "primary";
    form.appendChild(cancel);
    form.appendChild(ok);
    dialog.appendChild(title);
    dialog.appendChild(text);
    dialog.appendChild(form);
    document.body.appendChild(dialog);
    return dialog;
  }
  function ask(message, okLabel, danger, then) {
    var box = confirmDialog();
    box.querySelector("#confirm-dialog-text").textContent = message;
    var ok = box.querySelector("button[value=ok]");
    ok.textContent = okLabel || say("ok", "确定");
    ok.className = danger ? "danger" : "primary";
    box.returnValue = "";
    box.onclose = function () { if (box.returnValue === "ok") { then(); } };
    box.showModal();
    box.querySelector("button[value=cancel]").focus();
  }
  function ticked(name) {
    return document.querySelectorAll('input[type="checkbox"][name="' + name + '"]:checked').length;
  }
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var submitter = event.submitter || null;
    var source = submitter && submitter.hasAttribute("data-confirm") ? submitter : form;
    var message = source.getAttribute("data-confirm");
    if (!message) { return; }
    if (form.dataset.confirmed === "yes") { delete form.dataset.confirmed; return; }
    event.preventDefault();
    var countOf = source.getAttribute("data-confirm-count");
    if (countOf) {
      var n = ticked(countOf);
      if (n === 0) { toast(source.getAttribute("data-confirm-none") || say("tick", "请先勾选"), "error"); return; }
      message = message.replace("{n}", String(n));
    }
    var danger = !!(submitter && submitter.classList.contains("danger")) || source.hasAttribute("data-confirm-danger");
    ask(message, source.getAttribute("data-confirm-ok"), danger, function () {
      form.dataset.confirmed = "yes";
      if (form.requestSubmit) { form.requestSubmit(submitter); } else { form.submit(); }
    });
  }, true);

  // Inline errors for the browser's own checks (required, length, type): said in the page's language under
  // the field, tied to it by aria-describedby, instead of the browser's passing bubble.
  function labelOf(field) {
    var label = field.labels && field.labels[0];
    return (label ? label.textContent : field.getAttribute("aria-label") || "").trim();
  }
  function problemOf(field) {
    var v = field.validity, name = labelOf(field);
    if (v.valueMissing) {
      return field.type === "radio" || field.tagName === "SELECT"
        ? say("choose", "请选择%(name)s", { name: name }) : say("fill", "请填写%(name)s", { name: name });
    }
    if (v.tooShort) { return say("short", "%(name)s至少%(n)s位", { name: name, n: field.getAttribute("minlength") }); }
    if (v.tooLong) { return say("long", "%(name)s最多%(n)s位", { name: name, n: field.getAttribute("maxlength") }); }
    if (v.typeMismatch || v.patternMismatch) { return say("format", "%(name)s格式不正确", { name: name }); }
    return field.validationMessage;
  }
  function clearError(field) {
    var id = field.getAttribute("data-error-id");
    if (!id) { return; }
    var note = document.getElementById(id);
    if (note) { note.remove(); }
    field.removeAttribute("aria-invalid");
    field.removeAttribute("data-error-id");
  }
  var firstInvalid = null;
  document.addEventListener("invalid", function (event) {
    var field = event.target;
    event.preventDefault();
    clearError(field);
    var note = document.createElement("p");
    note.className = "field-error";
    note.id = (field.id || field.name) + "-error";
    note.textContent = problemOf(field);
    var row = field.closest(".code-row, .captcha-row, .input-with-button, .search-row, .choices") || field;
    row.insertAdjacentElement("afterend", note);
    field.setAttribute("aria-invalid", "true");
    field.setAttribute("data-error-id", note.id);
    field.setAttribute("aria-describedby", note.id);
    if (!firstInvalid) {
      firstInvalid = field;
      setTimeout(function () { if (firstInvalid) { firstInvalid.focus(); } firstInvalid = null; }, 0);
    }
  }, true);
  document.addEventListener("input", function (event) {
    if (event.target.getAttribute && event.target.getAttribute("data-error-id") && event.target.checkValidity()) {
      clearError(event.target);
    }
  });

  // Copy buttons: <button data-copy="text" data-copied="已复制">; says so in a toast.
  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text; area.setAttribute("readonly", ""); area.className = "visually-hidden";
    document.body.appendChild(area); area.select();
    try { document.execCommand("copy"); } catch (e) { /* nothing more to do */ }
    area.remove();
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (button) {
      var text = button.getAttribute("data-copy");
      var done = function () { toast(button.getAttribute("data-copied") || say("copied", "已复制")); };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(text).then(done, function () { fallbackCopy(text); done(); });
      } else { fallbackCopy(text); done(); }
    }
    var dismiss = event.target.closest("[data-dismiss]");
    if (dismiss) {
      var target = document.getElementById(dismiss.getAttribute("data-dismiss"));
      if (target) { target.remove(); }
    }
    if (event.target.closest("[data-print]")) { window.print(); }
  });

  // "Tick all" checkboxes: <input type="checkbox" data-check-all="name">.
  document.addEventListener("change", function (event) {
    var all = event.target.closest("[data-check-all]");
    if (!all) { return; }
    var name = all.getAttribute("data-check-all");
    document.querySelectorAll('input[type="checkbox"][name="' + name + '"]').forEach(function (box) {
      box.checked = all.checked;
    });
  });

  // Resend countdown: <button data-countdown="60" data-countdown-text="{n}秒后重新获取"> stays
  // disabled for that many seconds, showing the time left (also on buttons htmx swaps in).
  function countdown(root) {
    var scope = root && root.querySelectorAll ? root : document;
    var buttons = Array.prototype.slice.call(scope.querySelectorAll("[data-countdown]"));
    if (scope.matches && scope.matches("[data-countdown]")) { buttons.push(scope); }
    buttons.forEach(function (button) {
      var left = parseInt(button.getAttribute("data-countdown"), 10);
      button.removeAttribute("data-countdown");
      if (!(left > 0)) { return; }
      var label = button.textContent;
      var pattern = button.getAttribute("data-countdown-text") || "{n}";
      var tick = function () {
        if (left <= 0) { button.disabled = false; button.textContent = label; return; }
        button.disabled = true; button.textContent = pattern.replace("{n}", String(left));
        left -= 1; setTimeout(tick, 1000);
      };
      tick();
    });
  }

  // Progress of a long form (a roster upload): <form data-progress="/…/progress/"> with a
  // hidden input name="progress_key" and a [data-progress-box] holding a <progress>. On submit
  // the page picks a random key, sends it with the form, and polls the server's board
  // ({done, total, phase}) until the answer page replaces this one.
  function progressKey() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  document.addEventListener("submit", function (event) {
    var form = event.target.closest("form[data-progress]");
    if (!form || event.defaultPrevented || !window.fetch || !window.crypto) { return; }
    var input = form.querySelector('input[name="progress_key"]');
    var box = form.querySelector("[data-progress-box]");
    if (!input || !box) { return; }
    var key = progressKey();
    input.value = key;
    var bar = box.querySelector("progress");
    var text = box.querySelector("[data-progress-text]");
    box.hidden = false;
    var poll = function () {
      fetch(form.getAttribute("data-progress") + key, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (state) {
          if (state && state.total > 0) {
            bar.max = state.total; bar.value = state.done;
            text.textContent = (box.getAttribute("data-phase-" + state.phase) || "") + " " +
              Math.floor(100 * state.done / state.total) + "%";
          }
          if (!state || state.phase !== "done") { setTimeout(poll, 700); }
        })
        .catch(function () { setTimeout(poll, 1500); });
    };
    setTimeout(poll, 300);
  });

  function ready() {
    countdown(document);
    // After a refused form, move the keyboard and screen reader to what went wrong.
    var problem = document.querySelector(".alert-error");
    if (problem && !document.querySelector("[autofocus]")) {
      problem.setAttribute("tabindex", "-1");
      problem.focus({ preventScroll: false });
    }
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", ready); } else { ready(); }
  document.addEventListener("htmx:load", function (event) { countdown(event.detail && event.detail.elt); });
  document.addEventListener("htmx:responseError", function () { toast(say("failed", "操作失败，请稍后重试"), "error"); });
  document.addEventListener("htmx:sendError", function () { toast(say("offline", "网络连接失败，请检查网络后重试"), "error"); });
  window.campusidToast = toast;
})();
