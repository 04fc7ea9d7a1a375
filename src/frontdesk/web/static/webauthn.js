// frontdesk's one script: security keys and passkeys (WebAuthn) on the hosted pages.
//
// A form marked data-webauthn="create" (add a key) or "get" (sign in, second step, re-authenticate)
// asks the JSON API at data-options for the ceremony's options, runs it, puts the browser's answer
// (as JSON) in the form's hidden "credential" field and sends the form as usual: the server checks
// it, and shows any error on the page it answers. data-conditional on a "get" form also offers the
// passkeys in the username field's autofill (conditional mediation). Elements marked
// data-needs-webauthn are shown, and data-no-webauthn hidden, only where WebAuthn works.
(function () {
  "use strict";

  var supported = typeof window.PublicKeyCredential === "function" && !!navigator.credentials;

  function toBuffer(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    var binary = atob(base64 + "===".slice((base64.length + 3) % 4));
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  }

  function toText(buffer) {
    if (!buffer) return null;
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (d) {
      return Object.assign({}, d, { id: toBuffer(d.id) });
    });
  }

  // PublicKeyCredential.parse*OptionsFromJSON where the browser has them, else by hand
  function creationOptions(json) {
    if (typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function") {
      return PublicKeyCredential.parseCreationOptionsFromJSON(json);
    }
    return Object.assign({}, json, {
      challenge: toBuffer(json.challenge),
      user: Object.assign({}, json.user, { id: toBuffer(json.user.id) }),
      excludeCredentials: descriptors(json.excludeCredentials),
    });
  }

  function requestOptions(json) {
    if (typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function") {
      return PublicKeyCredential.parseRequestOptionsFromJSON(json);
    }
    return Object.assign({}, json, {
      challenge: toBuffer(json.challenge),
      allowCredentials: descriptors(json.allowCredentials),
    });
  }

  // RegistrationResponseJSON / AuthenticationResponseJSON
  function answerJSON(credential) {
    if (typeof credential.toJSON === "function") return credential.toJSON();
    var r = credential.response;
    var response = { clientDataJSON: toText(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toText(r.attestationObject);
      response.transports = typeof r.getTransports === "function" ? r.getTransports() : [];
    } else {
      response.authenticatorData = toText(r.authenticatorData);
      response.signature = toText(r.signature);
      if (r.userHandle) response.userHandle = toText(r.userHandle);
    }
    return {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      response: response,
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      clientExtensionResults: credential.getClientExtensionResults(),
    };
  }

  function fetchOptions(form) {
    var body = {};
    if (form.dataset.challenge) body.challenge = form.dataset.challenge;
    return fetch(form.dataset.options, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body),
    }).then(function (answer) {
      return answer.json().then(function (json) {
        if (!answer.ok) {
          var error = (json && (json.error || json)) || {};
          var failure = new Error(error.message || "The server did not answer; please try again.");
          failure.code = error.code;
          throw failure;
        }
        return json.options;
      });
    });
  }

  function showError(form, text) {
    var box = form.querySelector("[data-webauthn-error]");
    if (!box) return;
    box.textContent = text;
    box.hidden = !text;
  }

  function explain(error) {
    if (error && error.name === "NotAllowedError") {
      return "The security key or passkey was not used (it was cancelled, or timed out). Try again.";
    }
    if (error && error.name === "InvalidStateError") {
      return "That security key or passkey is already registered on this account.";
    }
    return (error && error.message) || "Your browser could not use a security key or passkey.";
  }

  function send(form, credential) {
    form.querySelector("input[name=credential]").value = credential ? JSON.stringify(answerJSON(credential)) : "";
    form.querySelectorAll("input[data-copy]").forEach(function (input) {
      var box = document.getElementById(input.dataset.copy); // a checkbox of the page's other form
      input.value = box && box.checked ? box.value : "";
    });
    HTMLFormElement.prototype.submit.call(form);
  }

  var conditional = null; // the autofill request waiting on this page, if any

  function ceremony(form) {
    if (!form.checkValidity()) return form.reportValidity();
    if (conditional) conditional.abort();
    conditional = null;
    var buttons = form.querySelectorAll("button");
    buttons.forEach(function (b) { b.disabled = true; });
    showError(form, "");
    return fetchOptions(form)
      .then(function (options) {
        if (form.dataset.webauthn === "create") {
          return navigator.credentials.create({ publicKey: creationOptions(options) });
        }
        return navigator.credentials.get({ publicKey: requestOptions(options) });
      })
      .then(function (credential) { send(form, credential); })
      .catch(function (error) {
        // a stale session: sent as it is, the form's page answers with the re-authentication page
        if (error && error.code === "reauthentication_required") return send(form, null);
        buttons.forEach(function (b) { b.disabled = false; });
        showError(form, explain(error));
      });
  }

  function offerAutofill(form) {
    if (typeof PublicKeyCredential.isConditionalMediationAvailable !== "function") return;
    PublicKeyCredential.isConditionalMediationAvailable().then(function (available) {
      if (!available) return;
      var controller = new AbortController();
      conditional = controller;
      return fetchOptions(form).then(function (options) {
        if (controller.signal.aborted) return;
        return navigator.credentials
          .get({ publicKey: requestOptions(options), mediation: "conditional", signal: controller.signal })
          .then(function (credential) {
            if (!controller.signal.aborted) send(form, credential);
          });
      });
    }).catch(function () { /* autofill is a convenience: the button still works */ });
  }

  function start() {
    if (!supported) return;
    document.querySelectorAll("[data-needs-webauthn]").forEach(function (el) { el.hidden = false; });
    document.querySelectorAll("[data-no-webauthn]").forEach(function (el) { el.hidden = true; });
    document.querySelectorAll("form[data-webauthn]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        ceremony(form);
      });
      if (form.hasAttribute("data-conditional")) offerAutofill(form);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
