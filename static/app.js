// Butterfly's only script: a backup's log page follows the log while the backup runs.
(function () {
  "use strict";
  function follow(list) {
    var url = list.getAttribute("data-log-url");
    var after = Number(list.getAttribute("data-after") || "0");
    var status = document.getElementById("job-status");
    function poll() {
      fetch(url + "?after=" + after, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
        .then(function (data) {
          data.lines.forEach(function (l) {
            var item = document.createElement("li");
            item.className = l.level;
            var time = document.createElement("time");
            time.textContent = l.at;
            item.appendChild(time);
            item.appendChild(document.createTextNode(" " + l.line));
            list.appendChild(item);
            after = l.id;
          });
          if (status) { status.textContent = data.status; status.className = "status " + data.status; }
          if (data.status === "queued" || data.status === "running") { setTimeout(poll, 1000); }
        })
        .catch(function () { setTimeout(poll, 5000); });
    }
    poll();
  }
  document.addEventListener("DOMContentLoaded", function () {
    var list = document.getElementById("job-log");
    if (list && list.getAttribute("data-finished") !== "true") { follow(list); }
  });
})();
