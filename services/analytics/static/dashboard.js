// Draws the dashboard's charts from the figures embedded in the page (no request, no CDN).
(function () {
  const d = JSON.parse(document.getElementById("figures").textContent);
  const t = JSON.parse(document.getElementById("labels").textContent);
  const palette = ["#1f5fa8", "#d9822b", "#2e8b57", "#b03a48", "#7b5ea7", "#5b6776"];
  // Months and weeks as the reader says them (formatted on the server in the reader's locale).
  const names = d.labels || {months: {}, weeks: {}};
  const month = m => names.months[m] || m;
  const week = w => names.weeks[w] || w;
  const narrow = window.matchMedia("(max-width: 600px)").matches;
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.responsive = true;
  if (narrow) {
    Chart.defaults.font.size = 10;
    Chart.defaults.plugins.legend.labels.boxWidth = 10;
    Chart.defaults.plugins.legend.labels.padding = 6;
  }
  if (names.locale) Chart.defaults.locale = names.locale;

  function draw(id, config) {
    const canvas = document.getElementById(id);
    if (!canvas) return;
    new Chart(canvas, config);
    canvas.dataset.drawn = "1";
  }

  // Trend of repeat calls: bars (count) and line (share).
  const trend = d.repeat.trend;
  draw("chart-repeat-trend", {
    data: {
      labels: trend.map(r => month(r.month)),
      datasets: [
        {type: "bar", label: t.calls, data: trend.map(r => r.calls), backgroundColor: "#c9d6e8", yAxisID: "y"},
        {type: "bar", label: t.repeat_trend, data: trend.map(r => r.repeat_calls), backgroundColor: palette[0], yAxisID: "y"},
        {type: "line", label: t.repeat_share, data: trend.map(r => Math.round(r.share * 1000) / 10), borderColor: palette[1], yAxisID: "y1"},
      ],
    },
    options: {scales: {y: {beginAtZero: true, ticks: {precision: 0}}, y1: {beginAtZero: true, max: 100, position: "right", grid: {drawOnChartArea: false}}}},
  });

  // Before/after distribution: persons by calls per 30 days, before vs after.
  const edges = [0, 0.5, 1, 2, 4, 8];
  const bucketLabels = edges.map((e, i) => i + 1 < edges.length ? `${e}–${edges[i + 1]}` : `${e}+`);
  function histogram(values) {
    const counts = edges.map(() => 0);
    values.forEach(v => {
      let i = edges.length - 1;
      while (i > 0 && v < edges[i]) i--;
      counts[i]++;
    });
    return counts;
  }
  const dist = d.repeat.distribution;
  draw("chart-before-after", {
    type: "bar",
    data: {
      labels: bucketLabels,
      datasets: [
        {label: t.before, data: histogram(dist.map(p => p.rate_before)), backgroundColor: palette[3]},
        {label: t.after, data: histogram(dist.map(p => p.rate_after)), backgroundColor: palette[2]},
      ],
    },
    options: {scales: {x: {title: {display: true, text: t.per_30d}}, y: {beginAtZero: true, ticks: {precision: 0}, title: {display: true, text: t.persons}}}},
  });

  // Mental-health and suicide calls by week.
  const weeks = d.mental_health_weeks;
  const cats = ["etat_mental_perturbe", "suicidaire"];
  draw("chart-mh-weeks", {
    type: "line",
    data: {
      labels: weeks.map(w => week(w.week)),
      datasets: cats.map((c, i) => ({label: t["code." + c] || c, data: weeks.map(w => w.counts[c] || 0), borderColor: palette[i], backgroundColor: palette[i]})),
    },
    options: {scales: {y: {beginAtZero: true, ticks: {precision: 0}}, x: {ticks: {maxRotation: narrow ? 60 : 0, autoSkip: true}}}},
  });

  // Grandes utilisatrices by month.
  const gu = d.gu;
  draw("chart-gu", {
    data: {
      labels: gu.map(r => month(r.month)),
      datasets: [
        {type: "bar", label: t.persons, data: gu.map(r => r.grandes_utilisatrices), backgroundColor: palette[4], yAxisID: "y"},
        {type: "line", label: t.gu_share + " (%)", data: gu.map(r => Math.round(r.share * 1000) / 10), borderColor: palette[1], yAxisID: "y1"},
      ],
    },
    options: {scales: {y: {beginAtZero: true, ticks: {precision: 0}}, y1: {beginAtZero: true, max: 100, position: "right", grid: {drawOnChartArea: false}}}},
  });

  // Latency histograms (non-cumulative counts per bucket) for each stage.
  const stages = Object.keys(d.latency);
  const first = d.latency[stages[0]];
  const latLabels = first ? first.buckets.map(b => (b.le === "+Inf" ? "> " + first.buckets[first.buckets.length - 2].le : "≤ " + b.le)) : [];
  draw("chart-latency", {
    type: "bar",
    data: {
      labels: latLabels,
      datasets: stages.map((s, i) => ({
        label: t["stage." + s] || s,
        data: d.latency[s].buckets.map((b, j, all) => b.count - (j > 0 ? all[j - 1].count : 0)),
        backgroundColor: palette[i % palette.length],
      })),
    },
    options: {scales: {y: {beginAtZero: true, ticks: {precision: 0}}}},
  });

  // Dyad workload.
  const dy = d.dyads.dyads;
  draw("chart-dyads", {
    type: "bar",
    data: {
      labels: dy.map(r => r.dyad_id),
      datasets: [
        {label: t.alerts, data: dy.map(r => r.alerts), backgroundColor: palette[0]},
        {label: t.acknowledged, data: dy.map(r => r.acknowledged), backgroundColor: palette[2]},
        {label: t.escalated, data: dy.map(r => r.escalated), backgroundColor: palette[1]},
        {label: t.missed, data: dy.map(r => r.missed_for_capacity), backgroundColor: palette[3]},
      ],
    },
    options: {scales: {y: {beginAtZero: true, ticks: {precision: 0}}}},
  });
  document.body.dataset.chartsReady = "1";
})();
