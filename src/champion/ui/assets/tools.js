// champion dashboard: the sample-size explorer and the bandit race, computed by the server.
"use strict";

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
        lineChart("Cumulative regret (conversions lost) by request", reg, { xFormat: int }),
        lineChart("Share of each batch to the best arm", share,
          { yFloor: 0, yCeil: 1, yFormat: (x) => pct(x, 0), xFormat: int })));
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
