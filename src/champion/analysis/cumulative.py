"""The effect day by day, over the units first exposed so far: novelty shows as a fading lift.

Each point is the comparison over all units first exposed up to that day (cells add; arms
compared within allocation versions, as overall), with its fixed-horizon CI, the
always-valid confidence sequence (which may be read every day) and, for the primary metric
of a design, the information fraction and the planned boundary of the look reached that
day, turned into the difference it would take to cross it (``boundary · se``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

from champion.analysis.aggregates import MetricAggregates
from champion.analysis.comparison import compare_strata
from champion.analysis.kinds import kind_of
from champion.analysis.looks import Look
from champion.analysis.progress import always_valid_interval
from champion.spec.models import Metric

__all__ = ["CumulativePoint", "cumulative_series"]

_NAN = float("nan")


@dataclass(frozen=True, slots=True)
class CumulativePoint:
    day: date
    control: float  # the champion's value over the units so far (relative scales divide by it)
    n_control: float
    n_treatment: float
    diff: float
    diff_ci: tuple[float, float]
    rel_lift: float
    rel_lift_ci: tuple[float, float]
    always_valid_ci: tuple[float, float]
    information_fraction: float = _NAN
    look: int = 0
    boundary_diff: tuple[float, float] = (_NAN, _NAN)  # the difference that crosses (low, high)


def _boundary(seq: Look, t: float, se: float) -> tuple[int, tuple[float, float]]:
    """The planned look reached at fraction ``t`` and the difference its boundary needs."""
    look = min(seq.looks, math.floor(t * seq.looks + 1e-9))
    if look == 0 or math.isnan(se):
        return look, (_NAN, _NAN)
    b = abs(seq.planned_boundaries[look - 1])
    if seq.alternative == "two-sided":
        return look, (-b * se, b * se)
    if seq.alternative == "larger":
        return look, (_NAN, b * se)
    return look, (b * se, _NAN)  # "smaller": the boundary is negative


def cumulative_series(
    metric: Metric,
    aggregates: MetricAggregates,
    champion: str,
    variant: str,
    *,
    alpha: float,
    alternative: str = "two-sided",
    sequential: Look | None = None,
) -> list[CumulativePoint]:
    """One point per day with units of both arms; days before either arm has units are skipped."""
    covariate = kind_of(metric.kind).adjusts(metric)
    out = []
    for day, strata in aggregates.cumulative():
        c = compare_strata(
            metric.name,
            metric.kind,
            metric.direction,
            strata,
            champion,
            variant,
            covariate=covariate,
            alpha=alpha,
            alternative=alternative,
            bayes=False,
        )
        if not c.ok or min(c.n_control, c.n_treatment) < 2:
            continue
        t, look, crossing = _NAN, 0, (_NAN, _NAN)
        if sequential is not None and c.se > 0:
            t = 1.0 / (c.se**2 * sequential.max_information)
            look, crossing = _boundary(sequential, t, c.se)
        out.append(
            CumulativePoint(
                day=day,
                control=c.test.control,
                n_control=c.n_control,
                n_treatment=c.n_treatment,
                diff=c.test.diff,
                diff_ci=c.test.diff_ci,
                rel_lift=c.test.rel_lift,
                rel_lift_ci=c.test.rel_lift_ci,
                always_valid_ci=always_valid_interval(c, alpha),
                information_fraction=t,
                look=look,
                boundary_diff=crossing,
            )
        )
    return out
