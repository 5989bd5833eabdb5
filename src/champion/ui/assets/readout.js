// champion dashboard: the read-out (champion analyze --json) and the shadow comparison
// (champion shadow-report --json) as tables beside small charts.
"use strict";

function readoutSection(found) {
  const head = h("h2", { id: "h-readout" }, "Read-out");
  const wrap = h("section", { "aria-labelledby": "h-readout", id: "readout" }, head);
  if (!found || found.status !== "ok") {
    wrap.append(h("p", { class: "muted" }, found ? found.message || found.status : "reading…"));
    return wrap;
  }
  const r = found.report;
  wrap.setAttribute("data-as-of", r.as_of);
  wrap.append(h("p", {}, "Decision so far: ", h("strong", { id: "decision" }, r.decision),
    r.decision_variant ? ` (${r.decision_variant})` : "", h("span", { class: "muted" },
    ` · as of ${when(r.as_of)} · computed ${when(found.computed_at)}`)));
  wrap.append(h("ul", { class: "reasons" }, (r.reasons || []).map((x) => h("li", {}, x))));
  const hl = r.health || {}, srm = r.srm || {};
  wrap.append(h("h3", {}, "Health"), h("table", { id: "health" }, h("tbody", {},
    h("tr", {}, h("th", { scope: "row" }, "SRM"), h("td", {}, srm.mismatch ? badge("mismatch")
      : badge("ok")), ncell(srm.p_value, (x) => "p = " + num(x, 4), { id: "srm-p" })),
    h("tr", {}, h("th", { scope: "row" }, "exposed units"), h("td", {}), ncell(hl.exposed_units, int, { id: "exposed" })),
    h("tr", {}, h("th", { scope: "row" }, "crossovers"), h("td", {}),
      ncell(Object.values(r.crossovers || {}).reduce((a, b) => a + b, 0), int)),
    h("tr", {}, h("th", { scope: "row" }, "last exposure (h ago)"), h("td", {}), ncell(hl.exposure_lag_hours)))),
    h("ul", { class: "warnings" }, (r.warnings || []).map((x) => h("li", {}, badge("warn"), " ", x))));
  // metrics table beside a forest plot of the relative lifts
  const mrows = [], forest = [];
  for (const [name, m] of Object.entries(r.metrics || {})) {
    for (const [variant, c] of Object.entries(m.challengers || {})) {
      mrows.push(h("tr", { "data-metric": name, "data-variant": variant },
        h("th", { scope: "row" }, name, h("div", { class: "muted small" }, `${m.role} · ${m.kind}`)),
        h("td", {}, variant), ncell(c.control_value), ncell(c.value),
        ncell(c.rel_lift, signedPct, { "data-field": "rel_lift" }),
        h("td", { class: "n", "data-field": "rel_lift_ci",
                  "data-value": JSON.stringify(c.rel_lift_ci) }, ci(c.rel_lift_ci, signedPct)),
        ncell(c.p_value, (x) => num(x, 3), { "data-field": "p_value" }),
        ncell(c.p_value_adjusted, (x) => num(x, 3), { "data-field": "p_value_adjusted" }),
        significanceCell(c),
        ncell(c.n, int), ncell(c.control_n, int)));
      forest.push({ name: `${name} ${variant}`, estimate: c.rel_lift,
                    lo: (c.rel_lift_ci || [])[0], hi: (c.rel_lift_ci || [])[1] });
    }
  }
  wrap.append(h("h3", {}, "Metrics"), h("div", { class: "pair" },
    table(null, ["metric", "variant", "champion", "challenger", "lift", "95% CI", "p", "adj. p",
                 "", "n", "champion n"], mrows, { id: "metrics" }),
    forestPlot("Relative lift with 95% confidence interval, per metric", forest)));
  // the primary metric's cumulative difference, with its CI and boundaries
  const primary = Object.values(r.metrics || {}).find((m) => m.role === "primary");
  if (primary) {
    for (const [variant, c] of Object.entries(primary.challengers || {})) {
      const cum = c.cumulative || [];
      if (!cum.length) continue;
      const day = (p) => Date.parse(p.day);
      wrap.append(h("h4", {}, `Cumulative difference, ${variant} − champion`), h("div", { class: "pair" },
        lineChart(`Cumulative difference of ${variant} with 95% CI and the decision boundaries`, [
          { name: "difference", points: cum.map((p) => [day(p), p.diff]),
            band: cum.map((p) => [day(p), (p.diff_ci || [])[0], (p.diff_ci || [])[1]]) },
          { name: "upper boundary", dash: true, points: cum.map((p) => [day(p), (p.boundary_diff || [])[1]]) },
          { name: "lower boundary", dash: true, points: cum.map((p) => [day(p), (p.boundary_diff || [])[0]]) },
        ], { zero: true, xFormat: (ms) => new Date(ms).toISOString().slice(0, 10) }),
        table(null, ["day", "diff", "95% CI", "information"], cum.map((p) => h("tr", {},
          h("td", {}, p.day), ncell(p.diff), h("td", { class: "n" }, ci(p.diff_ci)),
          ncell(p.information_fraction, pct))))));
    }
  }
  if ((r.guardrails || []).length) {
    wrap.append(h("h3", {}, "Guardrails (read-out)"), table(null,
      ["guardrail", "variant", "rule", "status", "value", "champion", "bound"],
      r.guardrails.map((g) => h("tr", { title: g.evidence }, h("td", {}, g.guardrail), h("td", {}, g.variant),
        h("td", {}, g.rule), h("td", {}, badge(g.status in STATUS_WORDS ? g.status : "inconclusive", g.status)),
        ncell(g.value), ncell(g.champion_value), h("td", { class: "n" }, ci(g.bound))))));
  }
  if ((r.segments || []).length) {
    const segs = r.segments.slice(0, 60);
    wrap.append(h("h3", {}, "Segments"), h("p", { class: "muted" },
      `${r.segments.length} cells; p-values adjusted (${(r.rules || {}).correction || "holm"}) across each metric's segments`),
      table(null, ["metric", "variant", "segment", "n", "lift", "95% CI", "p", "adj. p", ""],
        segs.map((g) => h("tr", {}, h("td", {}, g.metric), h("td", {}, g.variant),
          h("td", {}, `${g.attribute} = ${g.value}`), ncell(g.n_treatment + g.n_control, int),
          ncell(g.rel_lift, signedPct), h("td", { class: "n" }, ci(g.rel_lift_ci, signedPct)),
          ncell(g.p_value, (x) => num(x, 3)), ncell(g.p_value_adjusted, (x) => num(x, 3)),
          h("td", {}, g.significant ? badge(g.against ? "fail" : "ok", g.against ? "against" : "significant") : "")))));
  }
  const sv = r.serving;
  if (sv && sv.requests) {
    wrap.append(h("h3", {}, "Serving (read-out)"), table(null, ["variant", "requests", "errors", "p50 ms", "p95 ms", "p99 ms"],
      Object.keys(sv.requests).map((k) => {
        const lat = (sv.latency_ms || {})[k] || {};
        return h("tr", {}, h("td", {}, k), ncell(sv.requests[k], int), ncell((sv.errors || {})[k], int),
          ncell((lat.p50 || {}).estimate), ncell((lat.p95 || {}).estimate), ncell((lat.p99 || {}).estimate));
      })));
  }
  return wrap;
}

function shadowSection(found) {
  const wrap = h("section", { "aria-labelledby": "h-shadow", id: "shadow" },
    h("h2", { id: "h-shadow" }, "Shadow comparison"));
  if (!found || found.status !== "ok") {
    wrap.append(h("p", { class: "muted" }, found ? found.message || found.status : "reading…"));
    return wrap;
  }
  const r = found.report, served = r.served || {};
  wrap.append(h("p", { class: "muted" }, `${int(served.requests)} served requests; each shadow `
    + `model against the served one on the requests both answered (|score difference| above `
    + `${num(r.threshold)} counts as a divergence; intervals at ${pct(1 - r.alpha, 0)}).`));
  const rows = (r.shadows || []).map((m) => h("tr", { "data-model": m.model },
    h("th", { scope: "row" }, m.model), ncell(m.matched, int), ncell(m.coverage, pct),
    ncell((m.agreement || {}).rate, pct, { "data-field": "agreement" }),
    h("td", { class: "n" }, ci((m.agreement || {}).ci, pct)),
    ncell((m.score_diff || {}).mean, num, { "data-field": "score_diff_mean" }),
    ncell((m.score_diff || {}).share_above, pct, { "data-field": "share_above" }),
    ncell(m.psi, (x) => num(x, 3), { "data-field": "psi" }), h("td", {}, m.psi_reading || "–"),
    ncell((((m.errors || {}).shadow) || {}).rate, pct), ncell((((m.latency_ms || {}).shadow) || {}).p95),
    ncell((((m.latency_ms || {}).served) || {}).p95)));
  wrap.append(h("div", { class: "pair" },
    table(null, ["shadow", "matched", "coverage", "agreement", "CI", "mean |diff|", "share above",
                 "PSI", "", "errors", "p95 ms", "served p95 ms"], rows, { id: "shadows" }),
    forestPlot("Share of requests whose scores diverge, with its interval, per shadow model",
      (r.shadows || []).map((m) => ({ name: m.model, estimate: (m.score_diff || {}).share_above,
        lo: ((m.score_diff || {}).share_above_ci || [])[0], hi: ((m.score_diff || {}).share_above_ci || [])[1] })))));
  const notes = (r.shadows || []).flatMap((m) => (m.notes || []).map((n) => `${m.model}: ${n}`));
  if (notes.length) wrap.append(h("ul", {}, notes.map((n) => h("li", {}, badge("warn"), " ", n))));
  return wrap;
}

function significanceCell(c) {
  // words first, then the symbol: a bad direction never reads as a bare "yes"
  const text = c.significance || (c.significant ? "yes" : "no");
  if (text.startsWith("yes, WORSE")) return h("td", { "data-field": "significance" }, badge("fail", text));
  if (text.startsWith("yes")) return h("td", { "data-field": "significance" }, badge("ok", text));
  return h("td", { "data-field": "significance" }, text);
}

function banditSection(found) {
  // champion bandit report --json: each number beside what it is valid for
  const wrap = h("section", { "aria-labelledby": "h-bandit", id: "bandit" },
    h("h2", { id: "h-bandit" }, "Bandit"));
  if (!found || found.status !== "ok") {
    wrap.append(h("p", { class: "muted" }, found ? found.message || found.status : "reading…"));
    return wrap;
  }
  const r = found.report, arms = r.arms || [];
  const series = arms.map((arm) => ({ name: arm, points: (found.weights || []).map((w) =>
    [Date.parse(w.at), 100 * (w.allocation[arm] || 0)]) }));
  const wrows = (found.weights || []).slice().reverse().map((w) => h("tr", { "data-version": w.version },
    h("td", {}, when(w.at)), h("td", {}, w.by), ncell(w.version, int),
    ...arms.map((arm) => ncell(w.allocation[arm], pct))));
  wrap.append(h("div", { class: "pair" },
    table("Weights per published version", ["when", "by", "version", ...arms], wrows, { id: "bandit-weights" }),
    lineChart("Each arm's weight over time", series, { step: true, stepTo: Date.now(), yFloor: 0,
      yCeil: 100, yFormat: (x) => num(x, 3) + "%", xFormat: clock })));
  wrap.append(h("p", {}, r.launch_decision));
  if (r.status !== "ok") {
    wrap.append(h("p", { class: "muted" }, "no unit's reward window has closed yet"));
    return wrap;
  }
  const g = r.bandit_vs_holdout, v = r.arm_values;
  const rows = [h("tr", { "data-number": "bandit_vs_holdout" },
    h("th", { scope: "row" }, "bandit − uniform holdout, per unit"), ncell(g.diff),
    h("td", { class: "n" }, ci(g.diff_ci)), h("td", {}, badge("ok", "valid: " + g.valid_for)))];
  arms.forEach((arm, i) => {
    rows.push(h("tr", { "data-arm": arm, "data-number": "arm_value" },
      h("th", { scope: "row" }, `${arm}: value (AIPW)`), ncell(v.estimate[i], num, { "data-field": "estimate" }),
      h("td", { class: "n" }, ci([v.ci_lower[i], v.ci_upper[i]])), h("td", {}, v.valid_for.arm_value)));
    rows.push(h("tr", { "data-arm": arm, "data-number": "naive" },
      h("th", { scope: "row" }, `${arm}: naive mean`), ncell(v.naive[i], num, { "data-field": "naive" }),
      h("td", {}, "–"), h("td", {}, badge("warn", "not for decisions: " + v.valid_for.naive))));
  });
  wrap.append(table(`${int(r.units_with_reward)} units with their reward window closed `
    + `(${int(r.holdout_units)} in the holdout)`, ["number", "estimate", "95% CI", "valid for"],
    rows, { id: "bandit-numbers" }));
  return wrap;
}
