// campusid: small behaviours, no inline script (the CSP forbids it).
(function () {
  "use strict";
  // Copy buttons: <button data-copy="text"> copies to the clipboard and says so.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (button) {
      var text = button.getAttribute("data-copy");
      var done = function () { toast(button.getAttribute("data-copied") || "已复制"); };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(text).then(done, function () { fallbackCopy(text); done(); });
      } else { fallbackCopy(text); done(); }
    }
    var dismiss = event.target.closest("[data-dismiss]");
    if (dismiss) {
      var target = document.getElementById(dismiss.getAttribute("data-dismiss"));
      if (target) { target.remove(); }
    }
    var print = event.target.closest("[data-print]");
    if (print) { window.print(); }
  });
  // Forms with data-confirm ask before submitting (destructive actions).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var message = form.getAttribute("data-confirm");
    if (message && !window.confirm(message)) { event.preventDefault(); }
  }, true);
  // "Tick all" checkboxes: <input type="checkbox" data-check-all="name">.
  document.addEventListener("change", function (event) {
    var all = event.target.closest("[data-check-all]");
    if (!all) { return; }
    var name = all.getAttribute("data-check-all");
    document.querySelectorAll('input[type="checkbox"][name="' + name + '"]').forEach(function (box) {
      box.checked = all.checked;
    });
  });
  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text; document.body.appendChild(area); area.select();
    try { document.execCommand("copy"); } catch (e) { /* nothing more to do */ }
    area.remove();
  }
  function toast(message) {
    var box = document.getElementById("toasts");
    if (!box) { return; }
    var item = document.createElement("div");
    item.className = "toast"; item.textContent = message; box.appendChild(item);
    setTimeout(function () { item.remove(); }, 3000);
  }
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
  document.addEventListener("DOMContentLoaded", function () { countdown(document); });
  document.addEventListener("htmx:load", function (event) { countdown(event.detail && event.detail.elt); });
  window.campusidToast = toast;
  document.body && document.body.addEventListener("htmx:responseError", function () {
    toast("操作失败,请稍后重试");
  });
})();
