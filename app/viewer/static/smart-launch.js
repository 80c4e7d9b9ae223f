// SMART App Launch for the OHIF viewer (SMART App Launch 2.2, EHR launch; PKCE S256).
// /viewer/launch?iss=…&launch=… → the authorization server → /viewer/callback → OHIF, which
// receives the access token through its `token` URL parameter and sends it on every request.
(function () {
  "use strict";
  var KEY = "imageshare-smart-launch";
  var script = document.currentScript;
  var clientId = script.getAttribute("data-client-id");
  var scope = script.getAttribute("data-scope");
  var redirectUri = window.location.origin + "/viewer/callback";

  function show(text) {
    document.getElementById("status").textContent = text;
  }

  function b64url(bytes) {
    var s = "";
    new Uint8Array(bytes).forEach(function (b) { s += String.fromCharCode(b); });
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function random(n) {
    return b64url(crypto.getRandomValues(new Uint8Array(n)));
  }

  async function launch(params) {
    var iss = params.get("iss");
    if (!iss) throw new Error("missing iss: open the viewer from the patient portal");
    var conf = await (await fetch(iss.replace(/\/$/, "") + "/.well-known/smart-configuration")).json();
    var verifier = random(32);
    var digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
    var state = random(16);
    sessionStorage.setItem(KEY, JSON.stringify({
      state: state, verifier: verifier, iss: iss, tokenEndpoint: conf.token_endpoint
    }));
    var query = new URLSearchParams({
      response_type: "code", client_id: clientId, redirect_uri: redirectUri, scope: scope,
      state: state, aud: iss, code_challenge: b64url(digest), code_challenge_method: "S256"
    });
    if (params.get("launch")) query.set("launch", params.get("launch"));
    window.location.assign(conf.authorization_endpoint + "?" + query.toString());
  }

  async function callback(params) {
    var saved = JSON.parse(sessionStorage.getItem(KEY) || "null");
    sessionStorage.removeItem(KEY);
    if (params.get("error")) throw new Error("authorization refused: " + params.get("error"));
    if (!saved || saved.state !== params.get("state")) throw new Error("state mismatch");
    var response = await fetch(saved.tokenEndpoint, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code", code: params.get("code"), redirect_uri: redirectUri,
        client_id: clientId, code_verifier: saved.verifier
      })
    });
    var token = await response.json();
    if (!response.ok) throw new Error("token request failed: " + (token.error || response.status));
    var studies = (token.fhirContext || [])
      .map(function (c) { return c.reference || ""; })
      .filter(function (r) { return r.indexOf("ImagingStudy/") === 0; })
      .map(function (r) { return r.slice("ImagingStudy/".length); });
    var target = new URLSearchParams({ token: token.access_token });
    var path = "/viewer/";
    if (studies.length) {
      path = "/viewer/viewer";
      target.set("StudyInstanceUIDs", studies.join(","));
    }
    window.location.replace(path + "?" + target.toString());
  }

  var params = new URLSearchParams(window.location.search);
  var step = window.location.pathname.endsWith("/callback") ? callback : launch;
  step(params).catch(function (err) { show("Could not open the viewer: " + err.message); });
})();
