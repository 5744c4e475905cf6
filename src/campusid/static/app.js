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
  window.campusidToast = toast;
  document.body && document.body.addEventListener("htmx:responseError", function () {
    toast("操作失败,请稍后重试");
  });
})();
