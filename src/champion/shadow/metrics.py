"""The comparison's numbers, from the aggregates the database returned: statistics in Python.

Each function takes one :class:`~champion.shadow.queries.ShadowAggregates` (counts, sums,
quantiles) and hands it to ``champion.stats``: a Wilson interval for a share, a paired
difference of error rates, a PSI on binned counts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from champion.shadow.queries import ShadowAggregates, ShadowEvents
from champion.stats.drift import (
    PSIResult,
    RateCI,
    paired_proportion_test,
    proportion_ci,
    psi,
)
from champion.stats.results import TestResult

__all__ = [
    "PSI_EPSILON",
    "Agreement",
    "ErrorComparison",
    "Histogram",
    "ScoreDiff",
    "agreement",
    "error_comparison",
    "psi_edges",
    "score_diff",
    "score_psi",
]

#: A bin share below this counts as this in the PSI (an empty bin would make it infinite).
PSI_EPSILON = 1e-4


@dataclass(frozen=True, slots=True)
class Agreement:
    """Share of answered pairs whose decisions match (see docs/shadow.md for the rule)."""

    agree: int
    compared: int
    incomparable: int
    estimate: RateCI

    @property
    def rate(self) -> float:
        return self.estimate.rate

    @property
    def ci(self) -> tuple[float, float]:
        return self.estimate.ci


@dataclass(frozen=True, slots=True)
class ScoreDiff:
    """|shadow score - served score| on pairs where both answered with a score."""

    n: int
    mean: float
    p50: float
    p90: float
    p99: float
    max: float
    threshold: float
    above: RateCI

    @property
    def share_above(self) -> float:
        return self.above.rate

    @property
    def share_above_ci(self) -> tuple[float, float]:
        return self.above.ci


@dataclass(frozen=True, slots=True)
class ErrorComparison:
    """Error rates on the matched requests (paired), plus the shadow's own failure counts.

    ``test`` is the paired difference shadow - served (None without matched requests);
    ``calls`` and ``failed`` count every shadow call, matched or not.
    """

    requests: int
    served: RateCI
    shadow: RateCI
    test: TestResult | None
    timeouts: int
    calls: int
    failed: int

    @property
    def diff(self) -> float:
        return self.test.diff if self.test is not None else math.nan

    @property
    def diff_ci(self) -> tuple[float, float]:
        return self.test.diff_ci if self.test is not None else (math.nan, math.nan)

    @property
    def p_value(self) -> float:
        return self.test.p_value if self.test is not None else math.nan


@dataclass(frozen=True, slots=True)
class Histogram:
    """Counts in equal bins over [lo, hi] (the end bins also hold what falls outside)."""

    lo: float
    hi: float
    counts: dict[str, tuple[int, ...]]

    @property
    def edges(self) -> tuple[float, ...]:
        k = len(next(iter(self.counts.values())))
        return tuple(np.linspace(self.lo, self.hi, k + 1).tolist())


def agreement(agg: ShadowAggregates, alpha: float) -> Agreement:
    return Agreement(
        agree=agg.agree,
        compared=agg.compared,
        incomparable=agg.answered - agg.compared,
        estimate=proportion_ci(agg.agree, agg.compared, alpha=alpha),
    )


def score_diff(agg: ShadowAggregates, threshold: float, alpha: float) -> ScoreDiff:
    p50, p90, p99 = agg.diff_quantiles
    return ScoreDiff(
        n=agg.n_diff,
        mean=agg.diff_mean,
        p50=p50,
        p90=p90,
        p99=p99,
        max=agg.diff_max,
        threshold=threshold,
        above=proportion_ci(agg.above, agg.n_diff, alpha=alpha),
    )


def error_comparison(agg: ShadowAggregates, alpha: float) -> ErrorComparison:
    n = agg.matched
    test = None
    if n > 0:
        test = paired_proportion_test(agg.x_served, agg.x_shadow, agg.x_both, n, alpha=alpha)
    return ErrorComparison(
        requests=n,
        served=proportion_ci(agg.x_served, n, alpha=alpha),
        shadow=proportion_ci(agg.x_shadow, n, alpha=alpha),
        test=test,
        timeouts=agg.timeouts,
        calls=agg.rows,
        failed=agg.shadow_errors,
    )


def psi_edges(agg: ShadowAggregates) -> list[float]:
    """The served scores' deciles, ties merged: the cut points of the PSI's bins."""
    deciles = np.asarray(agg.served_deciles, dtype=float)
    return np.unique(deciles[np.isfinite(deciles)]).tolist()


def score_psi(events: ShadowEvents, agg: ShadowAggregates) -> tuple[PSIResult | None, list[float]]:
    """PSI of the shadow's scores against the served ones on the served deciles' bins."""
    edges = psi_edges(agg)
    if agg.n_diff == 0 or not edges:
        return None, edges
    served = events.binned(agg.model, "e_score", edges)
    shadow = events.binned(agg.model, "s_score", edges)
    return psi(served, shadow, epsilon=PSI_EPSILON), edges
