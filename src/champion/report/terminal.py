"""The read-out in the terminal: health first, then metrics, segments, guardrails, decision.

Tables fit 100 columns; intervals print as ``[lo, hi]``; proportions in percent and their
differences in percentage points (pp).
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from champion.analysis.significance import BETTER, NOT_SIGNIFICANT, WORSE
from champion.analysis.significance import significance as significance_of

if TYPE_CHECKING:
    from datetime import datetime

    from champion.analysis.readout import ChallengerResult, MetricResult, Report
    from champion.report.early import EarlyReadout

__all__ = [
    "DECISION_STYLES",
    "early_lines",
    "fmt_diff",
    "fmt_p",
    "fmt_value",
    "humanize",
    "render_terminal",
    "significance",
]

DECISION_STYLES = {
    "rollout_full": "bold green",
    "rollout_gradual": "green",
    "keep": "yellow",
    "extend": "cyan",
    "rollback": "bold red",
}
_STATUS_STYLES = {"pass": "green", "warn": "yellow", "inconclusive": "yellow", "fail": "bold red"}


def _nan(x: float | None) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def fmt_value(kind: str, x: float) -> str:
    if _nan(x):
        return "-"
    if kind == "proportion":
        return f"{x:.2%}"
    return f"{x:.4g}"


def fmt_diff(kind: str, x: float) -> str:
    if _nan(x):
        return "-"
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    if kind == "proportion":
        return f"{x * 100:+.2f} pp"
    return f"{x:+.4g}"


def _interval(kind: str, ci: tuple[float, float]) -> str:
    if _nan(ci[0]) and _nan(ci[1]):
        return ""
    return f"[{fmt_diff(kind, ci[0])}, {fmt_diff(kind, ci[1])}]"


def _pct(x: float) -> str:
    return "-" if _nan(x) else f"{x:+.1%}"


def _pct_ci(ci: tuple[float, float]) -> str:
    return "" if _nan(ci[0]) else f"[{_pct(ci[0])}, {_pct(ci[1])}]"


def fmt_p(x: float) -> str:
    """A p-value for people: ``<0.0001`` rather than ``0.0000`` or ``1.355e-20``."""
    if _nan(x):
        return "-"
    return "<0.0001" if x < 1e-4 else f"{x:.4f}"


_p = fmt_p

_INF = re.compile(r"(?<![\w.])([+-]?)inf\b")
_TINY = re.compile(r"(?<![\w.])(p\s*=\s*)?[+-]?\d+(?:\.\d+)?e-(\d+)\b")


def humanize(text: str) -> str:
    """Numbers in a sentence for people: ``-inf`` -> ``-∞``, ``p = 1.355e-20`` ->
    ``p < 0.0001``, ``-9.6e-05`` -> ``-0.000096``, a number below 1e-7 -> ``≈0``."""

    def tiny(m: re.Match[str]) -> str:
        if m.group(1):
            return "p < 0.0001"
        if int(m.group(2)) > 7:
            return "≈0"
        return f"{float(m.group(0)):.8f}".rstrip("0")

    text = _INF.sub(lambda m: f"{'-' if m.group(1) == '-' else ''}∞", text)
    return _TINY.sub(tiny, text)


def _health(report: Report) -> Panel:
    h = report.health
    t = Table(box=box.SIMPLE_HEAD, show_header=True, pad_edge=False)
    t.add_column("check", overflow="fold")
    t.add_column("result", overflow="fold")
    srm = h.srm
    state = "[bold red]MISMATCH[/]" if srm.mismatch else "[green]ok[/]"
    seq = srm.sequential.p_value if srm.sequential else math.nan
    observed = ", ".join(f"{escape(v)} {n:,}" for v, n in srm.observed.items())
    t.add_row(
        "sample ratio (SRM)",
        f"{state}: {observed}; p = {_p(srm.p_value)} (sequential {_p(seq)}), "
        f"threshold {srm.threshold:g}",
    )
    for st in srm.stages:
        flag = "[bold red]mismatch[/]" if st.mismatch else "ok"
        expected = ", ".join(f"{escape(v)} {s:.1%}" for v, s in st.expected_shares.items())
        p = st.test.p_value if st.test else math.nan
        note = f"; {escape(st.note)}" if st.note else ""
        t.add_row(
            f"  {escape(st.label)}",
            f"{flag}: {st.units:,} units, expected {expected}; p = {_p(p)}{note}",
        )
    share = h.multiple_exposure_share
    per_arm = ", ".join(f"{escape(v)} {n:,}" for v, n in h.crossovers.items())
    t.add_row(
        "crossovers",
        f"{h.multiple_exposure_units:,} of {h.exposed_units:,} units ({share:.2%}) saw another "
        f"variant later{f' ({per_arm})' if per_arm else ''}: kept in their first arm",
    )
    for v, look in report.looks.items():
        t.add_row(f"look ({escape(v)})", escape(look.describe()))
    lag_e, lag_o = h.exposure_lag_hours, h.outcome_lag_hours
    fresh = f"as of {h.as_of:%Y-%m-%d %H:%M} UTC; last exposure " + (
        "-" if lag_e is None else f"{lag_e:.1f} h ago"
    )
    fresh += "; last outcome " + ("none" if lag_o is None else f"{lag_o:.1f} h ago")
    t.add_row("data freshness", fresh)
    t.add_row(
        "outcomes to come",
        f"{h.units_in_window:,} units ({h.units_in_window_share:.1%}) still inside the "
        "primary window",
    )
    body: list[RenderableType] = [t]
    body += [f"[yellow]! {escape(humanize(w))}[/]" for w in report.warnings]
    return Panel(Group(*body), title="Health", title_align="left", box=box.ROUNDED)


def significance(r: ChallengerResult) -> str:
    """A metric's significance with its direction (``champion.analysis.significance``)."""
    return significance_of(r.comparison, r.significant)


def _sig_markup(label: str) -> str:
    """The label in words, coloured too (colour is never the only signal)."""
    colours = {BETTER: f"[bold green]{BETTER}[/]", WORSE: f"[bold red]{WORSE}[/]",
               NOT_SIGNIFICANT: NOT_SIGNIFICANT}  # fmt: skip
    return colours.get(label, f"[yellow]{escape(label)}[/]")


def _effect_row(m: MetricResult, v: str, r: ChallengerResult) -> list[str]:
    c = r.comparison
    t = c.test
    sig = _sig_markup(significance(r))
    return [
        f"{escape(m.name)}{' *' if m.role == 'primary' else ''}",
        escape(v),
        f"{fmt_value(m.kind, t.control)} → {fmt_value(m.kind, t.treatment)}",
        f"{_pct(t.rel_lift)} {_pct_ci(t.rel_lift_ci)}",
        f"{fmt_diff(m.kind, t.diff)} {_interval(m.kind, t.diff_ci)}",
        _p(t.p_value),
        _p(r.p_value_adjusted),
        sig,
    ]


def _confidence_row(m: MetricResult, v: str, r: ChallengerResult) -> list[str]:
    c = r.comparison
    cuped = "-" if c.variance_reduction is None else f"{c.variance_reduction:.0%}"
    power, more = "-", "-"
    if r.power is not None and not _nan(r.power.power):
        power = f"{r.power.power:.0%}"
        if r.power.more_units is not None:
            more = f"{r.power.more_units:,} / {r.power.more_days} d" if r.power.more_units else "0"
    return [
        escape(m.name),
        escape(v),
        cuped,
        "-" if _nan(c.chance_to_beat) else f"{c.chance_to_beat:.1%}",
        fmt_diff(m.kind, c.expected_loss).lstrip("+"),
        power,
        more,
        _interval(m.kind, r.always_valid_ci) or "-",
    ]


def _table(columns: tuple[str, ...]) -> Table:
    t = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for col in columns:
        t.add_column(col, overflow="fold", no_wrap=col in ("p", "p adj"))
    return t


def _metrics(report: Report) -> Panel:
    effects = _table(
        (
            "metric",
            "variant",
            "champion → challenger",
            "lift [CI]",
            "diff [CI]",
            "p",
            "p adj",
            "sig",
        )
    )
    confidence = _table(
        (
            "metric",
            "variant",
            "CUPED",
            "P(beat)",
            "exp. loss",
            "power",
            "more units / days",
            "always-valid CI",
        )
    )
    notes = []
    for m in report.metrics:
        for v, r in m.challengers.items():
            effects.add_row(*_effect_row(m, v, r))
            confidence.add_row(*_confidence_row(m, v, r))
            if r.look is not None:
                k = r.look
                design = f"{k.looks} looks" if k.sequential else "fixed horizon"
                notes.append(
                    f"design ({escape(m.name)}, {escape(v)}, {design}): {escape(k.describe())}"
                )
    legend = (
        "* primary metric. sig: significant, and in which direction for the metric (WORSE: "
        "significant in its bad direction). p adj: after multiple-testing correction. "
        "CUPED: variance removed "
        "by the covariate. P(beat), exp. loss: Bayesian chance that the challenger is better "
        "and the expected loss of shipping it. power: for the design's MDE at this sample."
    )
    body: list[RenderableType] = [effects, confidence, legend, *notes]
    return Panel(Group(*body), title="Metrics", title_align="left", box=box.ROUNDED)


def _segments(report: Report) -> Panel | None:
    if not report.segments:
        return None
    t = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for col in ("metric", "segment", "variant", "n", "diff [CI]", "lift", "p adj", "sig"):
        t.add_column(col, overflow="fold")
    kinds = {m.name: m.kind for m in report.metrics}
    for s in report.segments:
        c = s.comparison
        flag = _sig_markup(significance_of(c, s.significant))
        if s.against:
            flag += ", [bold red]against the aggregate[/]"
        kind = kinds.get(s.metric, "")
        t.add_row(
            escape(s.metric),
            escape(f"{s.attribute}={s.value}"),
            escape(s.variant),
            f"{c.n_control + c.n_treatment:,.0f}",
            f"{fmt_diff(kind, c.test.diff)} {_interval(kind, c.test.diff_ci)}",
            _pct(c.test.rel_lift),
            _p(s.p_value_adjusted),
            flag,
        )
    legend = (
        f"sig: significant after {escape(report.rules.correction)} correction across segments, "
        "and in which direction for the metric (WORSE: its bad direction); against the "
        "aggregate: the segment moves the other way from the whole experiment."
    )
    return Panel(Group(t, legend), title="Segments", title_align="left", box=box.ROUNDED)


def _guardrails(report: Report) -> Panel | None:
    if not report.guardrails:
        return None
    t = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for col in ("guardrail", "variant", "rule", "status", "champion", "value", "bounds"):
        t.add_column(col, overflow="fold", no_wrap=col == "status")
    notes = []
    for g in report.guardrails:
        style = _STATUS_STYLES.get(g.status, "")
        status = f"[{style}]{g.status}[/]" if style else g.status
        lo, hi = g.bound
        bounds = "-" if _nan(lo) and _nan(hi) else f"[{lo:.4g}, {hi:.4g}]"
        champion = "-" if _nan(g.champion_value) else f"{g.champion_value:.4g}"
        value = "-" if _nan(g.value) else f"{g.value:.4g}"
        t.add_row(
            escape(g.guardrail), escape(g.variant), escape(g.rule), status, champion, value, bounds
        )
        if g.status != "pass":
            notes.append(f"[{style or 'yellow'}]{escape(humanize(g.evidence))}[/]")
    legend = (
        "value: the challenger's value (non-inferiority: its difference from the champion); "
        "bounds: one-sided confidence bounds"
    )
    return Panel(Group(t, legend, *notes), title="Guardrails", title_align="left", box=box.ROUNDED)


def _latency(report: Report) -> Panel | None:
    if not report.latency:
        return None
    t = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for col in ("variant", "requests", "errors", "p50 ms", "p95 ms", "p99 ms"):
        t.add_column(col, overflow="fold")
    for v, qs in report.latency.items():
        req = report.requests.get(v, 0)
        err = report.errors.get(v, 0)
        cells = [_ms(qs[q].estimate).removesuffix(" ms") for q in sorted(qs)]
        t.add_row(escape(v), f"{req:,}", f"{err:,} ({err / req:.2%})" if req else "-", *cells)
    return Panel(t, title="Serving", title_align="left", box=box.ROUNDED)


def _decision(report: Report) -> Panel:
    d = report.decision
    style = DECISION_STYLES.get(d.decision, "bold")
    lines = [f"[{style}]{d.decision}[/]" + (f" ({escape(d.variant)})" if d.variant else "")]
    lines += [f"- {escape(humanize(r))}" for r in d.reasons]
    return Panel("\n".join(lines), title="Decision", title_align="left", box=box.HEAVY)


def _in(at: datetime, now: datetime) -> str:
    seconds = (at - now).total_seconds()
    if seconds <= 0:
        return "passed"
    hours = seconds / 3600
    if hours < 1:
        return f"in {math.ceil(seconds / 60)} min"
    if hours < 48:
        return f"in {hours:.0f} h"
    return f"in {hours / 24:.1f} days"


def _ms(x: float) -> str:
    return "-" if _nan(x) else f"{x:.3g} ms" if x < 10 else f"{x:,.0f} ms"


def early_lines(early: EarlyReadout) -> list[tuple[str, str]]:
    """The early read-out as (label, text) rows, shared by the terminal and the HTML page."""
    exposed = ", ".join(f"{v} {n:,}" for v, n in early.exposed.items())
    rows = [
        ("exposed", f"{early.total:,} units ({exposed})"),
        (
            "counted",
            (
                f"{early.counted:,} units: a unit counts once its {early.window_days:g}-day "
                f"window for {early.metric} has closed"
            ),
        ),
        ("waiting", f"{early.waiting:,} units still inside their window"),
    ]
    if early.first_due is not None:
        when = f"{early.first_due:%Y-%m-%d %H:%M} UTC ({_in(early.first_due, early.as_of)})"
        rows.append(("first read-out", f"{when}: the first exposed unit's window closes"))
    if early.all_due is not None:
        when = f"{early.all_due:%Y-%m-%d %H:%M} UTC ({_in(early.all_due, early.as_of)})"
        rows.append(("all counted", f"{when}: every unit exposed so far is counted"))
    for s in early.serving:
        rate = "-" if _nan(s.error_rate) else f"{s.error_rate:.2%}"
        rows.append(
            (
                f"serving {s.variant}",
                (
                    f"{s.requests:,} requests, {s.errors:,} errors ({rate}), "
                    f"p50 {_ms(s.p50_ms)}, p95 {_ms(s.p95_ms)}"
                ),
            )
        )
    return rows


def _early(early: EarlyReadout) -> Panel:
    t = Table(show_header=False, box=None, pad_edge=False)
    t.add_column(style="dim", no_wrap=True)
    t.add_column()
    for label, text in early_lines(early):
        t.add_row(escape(label), escape(text))
    note = (
        "Metrics read only units whose window has closed; until then the decision is "
        "extend. Serving health needs no window: it is read from the exposures."
    )
    return Panel(Group(t, note), title="Before the windows close", title_align="left",
                 box=box.ROUNDED)  # fmt: skip


def render_terminal(report: Report, console: Console, early: EarlyReadout | None = None) -> None:
    """Print the whole read-out: health, metrics, segments, guardrails, serving, decision;
    ``early`` (champion.report.early) adds what can be said before the windows close."""
    state = ""
    if report.state is not None:
        s = report.state
        state = f" — {s.state} at version {s.version}"
    console.print(
        f"[bold]{escape(report.experiment)}[/]{escape(state)}: {escape(report.champion)} "
        f"(champion) vs {escape(', '.join(report.challengers))}",
        highlight=False,
    )
    nothing_counted = early is not None and early.counted == 0
    for panel in (
        _health(report),
        _early(early) if early is not None else None,
        None if nothing_counted else _metrics(report),
        _segments(report),
        _guardrails(report),
        _latency(report),
        _decision(report),
    ):
        if panel is not None:
            console.print(panel)
