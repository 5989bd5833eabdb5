"""A metric kind is one object: what a unit contributes, how two arms compare, one arm's bounds.

Everything that differs between proportions, means, ratios and quantiles lives here, so the
rest of the analysis asks the kind instead of branching on its name:

- ``outcomes(metric)``: the outcome names summed per unit into ``y`` (and ``d`` for ratios);
- ``per_unit``: how a unit's outcome rows make its value (``"any"``: 0/1, ``"sum"``);
- ``least_units``: the fewest units per arm the test needs;
- ``adjusts(metric)``: whether a covariate turns the test into CUPED;
- ``compare(control, treatment, ...)``: the test and each arm's variance of its level;
- ``bayes(...)``: the Bayesian read-out of the same estimates;
- ``bounds(cell, alpha)``: one arm's value with one-sided ``1 - alpha`` bounds (guardrails).

Quantile metrics are read from histograms, not from summed cells
(``from_histogram``); their comparison is :func:`champion.analysis.comparison.compare_histograms`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

from champion.analysis.aggregates import Cell
from champion.errors import InvalidArgument
from champion.spec.models import Metric
from champion.stats._normal import z_quantile
from champion.stats.bayes import BayesResult, chance_to_beat, chance_to_beat_mean
from champion.stats.cuped import cuped
from champion.stats.drift import proportion_ci
from champion.stats.frequentist import proportion_test, welch_test
from champion.stats.ratio import ratio_test, ratio_variance
from champion.stats.results import TestResult

__all__ = ["KINDS", "ArmsEstimate", "MetricKind", "kind_of"]

_NAN = float("nan")


@dataclass(frozen=True, slots=True)
class ArmsEstimate:
    """A kind's comparison of two arms' cells.

    ``var_control``/``var_treatment`` are the variances of each arm's estimated level (their
    sum is the variance of ``test.diff``); ``normal`` is (mean, per-unit variance) per arm
    for the normal Bayesian model, None when the kind has its own (plain proportions).
    """

    test: TestResult
    var_control: float
    var_treatment: float
    unadjusted: TestResult | None = None
    variance_reduction: float | None = None
    normal: tuple[float, float, float, float] | None = None


class MetricKind(ABC):
    name: ClassVar[str]
    per_unit: ClassVar[str] = "sum"
    least_units: ClassVar[float] = 2.0  # a variance needs two units
    from_histogram: ClassVar[bool] = False

    def outcomes(self, metric: Metric) -> tuple[str, str | None]:
        """The outcome names behind ``y`` and ``d`` (None: no denominator)."""
        return metric.name, None

    def adjusts(self, metric: Metric) -> bool:
        return metric.covariate is not None

    @abstractmethod
    def compare(
        self, control: Cell, treatment: Cell, *, covariate: bool, alpha: float, alternative: str
    ) -> ArmsEstimate: ...

    def bayes(self, control: Cell, treatment: Cell, est: ArmsEstimate, alpha: float) -> BayesResult:
        assert est.normal is not None
        mean_c, var_c, mean_t, var_t = est.normal
        return chance_to_beat_mean(
            mean_c, var_c, control.n, mean_t, var_t, treatment.n, alpha=alpha
        )

    def bounds(self, cell: Cell, alpha: float) -> tuple[float, float, float]:
        """The arm's value and its one-sided ``1 - alpha`` lower and upper bounds."""
        m = cell.mean()
        return m.mean, *_normal_bounds(m.mean, m.variance, m.n, alpha)


def _normal_bounds(mean: float, var: float, n: float, alpha: float) -> tuple[float, float]:
    if n < 2 or math.isnan(var) or math.isnan(mean):
        return _NAN, _NAN
    half = z_quantile(1 - alpha) * math.sqrt(var / n)
    return mean - half, mean + half


def _cuped(control: Cell, treatment: Cell, alpha: float, alternative: str) -> ArmsEstimate:
    """The covariate-adjusted test; each arm's variance times (1 - variance reduction)."""
    result = cuped(control.covariate(), treatment.covariate(), alpha=alpha, alternative=alternative)
    reduction = result.variance_reduction
    keep = 1.0 - reduction if not math.isnan(reduction) else 1.0
    var_c, var_t = control.mean().variance * keep, treatment.mean().variance * keep
    return ArmsEstimate(
        result.test,
        var_c / control.n,
        var_t / treatment.n,
        result.unadjusted,
        reduction,
        (result.test.control, var_c, result.test.treatment, var_t),
    )


class Mean(MetricKind):
    """Welch's t on the units' values; CUPED with a covariate; a normal model."""

    name = "mean"

    def compare(
        self, control: Cell, treatment: Cell, *, covariate: bool, alpha: float, alternative: str
    ) -> ArmsEstimate:
        if covariate:
            return _cuped(control, treatment, alpha, alternative)
        m_c, m_t = control.mean(), treatment.mean()
        test = welch_test(
            m_c.mean, m_c.variance, m_c.n, m_t.mean, m_t.variance, m_t.n,
            alpha=alpha, alternative=alternative,
        )  # fmt: skip
        return ArmsEstimate(
            test,
            m_c.variance / m_c.n,
            m_t.variance / m_t.n,
            normal=(m_c.mean, m_c.variance, m_t.mean, m_t.variance),
        )


class Proportion(MetricKind):
    """Unpooled two-proportion z (the planner's variance); Beta-binomial; Wilson bounds."""

    name = "proportion"
    per_unit = "any"
    least_units = 1.0

    def compare(
        self, control: Cell, treatment: Cell, *, covariate: bool, alpha: float, alternative: str
    ) -> ArmsEstimate:
        if covariate:
            return _cuped(control, treatment, alpha, alternative)
        p_c, p_t = control.proportion(), treatment.proportion()
        test = proportion_test(
            p_c.successes, p_c.n, p_t.successes, p_t.n,
            alpha=alpha, alternative=alternative, pooled=False,
        )  # fmt: skip
        var_c = p_c.rate * (1 - p_c.rate) / p_c.n
        var_t = p_t.rate * (1 - p_t.rate) / p_t.n
        return ArmsEstimate(test, var_c, var_t)

    def bayes(self, control: Cell, treatment: Cell, est: ArmsEstimate, alpha: float) -> BayesResult:
        if est.normal is not None:  # CUPED: the adjusted means in a normal model
            return super().bayes(control, treatment, est, alpha)
        return chance_to_beat(control.sum_y, control.n, treatment.sum_y, treatment.n, alpha=alpha)

    def bounds(self, cell: Cell, alpha: float) -> tuple[float, float, float]:
        r = proportion_ci(cell.sum_y, cell.n, alpha=2 * alpha)
        return r.rate, r.ci[0], r.ci[1]


class Ratio(MetricKind):
    """Sum of numerators over sum of denominators per arm, by the delta method."""

    name = "ratio"

    def outcomes(self, metric: Metric) -> tuple[str, str | None]:
        if not (metric.numerator and metric.denominator):
            raise InvalidArgument(
                f"metrics[{metric.name!r}]", metric.kind, "a ratio needs numerator and denominator"
            )
        return metric.numerator, metric.denominator

    def adjusts(self, metric: Metric) -> bool:
        return False  # no CUPED for ratios

    def compare(
        self, control: Cell, treatment: Cell, *, covariate: bool, alpha: float, alternative: str
    ) -> ArmsEstimate:
        r_c, r_t = control.ratio(), treatment.ratio()
        test = ratio_test(r_c, r_t, alpha=alpha, alternative=alternative)
        v_c, v_t = ratio_variance(r_c), ratio_variance(r_t)
        return ArmsEstimate(
            test,
            v_c,
            v_t,
            normal=(test.control, v_c * control.n, test.treatment, v_t * treatment.n),
        )

    def bounds(self, cell: Cell, alpha: float) -> tuple[float, float, float]:
        stats = cell.ratio()
        var = ratio_variance(stats) * cell.n
        return stats.ratio, *_normal_bounds(stats.ratio, var, cell.n, alpha)


class Quantile(MetricKind):
    """A quantile of the units' values, compared from per-variant histograms."""

    name = "quantile"
    from_histogram = True

    def compare(
        self, control: Cell, treatment: Cell, *, covariate: bool, alpha: float, alternative: str
    ) -> ArmsEstimate:
        raise InvalidArgument("kind", self.name, "quantiles compare histograms, not cells")


KINDS: dict[str, MetricKind] = {k.name: k for k in (Proportion(), Mean(), Ratio(), Quantile())}


def kind_of(name: str) -> MetricKind:
    try:
        return KINDS[name]
    except KeyError:
        raise InvalidArgument("kind", name, f"one of {', '.join(KINDS)}") from None
