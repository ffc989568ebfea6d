// A notice's delivery page: while its deliveries are going out, fetch the counts again
// every few seconds (an HTML fragment the server renders, labels and all) and put them in
// place; stop once nothing is left to go. No inline script: the CSP forbids them all.
(function () {
  "use strict";
  var current = document.getElementById("progress");
  if (!current) {
    return;
  }
  var every = Number(current.dataset.every) || 3000;
  var failures = 0;

  function later() {
    window.setTimeout(poll, every * (failures + 1));
  }

  function poll() {
    fetch(current.dataset.url, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (!response.ok) {
          // Signed out, or the notice is gone from sight: nothing more to show.
          throw new Error("status " + response.status);
        }
        return response.text();
      })
      .then(function (text) {
        var holder = document.createElement("template");
        holder.innerHTML = text;
        var fresh = holder.content.querySelector("#progress");
        if (!fresh) {
          return;
        }
        current.replaceWith(fresh);
        current = fresh;
        failures = 0;
        if (fresh.dataset.live === "yes") {
          later();
        }
      })
      .catch(function (error) {
        // A network blip: try again, more slowly; a refusal: stop.
        if (error instanceof TypeError && failures < 5) {
          failures += 1;
          later();
        }
      });
  }

  if (current.dataset.live === "yes") {
    later();
  }
})();
