// champion dashboard: the experiment list, sortable and filterable in the page.
"use strict";

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
  if (r.status !== "ok") {
    return h("td", { title: r.message }, r.status === "no_exposures" ? "no exposures yet"
      : h("span", {}, badge("warn", "no read-out"), h("div", { class: "muted small" }, r.message.slice(0, 120))));
  }
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
    const focused = document.activeElement && document.activeElement.closest("#experiments tbody tr");
    const changed = keep(tbody, [ui.rows, ui.summaries, ui.filter, ui.sort],
                         () => { const f = document.createDocumentFragment(); f.append(...listBody()); return f; });
    if (changed && focused) {  // the link that had the focus keeps it
      const again = tbody.querySelector(`tr[data-name="${CSS.escape(focused.dataset.name)}"] a`);
      if (again) again.focus();
    }
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
