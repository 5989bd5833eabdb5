// champion dashboard: one experiment: actions, stage timeline, guardrails, serving, history.
"use strict";

function timelineSection(v) {
  const pts = v.timeline.map((t) => [Date.parse(t.at), t.percent]);
  const chart = lineChart(`Share of traffic to ${v.challenger || "the challenger"} over time`,
    [{ name: `${v.challenger || "challenger"} %`, points: pts }],
    { step: true, stepTo: Date.now(), yFloor: 0, yCeil: 100, yFormat: (x) => num(x, 3) + "%",
      xFormat: clock });
  const stages = (v.stages || []).map((st, i) => h("li", {
    class: v.stage === i ? "current" : "", "aria-current": v.stage === i ? "step" : null },
    `${num(st, 4)}%`, v.stage === i ? " ◀ now" : ""));
  const rows = v.timeline.slice().reverse().map((t) => h("tr", {}, h("td", {}, when(t.at)),
    h("td", {}, t.action), h("td", {}, t.state), ncell(t.percent, (x) => num(x, 4) + "%"),
    h("td", {}, t.stage === null ? "–" : t.stage), h("td", {}, t.by)));
  return section("Stage timeline", "h-timeline",
    h("p", { id: "live" }, "Live: ", h("strong", { "data-value": isNum(v.live_percent) ? v.live_percent : "" },
      isNum(v.live_percent) ? `${num(v.live_percent, 4)}%` : "–"), ` to ${v.challenger || "–"}`,
      v.stage !== null && v.stage !== undefined ? `, stage ${v.stage}` : ""),
    h("div", { class: "pair" }, chart,
      h("div", {}, stages.length ? h("ol", { class: "stages", start: 0,
        "aria-label": "Rollout stages" }, stages) : h("p", { class: "muted" }, "no rollout stages"),
      table("Changes", ["at", "action", "state", "share", "stage", "by"], rows))));
}

const KINDS = { slo: "per window", comparative: "against the champion", change: "change scan",
                stage: "this stage, pooled" };

function dd(g, field, f) {
  return h("dd", { "data-field": field, "data-value": isNum(g[field]) ? g[field] : "" }, f(g[field]));
}

function guardrailSection(v) {
  const verdict = v.verdict || { verdict: "inconclusive", reason: "", guardrails: [] };
  const tiles = verdict.guardrails.map((g) => h("div", { class: `tile t-${g.status}`,
    "data-guardrail": g.name, "data-kind": g.kind },
    h("h3", {}, g.name, " ", h("span", { class: "muted small" },
      `${g.variant} · ${g.rule} · ${KINDS[g.kind] || g.kind}`)),
    badge(g.status),
    h("dl", {},
      h("dt", {}, "estimate"), dd(g, "estimate", num),
      h("dt", {}, "bound"), dd(g, "bound", num),
      h("dt", {}, "limit"), dd(g, "limit", num),
      h("dt", {}, "k / K"), h("dd", { "data-field": "k" }, `${g.k ?? "–"} / ${g.stop_after ?? "–"}`),
      h("dt", {}, "sample"), dd(g, "n", int))));
  return section("Guardrails (monitor)", "h-guardrails",
    h("p", { id: "verdict" }, badge(verdict.verdict), " ", verdict.reason),
    tiles.length ? h("div", { class: "tiles" }, tiles)
      : h("p", { class: "muted" }, "no guardrail windows judged yet"));
}

function servingSection(v) {
  const w = v.windows || { variants: {} };
  const names = Object.keys(w.variants);
  if (!names.length) return section("Serving over time", "h-serving",
    h("p", { class: "muted" }, "no guardrail windows stored (the monitor stores them)"));
  const mk = (field, label, f) => lineChart(label, names.map((n) => ({ name: n,
    points: w.variants[n].map((p) => [Date.parse(p.start), p[field]]) })), { yFormat: f, xFormat: clock });
  const last = names.flatMap((n) => w.variants[n].slice(-3).map((p) => h("tr", {},
    h("td", {}, n), h("td", {}, when(p.start)), ncell(p.requests, int), ncell(p.error_rate, pct),
    ncell(p.mean_latency_ms, num), ncell(p.p95_latency_ms, num, { "data-field": "p95" }))));
  return section("Serving over time", "h-serving", h("div", { class: "charts" },
    mk("requests", "Requests per window", int), mk("error_rate", "Error rate per window", pct),
    mk("p95_latency_ms", "p95 latency (ms) per window", num)),
    table("Newest windows", ["variant", "window", "requests", "error rate", "mean ms", "p95 ms"],
          last, { id: "windows" }));
}

function historySection(v) {
  const rows = v.history.map((e) => h("tr", { "data-action": e.action, "data-by": e.by },
    h("td", {}, when(e.at)), h("td", {}, e.action), h("td", {}, e.by), h("td", {}, stateBadge(e.state)),
    h("td", {}, Object.entries(e.allocation).map(([k, x]) => `${k} ${pct(x)}`).join(" · ")),
    h("td", { class: "reason" }, e.reason || "–", e.evidence ? evidence(e.evidence) : null)));
  return section("Audit history", "h-history",
    table(null, ["at", "action", "by", "state", "allocation", "reason and evidence"], rows,
          { id: "history" }));
}

function evidence(ev) {
  const rules = Array.isArray(ev.rules) ? ev.rules : [];
  return h("details", { class: "evidence" }, h("summary", {}, "Why: the evidence"),
    rules.length ? table(null, ["rule", "variant", "status", "estimate", "bound", "limit", "k/K", "n"],
      rules.map((r) => h("tr", {}, h("td", {}, `${r.guardrail || r.name || ""} ${r.rule || ""}`),
        h("td", {}, r.variant || "–"), h("td", {}, r.status || "–"), ncell(r.estimate), ncell(r.bound),
        ncell(r.limit), h("td", {}, `${r.k ?? "–"}/${r.stop_after ?? "–"}`), ncell(r.n, int)))) : null,
    h("pre", {}, JSON.stringify(ev, null, 2)));
}

function actionForm(v, onDone) {
  const offered = v.actions || [];
  const result = h("div", { id: "action-result", role: "status", "aria-live": "polite" });
  if (!offered.length) return section("Actions", "h-actions",
    h("p", { class: "muted" }, `no action applies to a ${v.state} experiment`), result);
  const select = h("select", { id: "action", name: "action" },
    offered.map((a) => h("option", { value: a }, a)));
  const to = h("input", { id: "ramp-to", type: "number", min: 0, max: 100, step: "any" });
  const reason = h("input", { id: "reason", type: "text", required: true, maxlength: 500, size: 40 });
  const toWrap = h("span", { class: "ramp-to" }, h("label", { for: "ramp-to" }, "Challenger %"), to);
  const sync = () => { toWrap.hidden = select.value !== "ramp"; };
  select.addEventListener("change", sync);
  sync();
  const note = ui.config && !ui.config.admin
    ? h("p", { class: "muted" }, "Read-only: this server has no admin token configured, so it refuses every action.")
    : h("p", { class: "muted" }, "Needs the admin token (enter it at the top); the reason goes into the audit log.");
  const form = h("form", { id: "actions", onsubmit: async (e) => {
    e.preventDefault();
    const body = { reason: reason.value, expected_version: v.version };
    if (select.value === "ramp") body.to = to.value === "" ? null : Number(to.value);
    result.replaceChildren(h("p", {}, "sending…"));
    const got = await api(`/experiments/${encodeURIComponent(v.name)}/actions/${select.value}`,
                          { method: "POST", body });
    if (!got.ok) {
      result.replaceChildren(h("p", { class: "refused" }, badge("fail", "refused"),
        ` ${select.value}: ${got.message} (HTTP ${got.status})`));
      return;
    }
    const a = got.body.audit;
    result.replaceChildren(h("p", { class: "done" }, badge("ok", "done"),
      ` ${a.action} by ${a.by} at ${when(a.at)}: now ${a.state}, version ${a.version}. Reason: ${a.reason}`));
    reason.value = "";
    onDone();
  } },
    h("label", { for: "action" }, "Action"), select, toWrap,
    h("label", { for: "reason" }, "Reason"), reason, h("button", { type: "submit" }, "Apply"));
  return section("Actions", "h-actions", note, form, result);
}

function experimentPage(name) {
  const top = h("div", { id: "top" }), actions = h("div", { id: "action-slot" });
  const slots = [h("div", {}), h("div", {}), h("div", {}), h("div", {})];
  const ro = h("div", { id: "readout-slot" }), sh = h("div", { id: "shadow-slot" });
  const bd = h("div", { id: "bandit-slot" });
  main().replaceChildren(h("p", {}, h("a", { href: "#/" }, "← all experiments")),
    h("h1", {}, name), top, actions, ...slots, bd, ro, sh);
  let version = null, actionState = null;
  ui.view = {
    async update() {
      const got = await api(`/experiments/${encodeURIComponent(name)}`);
      if (!got.ok) { say(`cannot read ${name}: ${got.message} (${got.status})`); return; }
      const v = got.body;
      top.replaceChildren(h("p", { class: "summary" }, stateBadge(v.state), ` version ${v.version}`,
        ` · ${v.spec ? `champion ${v.spec.champion}, challengers ${v.spec.challengers.join(", ")}` : ""}`,
        ` · updated ${when(v.updated_at)} by ${v.updated_by}`));
      if (version !== v.version || actionState !== v.state) {  // keep a half-typed reason
        const kept = document.getElementById("action-result");
        actions.replaceChildren(actionForm(v, () => ui.view.update()));
        if (kept && kept.childNodes.length) document.getElementById("action-result").replaceChildren(...kept.childNodes);
        version = v.version; actionState = v.state;
      }
      keep(slots[0], [v.timeline, v.live_percent, v.stage, v.stages], () => timelineSection(v));
      keep(slots[1], v.verdict, () => guardrailSection(v));
      keep(slots[2], v.windows, () => servingSection(v));
      keep(slots[3], v.history, () => historySection(v));
      say(`updated ${new Date().toLocaleTimeString()}`);
      const found = await api(`/experiments/${encodeURIComponent(name)}/readout`);
      const readout = found.ok ? found.body
        : { status: "error", message: `${found.message} (${found.status})` };
      keep(ro, [readout.status, readout.message, readout.report], () => readoutSection(readout));
      const sg = await api(`/experiments/${encodeURIComponent(name)}/shadow`);
      const compared = sg.ok ? sg.body : { status: "error", message: `${sg.message} (${sg.status})` };
      keep(sh, [compared.status, compared.message, compared.report], () => shadowSection(compared));
      if (v.spec && v.spec.bandit) {
        const bg = await api(`/experiments/${encodeURIComponent(name)}/bandit`);
        const bandit = bg.ok ? bg.body : { status: "error", message: `${bg.message} (${bg.status})` };
        keep(bd, [bandit.status, bandit.weights, bandit.report], () => banditSection(bandit));
      }
    },
  };
  return ui.view.update();
}
