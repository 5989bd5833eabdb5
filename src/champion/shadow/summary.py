"""The report's summary as rows of text, shared by the terminal table and the HTML table."""

from __future__ import annotations

import math
from datetime import datetime

from champion.shadow.queries import Latency
from champion.shadow.report import ShadowComparison, ShadowReport
from champion.stats.drift import RateCI
from champion.stats.results import Status

__all__ = ["pct", "served_lines", "summary_rows", "time_range"]

_DASH = "–"


def _ok(value: float) -> bool:
    return value is not None and math.isfinite(value)


def pct(value: float, digits: int = 1) -> str:
    return f"{value:.{digits}%}" if _ok(value) else _DASH


def _num(value: float, digits: int = 3) -> str:
    return f"{value:.{digits}g}" if _ok(value) else _DASH


def _ms(value: float) -> str:
    """Milliseconds with three significant digits below 10 (a fast model is 0.042, not 0.0)."""
    if not _ok(value):
        return _DASH
    return f"{value:.3g}" if abs(value) < 10 else f"{value:,.1f}"


def _interval(ci: tuple[float, float], digits: int = 1) -> str:
    if not (_ok(ci[0]) and _ok(ci[1])):
        return ""
    return f" [{pct(ci[0], digits)}, {pct(ci[1], digits)}]"


def _rate(r: RateCI, digits: int = 1) -> str:
    return f"{pct(r.rate, digits)}{_interval(r.ci, digits)}" if r.n else _DASH


def _pp(value: float) -> str:
    return f"{value * 100:+.2f} pp" if _ok(value) else _DASH


def time_range(first: datetime | None, last: datetime | None) -> str:
    if first is None or last is None:
        return _DASH
    end = f"{last:%H:%M}" if last.date() == first.date() else f"{last:%Y-%m-%d %H:%M}"
    return f"{first:%Y-%m-%d %H:%M} → {end} UTC"


def _latency(shadow: Latency, served: Latency, field: str) -> str:
    return f"{_ms(getattr(shadow, field))} / {_ms(getattr(served, field))}"


def served_lines(report: ShadowReport) -> list[str]:
    """A few lines on the served model(s), for the report's header."""
    s = report.served
    models = ", ".join(f"{m} ({n:,})" for m, n in s.models) or "none logged"
    lat = s.latency
    return [
        f"served: {models}; {s.requests:,} requests, {time_range(s.first_ts, s.last_ts)}",
        (
            f"served errors {_rate(s.errors, 2)}; latency p50 {_ms(lat.p50)} ms, "
            f"p95 {_ms(lat.p95)} ms, p99 {_ms(lat.p99)} ms"
        ),
    ]


def _column(c: ShadowComparison, alpha: float) -> list[str]:
    a, d, e = c.agreement, c.score_diff, c.errors
    psi = f"{_num(c.psi_value, 3)} ({c.psi_reading})" if c.psi is not None else _DASH
    diff_ci = ""
    if e.test is not None and e.test.status != Status.ZERO_VARIANCE and _ok(e.diff_ci[0]):
        diff_ci = f" [{_pp(e.diff_ci[0])}, {_pp(e.diff_ci[1])}]"
    return [
        f"{c.requests:,}",
        f"{c.matched:,} / {c.unmatched:,}",
        pct(c.coverage),
        time_range(c.first_ts, c.last_ts),
        f"{_rate(a.estimate)} of {a.compared:,}" if a.compared else _DASH,
        f"{_num(d.mean)} / {_num(d.p50)}",
        f"{_num(d.p90)} / {_num(d.p99)} / {_num(d.max)}",
        f"{_rate(d.above, 2)} of {d.n:,}" if d.n else _DASH,
        psi,
        f"{pct(e.served.rate, 2)} → {pct(e.shadow.rate, 2)}" if e.requests else _DASH,
        f"{_pp(e.diff)}{diff_ci}" if e.test is not None else _DASH,
        f"{e.failed:,} of {e.calls:,} ({e.timeouts:,} timeouts)",
        _latency(c.latency_shadow, c.latency_served, "p50"),
        _latency(c.latency_shadow, c.latency_served, "p95"),
        _latency(c.latency_shadow, c.latency_served, "p99"),
    ]


def summary_rows(report: ShadowReport) -> list[tuple[str, list[str]]]:
    """(metric, one cell per shadow model) rows of the comparison table."""
    level = f"{1 - report.alpha:.0%}"
    labels = [
        "shadow calls",
        "matched / unmatched",
        "coverage of served requests",
        "time range",
        f"agreement [{level} CI]",
        "|score diff| mean / p50",
        "|score diff| p90 / p99 / max",
        f"share |diff| > {report.threshold:g} [{level} CI]",
        "PSI (served deciles)",
        "error rate served → shadow",
        f"error diff shadow − served [{level} CI]",
        "shadow calls failed",
        "latency p50 shadow / served (ms)",
        "latency p95 shadow / served (ms)",
        "latency p99 shadow / served (ms)",
    ]
    columns = [_column(c, report.alpha) for c in report.shadows]
    return [(label, [col[i] for col in columns]) for i, label in enumerate(labels)]
