"""What a read-out can say before the attribution windows close.

A unit counts in a metric once its window has closed (docs/analysis.md), so for the first
``window_days`` of an experiment every metric is empty and the decision is "extend". That
is right, but it looks broken unless the read-out says why and when it changes: how many
units each arm has exposed, how many wait for their window, when the first window closes
(the first read-out with numbers), when every unit exposed so far is counted, and how the
serving looks already (requests, errors, latency), which needs no window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from champion.analysis.readout import Report
    from champion.spec import Experiment

__all__ = ["ArmServing", "EarlyReadout", "early_readout"]

# Metric statuses that mean "not enough counted units yet" rather than a broken metric.
_WAITING_STATUSES = frozenset({"empty_arm", "too_few"})


@dataclass(frozen=True, slots=True)
class ArmServing:
    """One arm's serving so far, from its exposures (no window needed)."""

    variant: str
    requests: int
    errors: int
    p50_ms: float
    p95_ms: float

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else math.nan


@dataclass(frozen=True, slots=True)
class EarlyReadout:
    """The read-out's state while units wait for their primary metric's window.

    ``exposed``: units per arm (their first exposure); ``waiting``: exposed units whose
    primary window is still open at ``as_of``; ``first_due``: when the earliest exposed
    unit's window closes (the first read-out with numbers); ``all_due``: when the last unit
    exposed so far is counted.
    """

    metric: str
    window_days: float
    as_of: datetime
    exposed: dict[str, int]
    waiting: int
    first_due: datetime | None
    all_due: datetime | None
    serving: tuple[ArmServing, ...]

    @property
    def total(self) -> int:
        return sum(self.exposed.values())

    @property
    def counted(self) -> int:
        return max(self.total - self.waiting, 0)

    @property
    def first_due_passed(self) -> bool:
        return self.first_due is not None and self.first_due <= self.as_of

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "window_days": self.window_days,
            "exposed": dict(self.exposed),
            "counted": self.counted,
            "waiting": self.waiting,
            "first_readout_due": self.first_due.isoformat() if self.first_due else None,
            "all_counted_at": self.all_due.isoformat() if self.all_due else None,
            "serving": {
                s.variant: {
                    "requests": s.requests,
                    "errors": s.errors,
                    "error_rate": s.error_rate,
                    "p50_ms": s.p50_ms,
                    "p95_ms": s.p95_ms,
                }
                for s in self.serving
            },
        }


def _quantile(report: Report, variant: str, q: float) -> float:
    estimate = report.latency.get(variant, {}).get(q)
    if estimate is None or not math.isfinite(estimate.estimate):
        return math.nan
    return float(estimate.estimate)


def early_readout(report: Report, spec: Experiment) -> EarlyReadout | None:
    """The early summary when some metric cannot be read because units still wait for
    their window; None once every metric has counted units (or nothing waits)."""
    h = report.health
    waiting_metrics = [
        m for m in report.metrics if m.status in _WAITING_STATUSES or any(
            r.comparison.status in _WAITING_STATUSES for r in m.challengers.values()
        )
    ]  # fmt: skip
    if not waiting_metrics or h.units_in_window == 0:
        return None
    primary = spec.metrics.primary
    window = timedelta(days=primary.window_days)
    serving = tuple(
        ArmServing(
            variant=v,
            requests=report.requests.get(v, 0),
            errors=report.errors.get(v, 0),
            p50_ms=_quantile(report, v, 0.5),
            p95_ms=_quantile(report, v, 0.95),
        )
        for v in spec.variants
        if v in report.requests or v in h.srm.observed
    )
    return EarlyReadout(
        metric=primary.name,
        window_days=primary.window_days,
        as_of=h.as_of,
        exposed={v: h.srm.observed.get(v, 0) for v in (report.champion, *report.challengers)},
        waiting=h.units_in_window,
        first_due=h.first_exposure + window if h.first_exposure else None,
        all_due=h.last_exposure + window if h.last_exposure else None,
        serving=serving,
    )
