// champion dashboard: renders every view from /ui/api and polls it. No dependencies.
// Every number is shown as text (with its raw value in data-value) beside any chart, and
// every status is a word with a symbol, never a colour alone.
"use strict";

const API = "/ui/api";
const SVGNS = "http://www.w3.org/2000/svg";
const TOKEN_KEY = "champion-token";
const ui = { config: null, timer: null, sort: { key: "name", dir: 1 }, filter: "",
             rows: [], summaries: {}, view: null };

// -- small helpers ---------------------------------------------------------------------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== null && v !== undefined) el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const isNum = (x) => typeof x === "number" && isFinite(x);

function num(x, digits = 4) {
  if (!isNum(x)) return "–";
  if (x !== 0 && Math.abs(x) < 1e-3) return x.toExponential(2);
  return Number(x.toPrecision(digits)).toLocaleString("en-US", { maximumFractionDigits: 8 });
}
function int(x) { return isNum(x) ? Math.round(x).toLocaleString("en-US") : "–"; }
function pct(x, digits = 1) { return isNum(x) ? (100 * x).toFixed(digits) + "%" : "–"; }
function signedPct(x) { return isNum(x) ? (x > 0 ? "+" : "") + (100 * x).toFixed(1) + "%" : "–"; }
function ci(pair, f = num) {
  return Array.isArray(pair) ? `${f(pair[0])} to ${f(pair[1])}` : "–";
}
function when(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  return isNaN(d) ? iso : d.toISOString().replace("T", " ").slice(0, 19) + "Z";
}
// A cell holding a number: its text, and the raw value for anyone comparing.
function ncell(x, f = num, attrs = {}) {
  return h("td", { class: "n", "data-value": isNum(x) ? x : "", ...attrs }, f(x));
}

const STATUS_WORDS = {
  pass: ["✓", "pass"], fail: ["✗", "fail"], inconclusive: ["…", "inconclusive"],
  warn: ["!", "warning"], ok: ["✓", "ok"], mismatch: ["✗", "mismatch"],
  violation: ["✗", "violation"], no_data: ["…", "no data"],
};
function badge(kind, label) {
  const [mark, word] = STATUS_WORDS[kind] || ["•", kind];
  return h("span", { class: `badge b-${kind}` }, h("span", { "aria-hidden": "true" }, mark + " "),
           label || word);
}
function stateBadge(state) { return h("span", { class: `state st-${state}` }, state); }

function token() { return sessionStorage.getItem(TOKEN_KEY) || ""; }

async function api(path, options = {}) {
  const headers = { Accept: "application/json", ...(options.headers || {}) };
  if (token()) headers.Authorization = "Bearer " + token();
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(API + path, { ...options, headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body) });
  } catch (e) {
    return { ok: false, status: 0, body: null, message: "the server did not answer: " + e };
  }
  let body = null;
  try { body = await response.json(); } catch (e) { body = null; }
  const message = body && body.error ? body.error.message : response.statusText;
  return { ok: response.ok, status: response.status, body, message };
}

function say(text) { document.getElementById("status").textContent = text; }

function section(title, id, ...children) {
  return h("section", { "aria-labelledby": id }, h("h2", { id }, title), ...children);
}

function table(caption, head, rows, attrs = {}) {
  return h("table", attrs, caption ? h("caption", {}, caption) : null,
    h("thead", {}, h("tr", {}, head.map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, rows));
}

// -- charts (inline SVG; each has a title and sits beside a table of its numbers) -------

function scale(lo, hi, a, b) {
  if (!(hi > lo)) { hi = lo + 1; lo -= 1; }
  return (v) => a + ((v - lo) / (hi - lo)) * (b - a);
}

function lineChart(label, series, opts = {}) {
  // series: [{name, points: [[x, y]...], band: [[x, lo, hi]...], dash}]
  const W = opts.width || 420, H = opts.height || 160, P = 48;
  const xs = [], ys = [];
  for (const sr of series) {
    for (const [x, y] of sr.points) { if (isNum(y)) { xs.push(x); ys.push(y); } }
    for (const [x, lo, hi] of sr.band || []) {
      if (isNum(lo)) { xs.push(x); ys.push(lo); }
      if (isNum(hi)) ys.push(hi);
    }
  }
  if (opts.yFloor !== undefined) ys.push(opts.yFloor);
  if (opts.yCeil !== undefined) ys.push(opts.yCeil);
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img",
                         "aria-label": label });
  svg.append(s("title", {}, label));
  if (!xs.length) {
    svg.append(s("text", { x: W / 2, y: H / 2, "text-anchor": "middle" }, "no data yet"));
    return svg;
  }
  const X = scale(Math.min(...xs), Math.max(...xs), P, W - 8);
  const Y = scale(Math.min(...ys), Math.max(...ys), H - 20, 8);
  svg.append(s("line", { x1: P, x2: W - 8, y1: H - 20, y2: H - 20, class: "axis" }));
  svg.append(s("line", { x1: P, x2: P, y1: 8, y2: H - 20, class: "axis" }));
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const fy = opts.yFormat || num;
  svg.append(s("text", { x: P - 3, y: Y(y1) + 4, "text-anchor": "end", class: "tick" }, fy(y1)));
  svg.append(s("text", { x: P - 3, y: Y(y0) + 4, "text-anchor": "end", class: "tick" }, fy(y0)));
  if (opts.zero && y0 < 0 && y1 > 0) {
    svg.append(s("line", { x1: P, x2: W - 8, y1: Y(0), y2: Y(0), class: "zero" }));
  }
  series.forEach((sr, i) => {
    const band = (sr.band || []).filter((b) => isNum(b[1]) && isNum(b[2]));
    if (band.length) {
      const d = band.map((b) => `${X(b[0])},${Y(b[2])}`).concat(
        band.slice().reverse().map((b) => `${X(b[0])},${Y(b[1])}`));
      svg.append(s("polygon", { points: d.join(" "), class: `band c${i}` }));
    }
    const pts = sr.points.filter((p) => isNum(p[1]));
    if (pts.length) {
      const cls = `line c${i}` + (sr.dash ? " dash" : "");
      svg.append(s(opts.step ? "polyline" : "polyline", { class: cls, points: (opts.step
        ? pts.flatMap((p, j) => j ? [[X(p[0]), Y(pts[j - 1][1])], [X(p[0]), Y(p[1])]]
                                    : [[X(p[0]), Y(p[1])]]).concat(
            opts.stepTo ? [[X(opts.stepTo), Y(pts[pts.length - 1][1])]] : [])
        : pts.map((p) => [X(p[0]), Y(p[1])])).map((q) => q.join(",")).join(" ") }));
      for (const p of pts.length < 40 ? pts : []) {
        svg.append(s("circle", { cx: X(p[0]), cy: Y(p[1]), r: 2.5, class: `dot c${i}` }));
      }
    }
  });
  const legend = s("g", { class: "legend" });
  series.forEach((sr, i) => {
    legend.append(s("text", { x: P + 6 + i * 110, y: 14, class: `lg c${i}` },
                    (sr.dash ? "- - " : "— ") + sr.name));
  });
  svg.append(legend);
  return svg;
}

function forestPlot(label, rows) {
  // rows: [{name, estimate, lo, hi}] on one axis with a line at zero
  const W = 420, rowH = 22, H = 24 + rows.length * rowH, L = 150;
  const vals = rows.flatMap((r) => [r.lo, r.hi, r.estimate]).filter(isNum).concat([0]);
  const X = scale(Math.min(...vals), Math.max(...vals), L, W - 12);
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img",
                         "aria-label": label });
  svg.append(s("title", {}, label));
  svg.append(s("line", { x1: X(0), x2: X(0), y1: 4, y2: H - 4, class: "zero" }));
  rows.forEach((r, i) => {
    const y = 16 + i * rowH;
    svg.append(s("text", { x: 4, y: y + 4, class: "tick" }, r.name));
    if (isNum(r.lo) && isNum(r.hi)) {
      svg.append(s("line", { x1: X(r.lo), x2: X(r.hi), y1: y, y2: y, class: "ci" }));
    }
    if (isNum(r.estimate)) {
      svg.append(s("rect", { x: X(r.estimate) - 3, y: y - 3, width: 6, height: 6,
                             class: "est" }));
    }
  });
  return svg;
}

// -- token and refresh -----------------------------------------------------------------

function setupToken() {
  const form = document.getElementById("token-form");
  const input = document.getElementById("token");
  input.value = token();
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, input.value.trim());
    say(input.value.trim() ? "token kept for this tab" : "no token");
    refresh();
  });
  document.getElementById("token-clear").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    input.value = "";
    say("token forgotten");
  });
}

function schedule() {
  clearInterval(ui.timer);
  const seconds = (ui.config && ui.config.refresh_seconds) || 5;
  ui.timer = setInterval(refresh, seconds * 1000);
}

async function refresh() {
  if (ui.view && ui.view.update) await ui.view.update();
}

function main() { return document.getElementById("main"); }

function route() {
  const hash = decodeURIComponent(location.hash.replace(/^#/, "")) || "/";
  if (hash.startsWith("/e/")) return experimentPage(hash.slice(3));
  if (hash === "/plan") return planPage();
  if (hash === "/race") return racePage();
  return listPage();
}

// -- experiment list -------------------------------------------------------------------

const COLUMNS = [
  ["name", "Experiment"], ["state", "State"], ["live_percent", "Live %"],
  ["allocation", "Allocation"], ["health", "Health"], ["decision", "Decision so far"],
  ["guardrails", "Guardrails"], ["updated_at", "Updated"],
];

function sortValue(row, key) {
  const sum = ui.summaries[row.name] || {};
  if (key === "decision") return (sum.readout && sum.readout.decision) || "";
  if (key === "guardrails") return (sum.verdict && sum.verdict.verdict) || "";
  if (key === "health") return sum.readout ? (sum.readout.srm_mismatch ? 1 : 0) : -1;
  if (key === "allocation") return Object.values(row.allocation).join(",");
  const v = row[key];
  return v === null || v === undefined ? "" : v;
}

function healthCell(sum) {
  const r = sum && sum.readout;
  if (!r) return h("td", {}, sum && sum.pending ? "reading…" : "–");
  if (r.status !== "ok") return h("td", { title: r.message }, r.status.replace("_", " "));
  const srm = r.srm_mismatch ? badge("mismatch", "SRM") : badge("ok", "SRM ok");
  const bits = [srm, ` p ${num(r.srm_p_value, 3)}`];
  if (r.crossovers) bits.push(h("div", {}, badge("warn", `${int(r.crossovers)} crossovers`)));
  if (isNum(r.exposure_lag_hours)) bits.push(h("div", { class: "muted" },
    `last exposure ${num(r.exposure_lag_hours, 2)} h ago`));
  return h("td", { "data-srm-p": isNum(r.srm_p_value) ? r.srm_p_value : "" }, bits);
}

function verdictCell(sum) {
  const v = sum && sum.verdict;
  if (!v) return h("td", {}, "–");
  return h("td", { title: v.reason }, badge(v.verdict), h("div", { class: "muted small" },
    v.reason.length > 80 ? v.reason.slice(0, 77) + "…" : v.reason));
}

function listBody() {
  const f = ui.filter.toLowerCase();
  const rows = ui.rows.filter((r) => !f || [r.name, r.state, r.challenger || ""]
    .some((t) => t.toLowerCase().includes(f)));
  const { key, dir } = ui.sort;
  rows.sort((a, b) => {
    const x = sortValue(a, key), y = sortValue(b, key);
    return (x < y ? -1 : x > y ? 1 : 0) * dir;
  });
  return rows.map((r) => {
    const sum = ui.summaries[r.name] || {};
    const rd = sum.readout || {};
    const alloc = Object.entries(r.allocation).map(([k, v]) => `${k} ${pct(v, 1)}`).join(" · ");
    const stage = r.stage === null || r.stage === undefined ? "" : ` (stage ${r.stage})`;
    return h("tr", { "data-name": r.name },
      h("th", { scope: "row" }, h("a", { href: "#/e/" + encodeURIComponent(r.name) }, r.name)),
      h("td", {}, stateBadge(r.state)),
      h("td", { class: "n", "data-value": isNum(r.live_percent) ? r.live_percent : "" },
        isNum(r.live_percent) ? `${num(r.live_percent, 4)}% ${r.challenger}${stage}` : "–"),
      h("td", {}, alloc),
      healthCell(sum),
      h("td", { "data-decision": rd.decision || "" }, rd.decision || (sum.pending ? "reading…" : "–")),
      verdictCell(sum),
      h("td", {}, when(r.updated_at), h("div", { class: "muted small" }, r.updated_by)));
  });
}

function listPage() {
  const tbody = h("tbody", {});
  const filter = h("input", { id: "filter", type: "search", value: ui.filter,
    "aria-controls": "experiments", oninput: (e) => { ui.filter = e.target.value; draw(); } });
  const head = h("tr", {}, COLUMNS.map(([key, label]) => h("th", { scope: "col",
    "aria-sort": ui.sort.key === key ? (ui.sort.dir > 0 ? "ascending" : "descending") : "none" },
    h("button", { type: "button", class: "sort", onclick: () => {
      ui.sort = { key, dir: ui.sort.key === key ? -ui.sort.dir : 1 };
      for (const th of head.children) th.setAttribute("aria-sort", "none");
      head.children[COLUMNS.findIndex((c) => c[0] === key)].setAttribute("aria-sort",
        ui.sort.dir > 0 ? "ascending" : "descending");
      draw();
    } }, label))));
  const count = h("p", { class: "muted", id: "count" });
  function draw() {
    tbody.replaceChildren(...listBody());
    count.textContent = `${tbody.children.length} of ${ui.rows.length} experiments`;
  }
  main().replaceChildren(
    h("h1", {}, "Experiments"),
    h("div", { class: "filters" }, h("label", { for: "filter" }, "Filter by name, state or challenger"),
      filter, count),
    h("table", { id: "experiments", class: "list" },
      h("caption", { class: "sr" }, "Experiments; column buttons sort"), h("thead", {}, head), tbody));
  ui.view = {
    async update() {
      const got = await api("/experiments");
      if (!got.ok) { say(`cannot list experiments: ${got.message} (${got.status})`); return; }
      ui.rows = got.body.experiments;
      draw();
      say(`updated ${new Date().toLocaleTimeString()}`);
      const sums = await api("/summaries");
      if (sums.ok) { ui.summaries = sums.body.experiments; draw(); }
    },
  };
  return ui.view.update();
}

// -- experiment page -------------------------------------------------------------------

function timelineSection(v) {
  const pts = v.timeline.map((t) => [Date.parse(t.at), t.percent]);
  const chart = lineChart(`Share of traffic to ${v.challenger || "the challenger"} over time`,
    [{ name: `${v.challenger || "challenger"} %`, points: pts }],
    { step: true, stepTo: Date.now(), yFloor: 0, yCeil: 100, yFormat: (x) => num(x, 3) + "%" });
  const stages = (v.stages || []).map((st, i) => h("li", {
    class: v.stage === i ? "current" : "", "aria-current": v.stage === i ? "step" : null },
    `${i}: ${num(st, 4)}%`, v.stage === i ? " ◀ now" : ""));
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
    points: w.variants[n].map((p) => [Date.parse(p.start), p[field]]) })), { yFormat: f });
  const last = names.flatMap((n) => w.variants[n].slice(-3).map((p) => h("tr", {},
    h("td", {}, n), h("td", {}, when(p.start)), ncell(p.requests, int), ncell(p.error_rate, pct),
    ncell(p.mean_latency_ms, num))));
  return section("Serving over time", "h-serving", h("div", { class: "charts" },
    mk("requests", "Requests per window", int), mk("error_rate", "Error rate per window", pct),
    mk("mean_latency_ms", "Mean latency (ms) per window", num)),
    table("Newest windows", ["variant", "window", "requests", "error rate", "mean ms"], last));
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
        h("td", {}, c.significant ? badge("ok", "significant") : "not significant"),
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
        ], { zero: true }),
        table(null, ["day", "diff", "95% CI", "information"], cum.map((p) => h("tr", {},
          h("td", {}, p.day), ncell(p.diff), h("td", { class: "n" }, ci(p.diff_ci)),
          ncell(p.information_fraction, pct))))));
    }
  }
  if ((r.guardrails || []).length) {
    wrap.append(h("h3", {}, "Guardrails (read-out)"), table(null,
      ["guardrail", "variant", "rule", "status", "value", "champion", "bound"],
      r.guardrails.map((g) => h("tr", { title: g.evidence }, h("td", {}, g.guardrail), h("td", {}, g.variant),
        h("td", {}, g.rule), h("td", {}, badge(g.status === "pass" ? "pass" : g.status === "fail" ? "fail" : "inconclusive", g.status)),
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
  const body = h("div", { id: "body" }), ro = h("div", { id: "readout-slot" });
  main().replaceChildren(h("p", {}, h("a", { href: "#/" }, "← all experiments")),
    h("h1", {}, name), top, actions, body, ro);
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
      body.replaceChildren(timelineSection(v), guardrailSection(v), servingSection(v), historySection(v));
      say(`updated ${new Date().toLocaleTimeString()}`);
      const found = await api(`/experiments/${encodeURIComponent(name)}/readout`);
      ro.replaceChildren(readoutSection(found.ok ? found.body
        : { status: "error", message: `${found.message} (${found.status})` }));
    },
  };
  return ui.view.update();
}

// -- planning tools --------------------------------------------------------------------

function field(id, label, attrs) {
  return h("div", { class: "field" }, h("label", { for: id }, label), h("input", { id, name: id, ...attrs }));
}

function formValues(form, spec) {
  const out = {};
  for (const [key, kind] of Object.entries(spec)) {
    const el = form.elements[key];
    if (kind === "bool") out[key] = el.checked;
    else if (kind === "list") out[key] = el.value.split(",").map((x) => Number(x.trim()));
    else if (el.value !== "") out[key] = kind === "int" ? parseInt(el.value, 10) : Number(el.value);
  }
  return out;
}

function planPage() {
  const out = h("div", { id: "plan-out", "aria-live": "polite" });
  const spec = { baseline: "num", mde: "num", relative: "bool", alpha: "num", power: "num",
                 ratio: "num", one_sided: "bool", std: "num", looks: "int", challengers: "int",
                 daily_units: "num" };
  const form = h("form", { id: "plan-form", onsubmit: async (e) => {
    e.preventDefault();
    const got = await api("/plan", { method: "POST", body: formValues(form, spec) });
    if (!got.ok) { out.replaceChildren(h("p", { class: "refused" }, badge("fail", "error"), " ", got.message)); return; }
    const p = got.body;
    const curve = p.power_curve.map((c) => [c.effect, c.power]);
    out.replaceChildren(
      h("table", { id: "plan-result" }, h("tbody", {},
        h("tr", {}, h("th", { scope: "row" }, "control units"), ncell(p.n_control, int, { id: "n-control" })),
        h("tr", {}, h("th", { scope: "row" }, "treatment units"), ncell(p.n_treatment, int, { id: "n-treatment" })),
        h("tr", {}, h("th", { scope: "row" }, "total units"), ncell(p.total, int, { id: "n-total" })),
        h("tr", {}, h("th", { scope: "row" }, "days"), ncell(p.days, int, { id: "days" })))),
      h("ul", {}, p.notes.map((n) => h("li", {}, n))),
      h("div", { class: "pair" },
        lineChart("Power against the true effect, at the fixed-horizon size", [{ name: "power",
          points: curve }], { yFloor: 0, yCeil: 1, yFormat: (x) => pct(x, 0) }),
        table("What the MDE costs", ["MDE", "relative", "total units", "days"],
          p.trade_off.map((r) => h("tr", {}, ncell(r.mde_absolute), ncell(r.mde_relative, pct),
            ncell(r.total, int), ncell(r.days, int))), { id: "trade-off" })));
  } },
    field("baseline", "Baseline (rate, or mean with a std)", { type: "number", step: "any", value: 0.05, required: true }),
    field("mde", "Minimum detectable effect", { type: "number", step: "any", value: 0.01, required: true }),
    field("relative", "MDE is relative", { type: "checkbox" }),
    field("alpha", "Alpha", { type: "number", step: "any", value: 0.05 }),
    field("power", "Power", { type: "number", step: "any", value: 0.8 }),
    field("ratio", "Split n_treatment / n_control", { type: "number", step: "any", value: 1 }),
    field("one_sided", "One-sided test", { type: "checkbox" }),
    field("std", "Standard deviation (mean metric)", { type: "number", step: "any" }),
    field("looks", "Sequential looks", { type: "number", min: 1, value: 1 }),
    field("challengers", "Challengers", { type: "number", min: 1, value: 1 }),
    field("daily_units", "Eligible units per day", { type: "number", step: "any", value: 2000 }),
    h("button", { type: "submit" }, "Plan"));
  main().replaceChildren(h("h1", {}, "Sample size"), h("p", { class: "muted" },
    "The numbers of champion plan, computed by the server with the same function."), form, out);
  ui.view = null;
  form.requestSubmit();
}

function racePage() {
  const out = h("div", { id: "race-out", "aria-live": "polite" });
  const spec = { rates: "list", requests: "int", runs: "int", batch: "int", min_share: "num", seed: "int" };
  const form = h("form", { id: "race-form", onsubmit: async (e) => {
    e.preventDefault();
    out.replaceChildren(h("p", {}, "racing…"));
    const got = await api("/race", { method: "POST", body: formValues(form, spec) });
    if (!got.ok) { out.replaceChildren(h("p", { class: "refused" }, badge("fail", "error"), " ", got.message)); return; }
    const r = got.body, names = Object.keys(r.policies);
    const reg = names.map((n) => ({ name: n, points: r.policies[n].batch_ends.map((x, i) =>
      [x, r.policies[n].regret_curve[i]]) }));
    const share = names.map((n) => ({ name: n, points: r.policies[n].batch_ends.map((x, i) =>
      [x, r.policies[n].winner_share[i]]) }));
    out.replaceChildren(
      table("Bandit race", ["policy", "regret", "± SE", "> 90% to the best arm from"],
        names.map((n) => { const p = r.policies[n]; return h("tr", { "data-policy": n }, h("td", {}, n),
          ncell(p.regret, (x) => num(x, 4)), ncell(p.regret_se, (x) => num(x, 3)),
          ncell(p.first_request_over_90pct_to_winner, int)); }), { id: "race-result" }),
      h("p", {}, isNum(r.regret_saved_by_thompson)
        ? `Thompson loses ${num(r.regret_saved_by_thompson, 4)} ± ${num(r.regret_saved_se, 3)} fewer conversions than the fixed split.`
        : ""),
      h("div", { class: "charts" },
        lineChart("Cumulative regret (conversions lost) by request", reg),
        lineChart("Share of each batch to the best arm", share, { yFloor: 0, yCeil: 1, yFormat: (x) => pct(x, 0) })));
  } },
    field("rates", "True rates, comma-separated", { type: "text", value: "0.031,0.038", required: true }),
    field("requests", "Requests", { type: "number", min: 1, value: 10000 }),
    field("runs", "Runs per policy", { type: "number", min: 1, value: 200 }),
    field("batch", "Requests between weight updates", { type: "number", min: 1, value: 100 }),
    field("min_share", "Floor on each arm's share", { type: "number", step: "any", min: 0, value: 0 }),
    field("seed", "Seed", { type: "number", min: 0, value: 0 }),
    h("button", { type: "submit" }, "Race"));
  main().replaceChildren(h("h1", {}, "Bandit race"), h("p", { class: "muted" },
    "A fixed split against Thompson sampling: the numbers of champion simulate, computed by the server."),
    form, out);
  ui.view = null;
  form.requestSubmit();
}

// -- start -----------------------------------------------------------------------------

async function start() {
  setupToken();
  const got = await api("/config");
  ui.config = got.ok ? got.body : { admin: false, refresh_seconds: 5 };
  if (!got.ok) say(`cannot read the dashboard's settings: ${got.message} (${got.status})`);
  window.addEventListener("hashchange", () => { route(); main().focus(); });
  await route();
  schedule();
}

start();
