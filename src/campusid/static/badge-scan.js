// 扫码登录 (issue 24): read the badge's QR code from the camera with jsQR (vendor/jsQR.js,
// served from our own files) and send it with the page's form; a USB scanner types the code
// into the same form's field and presses Enter, which needs no script at all.
(function () {
  "use strict";
  var video = document.getElementById("badge-video");
  var canvas = document.getElementById("badge-canvas");
  var form = document.getElementById("badge-form");
  var field = document.getElementById("badge-code");
  var status = document.getElementById("badge-status");
  if (!video || !canvas || !form || !field || !status) return;
  var PREFIX = "CIDQR1-";
  var sent = false;

  function say(key) { status.textContent = status.getAttribute("data-" + key) || ""; }

  function found(text) {
    if (sent || text.indexOf(PREFIX) !== 0) return false;
    sent = true;
    say("found");
    field.value = text;
    var stream = video.srcObject;
    if (stream) stream.getTracks().forEach(function (track) { track.stop(); });
    form.submit();
    return true;
  }

  function scan() {
    if (sent) return;
    if (video.readyState >= video.HAVE_ENOUGH_DATA && video.videoWidth) {
      var width = video.videoWidth, height = video.videoHeight;
      canvas.width = width;
      canvas.height = height;
      var context = canvas.getContext("2d", { willReadFrequently: true });
      context.drawImage(video, 0, 0, width, height);
      var image = context.getImageData(0, 0, width, height);
      var code = window.jsQR && window.jsQR(image.data, width, height, { inversionAttempts: "dontInvert" });
      if (code && found(code.data)) return;
    }
    window.requestAnimationFrame(scan);
  }

  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || !window.jsQR) {
    say("no-camera");
    return;
  }
  say("starting");
  navigator.mediaDevices
    .getUserMedia({ video: { facingMode: "user" }, audio: false })
    .then(function (stream) {
      video.srcObject = stream;
      return video.play();
    })
    .then(function () { say("ready"); window.requestAnimationFrame(scan); })
    .catch(function () { say("no-camera"); });
})();
