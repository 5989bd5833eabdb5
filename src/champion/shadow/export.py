"""The report as one JSON object: what ``champion shadow-report --json`` prints.

Shape (every number may be NaN, written as null by the CLI)::

    {"experiment", "events", "threshold", "alpha",
     "served": {"models", "requests", "with_request_id", "errors", "latency_ms",
                "first_ts", "last_ts"},
     "shadows": [{"model", "requests", "matched", "unmatched", "no_request_id",
                  "coverage", "first_ts", "last_ts",
                  "agreement": {"rate", "ci", "agree", "compared", "incomparable"},
                  "score_diff": {"n", "mean", "p50", "p90", "p99", "max",
                                 "share_above", "share_above_ci", "threshold", "above"},
                  "psi", "psi_reading", "psi_bins",
                  "errors": {"requests", "served", "shadow", "diff", "diff_ci", "p_value",
                             "timeouts", "calls", "failed"},
                  "latency_ms": {"shadow", "served"},
                  "notes"}]}
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from champion.shadow.queries import Latency
from champion.stats.drift import RateCI

if TYPE_CHECKING:
    from champion.shadow.report import ServedSummary, ShadowComparison, ShadowReport

__all__ = ["report_dict"]


def _iso(ts: datetime | None) -> str | None:
    return None if ts is None else ts.isoformat()


def _ci(ci: tuple[float, float]) -> list[float]:
    return [float(ci[0]), float(ci[1])]


def _rate(r: RateCI) -> dict[str, object]:
    return {"count": int(r.successes), "rate": r.rate, "ci": _ci(r.ci)}


def _latency(lat: Latency) -> dict[str, object]:
    return {"n": lat.n, "mean": lat.mean, "p50": lat.p50, "p95": lat.p95, "p99": lat.p99,
            "max": lat.max}  # fmt: skip


def _served(s: ServedSummary) -> dict[str, object]:
    return {
        "models": [{"model": m, "requests": n} for m, n in s.models],
        "requests": s.requests,
        "with_request_id": s.with_request_id,
        "errors": _rate(s.errors),
        "latency_ms": _latency(s.latency),
        "first_ts": _iso(s.first_ts),
        "last_ts": _iso(s.last_ts),
    }


def _shadow(c: ShadowComparison) -> dict[str, object]:
    a, d, e = c.agreement, c.score_diff, c.errors
    return {
        "model": c.model,
        "requests": c.requests,
        "matched": c.matched,
        "unmatched": c.unmatched,
        "no_request_id": c.no_request_id,
        "coverage": c.coverage,
        "first_ts": _iso(c.first_ts),
        "last_ts": _iso(c.last_ts),
        "agreement": {
            "rate": a.rate,
            "ci": _ci(a.ci),
            "agree": a.agree,
            "compared": a.compared,
            "incomparable": a.incomparable,
        },
        "score_diff": {
            "n": d.n,
            "mean": d.mean,
            "p50": d.p50,
            "p90": d.p90,
            "p99": d.p99,
            "max": d.max,
            "share_above": d.share_above,
            "share_above_ci": _ci(d.share_above_ci),
            "threshold": d.threshold,
            "above": int(d.above.successes),
        },
        "psi": c.psi_value,
        "psi_reading": c.psi_reading,
        "psi_bins": c.psi.bins if c.psi is not None else 0,
        "errors": {
            "requests": e.requests,
            "served": _rate(e.served),
            "shadow": _rate(e.shadow),
            "diff": e.diff,
            "diff_ci": _ci(e.diff_ci),
            "p_value": e.p_value,
            "timeouts": e.timeouts,
            "calls": e.calls,
            "failed": e.failed,
        },
        "latency_ms": {"shadow": _latency(c.latency_shadow), "served": _latency(c.latency_served)},
        "notes": list(c.notes),
    }


def report_dict(report: ShadowReport) -> dict[str, object]:
    """The report in JSON types; see the module docstring for the shape."""
    return {
        "experiment": report.experiment,
        "events": report.events,
        "threshold": report.threshold,
        "alpha": report.alpha,
        "served": _served(report.served),
        "shadows": [_shadow(c) for c in report.shadows],
    }
