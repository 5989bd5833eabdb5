"""The HTML read-out's tables: the terminal's sections as plain HTML, numbers for people."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from champion.analysis.significance import significance as significance_of
from champion.report.terminal import (
    early_lines,
    fmt_diff,
    fmt_p,
    fmt_value,
    humanize,
    significance,
)

if TYPE_CHECKING:
    from champion.analysis.readout import Report
    from champion.report.early import EarlyReadout

__all__ = [
    "bandit_table",
    "confidence_table",
    "decision_block",
    "e",
    "early_table",
    "guardrail_table",
    "health_table",
    "metrics_table",
    "segments_table",
    "serving_table",
]

_DECISION_COLOURS = {
    "rollout_full": "#1a7f37",
    "rollout_gradual": "#2da44e",
    "keep": "#9a6700",
    "extend": "#0969da",
    "rollback": "#cf222e",
}


def _nan(x: float) -> bool:
    return isinstance(x, float) and math.isnan(x)


def _ms(x: float) -> str:
    return f"{x:.3g} ms" if x < 10 else f"{x:,.0f} ms"


def e(text: object) -> str:
    return html.escape(str(text))


def decision_block(report: Report) -> str:
    d = report.decision
    colour = _DECISION_COLOURS.get(d.decision, "#222")
    reasons = "".join(f"<li>{e(humanize(r))}</li>" for r in d.reasons)
    variant = f" ({e(d.variant)})" if d.variant else ""
    return (
        f'<div id="decision" class="decision" style="border-color: {colour}">'
        f'<h2 style="color: {colour}">Decision: {e(d.decision)}{variant}</h2>'
        f"<ul>{reasons}</ul></div>"
    )


def metrics_table(report: Report) -> str:
    head = (
        "metric",
        "variant",
        "champion",
        "challenger",
        "diff",
        "CI",
        "lift",
        "p",
        "p adj",
        "significant",
        "P(beat)",
    )
    rows = []
    for m in report.metrics:
        for variant, r in m.challengers.items():
            t = r.comparison.test
            lo, hi = t.diff_ci
            cells = (
                m.name + (" (primary)" if m.role == "primary" else ""),
                variant,
                fmt_value(m.kind, t.control),
                fmt_value(m.kind, t.treatment),
                fmt_diff(m.kind, t.diff),
                "-"
                if _nan(lo) and _nan(hi)
                else f"{fmt_diff(m.kind, lo)} to {fmt_diff(m.kind, hi)}",
                "-" if math.isnan(t.rel_lift) else f"{t.rel_lift:+.1%}",
                fmt_p(t.p_value),
                fmt_p(r.p_value_adjusted),
                significance(r),
                "-"
                if math.isnan(r.comparison.chance_to_beat)
                else f"{r.comparison.chance_to_beat:.1%}",
            )
            rows.append("<tr>" + "".join(f"<td>{e(c)}</td>" for c in cells) + "</tr>")
    header = "".join(f"<th>{e(h)}</th>" for h in head)
    return f'<table id="metrics"><tr>{header}</tr>{"".join(rows)}</table>'


def guardrail_table(report: Report) -> str:
    if not report.guardrails:
        return ""
    rows = "".join(
        f"<tr><td>{e(g.guardrail)}</td><td>{e(g.variant)}</td><td>{e(g.rule)}</td>"
        f'<td class="{"fail" if g.status == "fail" else ""}">{e(g.status)}</td>'
        f'<td class="text">{e(humanize(g.evidence))}</td></tr>'
        for g in report.guardrails
    )
    return (
        '<h2>Guardrails</h2><table id="guardrails"><tr><th>guardrail</th><th>variant</th>'
        f"<th>rule</th><th>status</th><th>evidence</th></tr>{rows}</table>"
    )


def _table(
    table_id: str, head: tuple[str, ...], rows: Sequence[tuple[str, ...]], text: bool = False
) -> str:
    """``text``: cells of sentences, aligned left (numbers stay right-aligned otherwise)."""
    header = "".join(f"<th>{e(h)}</th>" for h in head)
    cell = '<td class="text">' if text else "<td>"
    body = "".join("<tr>" + "".join(f"{cell}{e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table id="{table_id}"><tr>{header}</tr>{body}</table>'


def health_table(report: Report) -> str:
    h = report.health
    srm = h.srm
    observed = ", ".join(f"{v} {n:,}" for v, n in srm.observed.items())
    state = "MISMATCH" if srm.mismatch else "ok"
    text = f"{state}: {observed}; p = {fmt_p(srm.p_value)}, threshold {srm.threshold:g}"
    rows = [("sample ratio (SRM)", text)]
    for st in srm.stages:
        expected = ", ".join(f"{v} {x:.1%}" for v, x in st.expected_shares.items())
        p = st.test.p_value if st.test else math.nan
        flag = "mismatch" if st.mismatch else "ok"
        text = f"{flag}: {st.units:,} units, expected {expected}; p = {fmt_p(p)}"
        rows.append((f"  {st.label}", text))
    share = f"{h.multiple_exposure_share:.2%}"
    text = f"{h.multiple_exposure_units:,} of {h.exposed_units:,} units ({share}) saw another"
    rows.append(("crossovers", f"{text} variant later"))
    for v, look in report.looks.items():
        rows.append((f"look ({v})", look.describe()))
    waiting = f"{h.units_in_window:,} units ({h.units_in_window_share:.1%})"
    rows.append(("outcomes to come", f"{waiting} still inside the primary window"))
    out = "<h2>Health</h2>" + _table("health", ("check", "result"), rows, text=True)
    if report.warnings:
        out += "<ul>" + "".join(
            f'<li class="warning">{e(humanize(w))}</li>' for w in report.warnings
        )
        out += "</ul>"
    return out


def bandit_table(bandit: dict[str, Any] | None) -> str:
    """A bandit's estimates, each row saying what it is valid for (champion.bandit)."""
    if bandit is None:
        return ""
    head = f"<h2>Bandit: which numbers decide</h2><p>{e(bandit['note'])}</p>"
    if bandit.get("status") != "ok":
        return head + "<p>No unit's reward window has closed yet.</p>"

    def num(x: float | None) -> str:
        return "-" if x is None else f"{x:.4g}"

    gain, values = bandit["bandit_vs_holdout"], bandit["arm_values"]
    rows = [(
        "bandit - uniform holdout (per unit)", num(gain["diff"]),
        f"{num(gain['diff_ci'][0])} to {num(gain['diff_ci'][1])}", gain["valid_for"],
    )]  # fmt: skip
    for i, arm in enumerate(bandit["arms"]):
        ci = f"{num(values['ci_lower'][i])} to {num(values['ci_upper'][i])}"
        label = f"{arm}: value (AIPW, {values['interval']} interval)"
        rows.append((label, num(values["estimate"][i]), ci,
                     values["valid_for"]["arm_value"]))  # fmt: skip
        rows.append((f"{arm}: naive mean", num(values["naive"][i]), "-",
                     values["valid_for"]["naive"]))  # fmt: skip
    return head + _table("bandit", ("number", "estimate", "95% CI", "valid for"), rows)


def early_table(early: EarlyReadout | None) -> str:
    if early is None:
        return ""
    return "<h2>Before the windows close</h2>" + _table(
        "early", ("", ""), [(a, b) for a, b in early_lines(early)], text=True
    )


def confidence_table(report: Report) -> str:
    rows = []
    for m in report.metrics:
        for v, r in m.challengers.items():
            c = r.comparison
            power, more = "-", "-"
            if r.power is not None and not _nan(r.power.power):
                power = f"{r.power.power:.0%}"
                if r.power.more_units is not None:
                    more = (f"{r.power.more_units:,} units / {r.power.more_days} days"
                            if r.power.more_units else "reached")  # fmt: skip
            lo, hi = r.always_valid_ci
            rows.append((
                m.name, v,
                "-" if c.variance_reduction is None else f"{c.variance_reduction:.0%}",
                "-" if _nan(c.chance_to_beat) else f"{c.chance_to_beat:.1%}",
                power, more,
                "-" if _nan(lo) else f"{fmt_diff(m.kind, lo)} to {fmt_diff(m.kind, hi)}",
            ))  # fmt: skip
    head = ("metric", "variant", "CUPED", "P(beat)", "power", "more units / days",
            "always-valid CI")  # fmt: skip
    return "<h2>Power and remaining sample</h2>" + _table("confidence", head, rows)


def segments_table(report: Report) -> str:
    if not report.segments:
        return ""
    kinds = {m.name: m.kind for m in report.metrics}
    rows = []
    for sg in report.segments:
        t = sg.comparison.test
        kind = kinds.get(sg.metric, "mean")
        lo, hi = t.diff_ci
        ci = "-" if _nan(lo) else f"{fmt_diff(kind, lo)} to {fmt_diff(kind, hi)}"
        flag = significance_of(sg.comparison, sg.significant)
        flag += ", against the aggregate" if sg.against else ""
        rows.append((sg.metric, f"{sg.attribute}={sg.value}", sg.variant,
                     f"{sg.comparison.n_treatment:,.0f}", f"{fmt_diff(kind, t.diff)} [{ci}]",
                     "-" if _nan(t.rel_lift) else f"{t.rel_lift:+.1%}",
                     fmt_p(sg.p_value_adjusted), flag))  # fmt: skip
    head = ("metric", "segment", "variant", "n", "diff [CI]", "lift", "p adj", "significant")
    note = (
        f"<p>p adj: {e(report.rules.correction)}-corrected across segments. significant: "
        "after that correction, and in which direction for the metric (WORSE: its bad "
        "direction); against the aggregate: the segment moves the other way from the whole "
        "experiment.</p>"
    )
    return "<h2>Segments</h2>" + _table("segments", head, rows) + note


def serving_table(report: Report) -> str:
    if not report.latency:
        return ""
    rows = []
    for v, qs in report.latency.items():
        req, err = report.requests.get(v, 0), report.errors.get(v, 0)
        cells = [_ms(qs[q].estimate) if not _nan(qs[q].estimate) else "-" for q in sorted(qs)]
        rows.append((v, f"{req:,}", f"{err:,} ({err / req:.2%})" if req else "-", *cells))
    quantiles = sorted({q for qs in report.latency.values() for q in qs})
    head = ("variant", "requests", "errors", *(f"p{q * 100:g}" for q in quantiles))
    return "<h2>Serving</h2>" + _table("serving", head, rows)
