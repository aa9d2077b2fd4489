// Public verification page: check, in the browser, that the issuance entry is in the
// committee's transparency log. Fetches the published signed tree head and the RFC 9162
// inclusion proof for that size, recomputes the root with SHA-256 (WebCrypto) and
// compares it with the head's root hash.
(function () {
  "use strict";
  var root = document.getElementById("log-proof");
  var out = document.getElementById("log-proof-result");
  if (!root || !out) { return; }
  var labels = {};
  try { labels = JSON.parse(root.getAttribute("data-labels") || "{}"); } catch (e) { labels = {}; }
  function say(key, values) {
    var text = labels[key] || key;
    Object.keys(values || {}).forEach(function (name) {
      text = text.replace("{" + name + "}", values[name]);
    });
    out.textContent = text;
  }

  function hex(bytes) {
    return Array.prototype.map.call(new Uint8Array(bytes), function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }
  function unhex(text) {
    var bytes = new Uint8Array(text.length / 2);
    for (var i = 0; i < bytes.length; i++) { bytes[i] = parseInt(text.substr(i * 2, 2), 16); }
    return bytes;
  }
  function sha256(prefix, parts) {
    var length = 1 + parts.reduce(function (n, p) { return n + p.length; }, 0);
    var data = new Uint8Array(length);
    data[0] = prefix;
    var at = 1;
    parts.forEach(function (p) { data.set(p, at); at += p.length; });
    return window.crypto.subtle.digest("SHA-256", data).then(function (d) { return new Uint8Array(d); });
  }

  // RFC 9162 section 2.1.3.2: the root an inclusion proof leads to.
  function rootFromProof(index, size, leaf, path) {
    var fn = index, sn = size - 1, r = Promise.resolve(leaf), i = 0;
    function step() {
      if (i >= path.length) {
        return sn === 0 ? r : Promise.reject(new Error("proof too short"));
      }
      if (sn === 0) { return Promise.reject(new Error("proof too long")); }
      var p = unhex(path[i++]);
      return r.then(function (current) {
        if ((fn & 1) === 1 || fn === sn) {
          r = sha256(1, [p, current]);
          if ((fn & 1) === 0) {
            while (fn !== 0 && (fn & 1) === 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
          }
        } else {
          r = sha256(1, [current, p]);
        }
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
        return step();
      });
    }
    return step();
  }

  // WebCrypto exists only in secure contexts (HTTPS, or the loopback address).
  if (!window.crypto || !window.crypto.subtle) {
    say("nocrypto");
    root.setAttribute("data-verified", "unavailable");
    return;
  }
  say("checking");
  var entry = root.getAttribute("data-entry");
  fetch(root.getAttribute("data-head-url"), { headers: { Accept: "application/json" } })
    .then(function (response) {
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.json();
    })
    .then(function (head) {
      var url = root.getAttribute("data-proof-url") + "?entry=" + encodeURIComponent(entry) +
        "&size=" + encodeURIComponent(head.size);
      return fetch(url, { headers: { Accept: "application/json" } }).then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      }).then(function (proof) {
        var leaf = new TextEncoder().encode(proof.leaf);
        return sha256(0, [leaf]).then(function (leafHash) {
          if (proof.entry !== Number(entry) || proof.size !== head.size) { return false; }
          return rootFromProof(proof.entry, proof.size, leafHash, proof.audit_path)
            .then(function (computed) { return hex(computed) === head.root_hash; });
        }).then(function (ok) {
          out.className = ok ? "good" : "bad";
          if (ok) { say("ok", { size: head.size, root: head.root_hash.slice(0, 16) + "…" }); } else { say("bad"); }
          root.setAttribute("data-verified", ok ? "true" : "false");
        });
      });
    })
    .catch(function (error) {
      out.className = "bad";
      say("error", { reason: error.message });
      root.setAttribute("data-verified", "error");
    });
}());
