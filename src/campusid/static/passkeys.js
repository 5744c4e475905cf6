// campusid: passkeys and security keys (WebAuthn), no framework and no inline script (the CSP
// forbids it). A form marked data-passkey="register" or "authenticate" asks its
// data-options-url for the ceremony's options (JSON, with the CSRF header), lets the browser
// talk to the authenticator, puts the answer in the form's hidden "credential" field as JSON
// and submits the form: the server checks it and answers with a page, like any form.
(function () {
  "use strict";

  // base64url <-> bytes: WebAuthn speaks ArrayBuffers, JSON carries base64url strings.
  function toBytes(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) { base64 += "="; }
    var binary = atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) { bytes[i] = binary.charCodeAt(i); }
    return bytes.buffer;
  }
  function toText(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) { binary += String.fromCharCode(bytes[i]); }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function descriptors(list) {
    return (list || []).map(function (item) {
      var copy = { type: item.type, id: toBytes(item.id) };
      if (item.transports) { copy.transports = item.transports; }
      return copy;
    });
  }

  function creationOptions(json) {
    json.challenge = toBytes(json.challenge);
    json.user.id = toBytes(json.user.id);
    json.excludeCredentials = descriptors(json.excludeCredentials);
    return { publicKey: json };
  }
  function requestOptions(json) {
    json.challenge = toBytes(json.challenge);
    json.allowCredentials = descriptors(json.allowCredentials);
    return { publicKey: json };
  }

  // The browser's credential as the JSON the server reads (what PublicKeyCredential.toJSON()
  // gives where it exists), with the ceremony's own response fields.
  function credentialJSON(credential, response) {
    return {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || null,
      clientExtensionResults: credential.getClientExtensionResults(),
      response: response
    };
  }
  function registrationJSON(credential) {
    var response = credential.response;
    return credentialJSON(credential, {
      clientDataJSON: toText(response.clientDataJSON),
      attestationObject: toText(response.attestationObject),
      transports: response.getTransports ? response.getTransports() : []
    });
  }
  function authenticationJSON(credential) {
    var response = credential.response;
    return credentialJSON(credential, {
      clientDataJSON: toText(response.clientDataJSON),
      authenticatorData: toText(response.authenticatorData),
      signature: toText(response.signature),
      userHandle: response.userHandle ? toText(response.userHandle) : null
    });
  }

  function say(form, message) {
    var box = form.querySelector("[data-passkey-error]");
    if (!box) { return; }
    box.textContent = message || "";
    box.hidden = !message;
  }

  function run(form, submitter) {
    var kind = form.getAttribute("data-passkey");
    var token = form.querySelector('input[name="csrf_token"]');
    var button = submitter || form.querySelector('button[type="submit"]');
    if (button) { button.disabled = true; }
    say(form, "");
    fetch(form.getAttribute("data-options-url"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": token ? token.value : "", "Accept": "application/json" }
    })
      .then(function (answer) {
        return answer.json().then(function (body) {
          if (!answer.ok) { throw new Error((body.error && body.error.message) || ""); }
          return body;
        });
      })
      .then(function (options) {
        return kind === "register"
          ? navigator.credentials.create(creationOptions(options)).then(registrationJSON)
          : navigator.credentials.get(requestOptions(options)).then(authenticationJSON);
      })
      .then(function (answer) {
        form.querySelector('input[name="credential"]').value = JSON.stringify(answer);
        form.dataset.passkeyDone = "yes";
        if (button) { button.disabled = false; }
        if (form.requestSubmit) { form.requestSubmit(submitter || undefined); } else { form.submit(); }
      })
      .catch(function (error) {
        if (button) { button.disabled = false; }
        var isServer = error && error.name === "Error" && error.message;
        say(form, isServer ? error.message : form.getAttribute("data-passkey-cancelled"));
      });
  }

  function init() {
    var forms = document.querySelectorAll("form[data-passkey]");
    if (!forms.length) { return; }
    var supported = !!(window.PublicKeyCredential && navigator.credentials);
    forms.forEach(function (form) {
      if (!supported) {
        var note = form.querySelector("[data-passkey-unsupported]");
        if (note) { note.hidden = false; }
        var button = form.querySelector('button[type="submit"]');
        if (button) { button.disabled = true; }
      }
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute || !form.hasAttribute("data-passkey")) { return; }
    if (form.dataset.passkeyDone === "yes") { delete form.dataset.passkeyDone; return; }
    event.preventDefault();
    run(form, event.submitter || null);
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
