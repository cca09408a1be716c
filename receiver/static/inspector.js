// The live list: every few seconds, ask for deliveries newer than the newest shown (same filters) and
// put them on top. Without JavaScript the list is the same, only not live.
(function () {
  "use strict";
  var live = document.getElementById("live");
  var rows = document.getElementById("delivery-rows");
  if (!live || !rows) { return; }
  var newest = parseInt(live.dataset.newest, 10) || 0;
  var url = live.dataset.url;
  var failures = 0;
  function poll() {
    var target = url + (url.indexOf("?") < 0 ? "?" : "&") + "after=" + newest;
    fetch(target, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error(response.status); }
        return response.json();
      })
      .then(function (answer) {
        failures = 0;
        if (answer.count > 0) {
          var holder = document.createElement("tbody");
          holder.innerHTML = answer.html;
          var fresh = Array.prototype.slice.call(holder.querySelectorAll("tr"));
          for (var i = fresh.length - 1; i >= 0; i--) {
            fresh[i].classList.add("fresh");
            rows.insertBefore(fresh[i], rows.firstChild);
          }
          while (rows.children.length > 200) { rows.removeChild(rows.lastChild); }
          newest = answer.newest;
          live.textContent = answer.count + " new at " + new Date().toLocaleTimeString() + "; live.";
          live.classList.add("updated");
        }
        setTimeout(poll, 3000);
      })
      .catch(function () {
        failures += 1;
        live.textContent = "Live updates paused (the receiver did not answer); retrying.";
        setTimeout(poll, Math.min(30000, 3000 * Math.pow(2, failures)));
      });
  }
  setTimeout(poll, 3000);
}());
