"""The read-out as one self-contained HTML page: plotly's JavaScript inlined, readable offline.

Top to bottom: the decision and its reasons, health warnings, a summary table per metric,
the cumulative lift of every metric day by day (CI band, always-valid band and, for the
primary metric of a sequential design, the lift that would cross the boundary of the look
reached), a forest plot of every metric and segment (improvement: positive is better in the
metric's direction), the latency distribution of each variant, and the guardrails.
"""

from __future__ import annotations

import html
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from champion.report.terminal import fmt_diff, fmt_value, significance

if TYPE_CHECKING:
    from champion.analysis.readout import MetricResult, Report

__all__ = ["PLOTLY_REQUIREMENT", "render_html", "write_html"]

PLOTLY_REQUIREMENT = "plotly>=5.20"
_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2")
_DECISION_COLOURS = {
    "rollout_full": "#1a7f37",
    "rollout_gradual": "#2da44e",
    "keep": "#9a6700",
    "extend": "#0969da",
    "rollback": "#cf222e",
}
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; color: #222; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid #ccc; padding: 0.3rem 0.6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
td.text { text-align: left; }
.decision { border-left: 0.5rem solid; padding: 0.5rem 1rem; margin: 1rem 0; }
.warning { color: #8a5a00; }
.fail { color: #cf222e; font-weight: bold; }
"""


def _plotly() -> Any:
    try:
        import plotly.graph_objects as go
    except ImportError as e:
        raise ImportError(
            f"writing the HTML report needs plotly: pip install '{PLOTLY_REQUIREMENT}'"
        ) from e
    return go


def _finite(x: float) -> float | None:
    return x if isinstance(x, float | int) and math.isfinite(x) else None


def _rel(diff: float, control: float) -> float | None:
    if not control or math.isnan(control) or math.isnan(diff) or math.isinf(diff):
        return None
    return diff / control


def _cumulative_figure(go: Any, m: MetricResult) -> Any | None:
    fig = go.Figure()
    drawn = False
    for i, (variant, r) in enumerate(m.challengers.items()):
        points = r.cumulative
        if not points:
            continue
        drawn = True
        colour = _COLOURS[i % len(_COLOURS)]
        days = [p.day.isoformat() for p in points]
        lift = [_finite(p.rel_lift) for p in points]
        lo = [_finite(p.rel_lift_ci[0]) for p in points]
        hi = [_finite(p.rel_lift_ci[1]) for p in points]
        fig.add_trace(
            go.Scatter(
                x=days, y=hi, mode="lines", line={"width": 0}, showlegend=False, hoverinfo="skip"
            )
        )
        fig.add_trace(
            go.Scatter(
                x=days,
                y=lo,
                mode="lines",
                line={"width": 0},
                fill="tonexty",
                fillcolor="rgba(31, 119, 180, 0.18)",
                name=f"{variant}: {1 - r.comparison.test.alpha:.0%} CI",
            )
        )
        av_lo = [_rel(p.always_valid_ci[0], p.control) for p in points]
        av_hi = [_rel(p.always_valid_ci[1], p.control) for p in points]
        for ys, show in ((av_lo, True), (av_hi, False)):
            fig.add_trace(
                go.Scatter(
                    x=days,
                    y=ys,
                    mode="lines",
                    line={"dash": "dot", "color": colour},
                    name=f"{variant}: always-valid interval",
                    showlegend=show,
                )
            )
        fig.add_trace(
            go.Scatter(
                x=days,
                y=lift,
                mode="lines+markers",
                line={"color": colour},
                name=f"{variant}: cumulative lift",
            )
        )
        if r.look is not None:
            b_lo = [_rel(p.boundary_diff[0], p.control) for p in points]
            b_hi = [_rel(p.boundary_diff[1], p.control) for p in points]
            for ys, show in ((b_hi, True), (b_lo, False)):
                fig.add_trace(
                    go.Scatter(
                        x=days,
                        y=ys,
                        mode="lines",
                        line={"dash": "dash", "color": "#d62728", "shape": "hv"},
                        name=f"{variant}: decision boundary",
                        showlegend=show,
                    )
                )
    if not drawn:
        return None
    fig.add_hline(y=0, line_color="#888")
    fig.update_layout(
        title=f"{m.name}: cumulative lift by day of first exposure",
        template="plotly_white",
        height=380,
        xaxis_title="day",
        yaxis_title="relative lift (challenger / champion - 1)",
        yaxis_tickformat=".0%",
    )
    return fig


def _forest_figure(go: Any, report: Report) -> Any | None:
    labels, est, lo, hi, colours = [], [], [], [], []
    for m in report.metrics:
        for variant, r in m.challengers.items():
            c = r.comparison
            labels.append(f"{m.name} · {variant}")
            est.append(_finite(c.improvement))
            lo.append(_finite(c.improvement_ci[0]))
            hi.append(_finite(c.improvement_ci[1]))
            colours.append("#222")
    for s in report.segments:
        c = s.comparison
        labels.append(f"{s.metric} · {s.variant} · {s.attribute}={s.value}")
        est.append(_finite(c.improvement))
        lo.append(_finite(c.improvement_ci[0]))
        hi.append(_finite(c.improvement_ci[1]))
        colours.append("#cf222e" if s.against else "#888")
    if not labels:
        return None
    plus = [
        h - e if h is not None and e is not None else None for e, h in zip(est, hi, strict=True)
    ]
    minus = [
        e - x if x is not None and e is not None else None for e, x in zip(est, lo, strict=True)
    ]
    fig = go.Figure(
        go.Scatter(
            x=est,
            y=labels,
            mode="markers",
            marker={"color": colours, "size": 9},
            error_x={"type": "data", "array": plus, "arrayminus": minus, "symmetric": False},
            showlegend=False,
        )
    )
    fig.add_vline(x=0, line_color="#888")
    fig.update_layout(
        title="Improvement by metric and segment (positive: better in the metric's direction; "
        "red: against the aggregate)",
        template="plotly_white",
        height=max(300, 28 * len(labels) + 120),
        xaxis_title="relative improvement with its CI",
        xaxis_tickformat=".0%",
        yaxis={"autorange": "reversed"},
    )
    return fig


def _latency_figure(go: Any, report: Report) -> Any | None:
    hist = report.latency_histogram
    nonzero = [i for counts in hist.counts.values() for i, n in enumerate(counts) if n]
    if not nonzero:
        return None
    first, last = max(min(nonzero) - 3, 0), min(max(nonzero) + 3, len(hist.edges) - 2)
    fig = go.Figure()
    for i, (variant, counts) in enumerate(hist.counts.items()):
        total = sum(counts) or 1
        colour = _COLOURS[i % len(_COLOURS)]
        x = list(hist.edges[first : last + 1])
        y = [counts[k] / total for k in range(first, last + 1)]
        fig.add_trace(
            go.Scatter(x=x, y=y, mode="lines", line={"shape": "hv", "color": colour}, name=variant)
        )
        p95 = report.latency.get(variant, {}).get(0.95)
        if p95 is not None and _finite(p95.estimate) is not None:
            fig.add_vline(
                x=p95.estimate,
                line_dash="dash",
                line_color=colour,
                annotation_text=f"{variant} p95 {p95.estimate:.0f} ms",
            )
    fig.update_layout(
        title="Latency per variant (share of requests per bin)",
        template="plotly_white",
        height=360,
        xaxis_type="log",
        xaxis_title="latency (ms)",
        yaxis_title="share of requests",
        yaxis_tickformat=".1%",
    )
    return fig


def _e(text: object) -> str:
    return html.escape(str(text))


def _decision_block(report: Report) -> str:
    d = report.decision
    colour = _DECISION_COLOURS.get(d.decision, "#222")
    reasons = "".join(f"<li>{_e(r)}</li>" for r in d.reasons)
    variant = f" ({_e(d.variant)})" if d.variant else ""
    return (
        f'<div id="decision" class="decision" style="border-color: {colour}">'
        f'<h2 style="color: {colour}">Decision: {_e(d.decision)}{variant}</h2>'
        f"<ul>{reasons}</ul></div>"
    )


def _metrics_table(report: Report) -> str:
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
                f"{fmt_diff(m.kind, lo)} to {fmt_diff(m.kind, hi)}",
                "-" if math.isnan(t.rel_lift) else f"{t.rel_lift:+.1%}",
                "-" if math.isnan(t.p_value) else f"{t.p_value:.4f}",
                "-" if math.isnan(r.p_value_adjusted) else f"{r.p_value_adjusted:.4f}",
                significance(r),
                "-"
                if math.isnan(r.comparison.chance_to_beat)
                else f"{r.comparison.chance_to_beat:.1%}",
            )
            rows.append("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in cells) + "</tr>")
    header = "".join(f"<th>{_e(h)}</th>" for h in head)
    return f'<table id="metrics"><tr>{header}</tr>{"".join(rows)}</table>'


def _guardrail_table(report: Report) -> str:
    if not report.guardrails:
        return ""
    rows = "".join(
        f"<tr><td>{_e(g.guardrail)}</td><td>{_e(g.variant)}</td><td>{_e(g.rule)}</td>"
        f'<td class="{"fail" if g.status == "fail" else ""}">{_e(g.status)}</td>'
        f'<td class="text">{_e(g.evidence)}</td></tr>'
        for g in report.guardrails
    )
    return (
        '<h2>Guardrails</h2><table id="guardrails"><tr><th>guardrail</th><th>variant</th>'
        f"<th>rule</th><th>status</th><th>evidence</th></tr>{rows}</table>"
    )


def render_html(report: Report) -> str:
    """The whole page as text; plotly's JavaScript is embedded once, before the first plot."""
    go = _plotly()
    title = f"Experiment report: {report.experiment}"
    parts = [
        f"<h1>{_e(title)}</h1>",
        (
            f"<p>{_e(report.champion)} (champion) vs {_e(', '.join(report.challengers))}; as of "
            f"{report.as_of:%Y-%m-%d %H:%M} UTC</p>"
        ),
        _decision_block(report),
    ]
    if report.warnings:
        parts.append("<h2>Health and warnings</h2><ul>")
        parts += [f'<li class="warning">{_e(w)}</li>' for w in report.warnings]
        parts.append("</ul>")
    parts += ["<h2>Metrics</h2>", _metrics_table(report)]
    figures: list[tuple[str, Any]] = []
    for m in report.metrics:
        fig = _cumulative_figure(go, m)
        if fig is not None:
            figures.append((f"cumulative-{m.name}", fig))
    for div, fig in (
        ("forest", _forest_figure(go, report)),
        ("latency", _latency_figure(go, report)),
    ):
        if fig is not None:
            figures.append((div, fig))
    first = True
    for div, fig in figures:
        parts.append(
            fig.to_html(
                full_html=False, include_plotlyjs=first, div_id=div, config={"displaylogo": False}
            )
        )
        first = False
    parts.append(_guardrail_table(report))
    body = "\n".join(parts)
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
        f"<style>{_STYLE}</style></head>\n<body>\n{body}\n</body></html>\n"
    )


def write_html(report: Report, path: str | os.PathLike[str]) -> Path:
    """Write :func:`render_html` to ``path`` (its folder must exist); returns the path."""
    target = Path(path)
    target.write_text(render_html(report), encoding="utf-8")
    return target
