// The dashboard's chart: the data come in a JSON block of the page (no inline script, so
// the Content-Security-Policy can forbid them all).
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("checkin-data").textContent);
  var canvas = document.getElementById("checkin-chart");
  new Chart(canvas, {
    type: "line",
    data: {
      labels: data.labels,
      datasets: [{ label: data.label, data: data.percent, borderColor: "#b22222", tension: 0.2 }],
    },
    options: {
      animation: false,
      scales: { y: { min: 0, max: 100, ticks: { callback: function (v) { return v + "%"; } } } },
    },
  });
  canvas.dataset.drawn = "yes";

  var places = document.getElementById("province-data");
  if (places) {
    var provinces = JSON.parse(places.textContent);
    var bars = document.getElementById("province-chart");
    // As tall as its bars need: a few provinces make a short chart, not three fat bars.
    bars.parentNode.style.height = 40 + 26 * provinces.labels.length + "px";
    new Chart(bars, {
      type: "bar",
      data: {
        labels: provinces.labels,
        datasets: [{ label: provinces.label, data: provinces.members, backgroundColor: "#b22222" }],
      },
      options: {
        animation: false,
        indexAxis: "y",
        maintainAspectRatio: false,
        plugins: { legend: { display: false } },
        scales: { x: { ticks: { precision: 0 } } },
      },
    });
    bars.dataset.drawn = "yes";
  }
})();
