"""One metric, one challenger against the champion: the test, CUPED, and the Bayesian read-out.

Every number comes from :mod:`champion.stats` applied to the two arms' summed cells; the
metric's kind (``champion.analysis.kinds``) chooses the method. This module compares within
allocation versions and combines them, and turns "treatment larger" into the metric's
direction (for ``direction: lower`` a challenger *beats* the champion by being lower).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TypedDict

from champion.analysis.aggregates import Cell, LatencyHistogram
from champion.analysis.kinds import kind_of
from champion.stats.bayes import BayesResult, chance_to_beat_mean
from champion.stats.quantile import histogram_quantile, quantile_difference
from champion.stats.results import Status, TestResult
from champion.stats.stratified import StratumEstimate, combine_strata

__all__ = [
    "NO_OUTCOMES",
    "Comparison",
    "Stratum",
    "compare_cells",
    "compare_histograms",
    "compare_strata",
]

NO_OUTCOMES = "no_outcomes"  # a metric status beside the stats Status values
_NAN = float("nan")
_NAN_PAIR = (_NAN, _NAN)


@dataclass(frozen=True, slots=True)
class Stratum:
    """One allocation version's part of a stratified comparison."""

    version: int
    n_control: float
    n_treatment: float
    control: float
    treatment: float
    diff: float
    se: float
    weight: float


@dataclass(frozen=True, slots=True)
class Comparison:
    """A challenger (treatment) against the champion (control) on one metric.

    ``test`` is the reported test: CUPED when the metric has a covariate, with the plain test
    in ``unadjusted``. ``se`` is the standard error of ``test.diff``; ``var_control`` and
    ``var_treatment`` are the variances of each arm's estimated level (their sum is
    ``se²``). ``bayes`` compares the same estimates (Beta-binomial for plain proportions,
    a normal model otherwise). ``strata`` holds the per-allocation-version comparisons
    when the arms were compared within several versions and combined (empty otherwise).
    """

    metric: str
    kind: str
    direction: str
    n_control: float
    n_treatment: float
    test: TestResult
    se: float
    unadjusted: TestResult | None = None
    variance_reduction: float | None = None
    bayes: BayesResult | None = None
    status: str = Status.OK.value
    var_control: float = _NAN
    var_treatment: float = _NAN
    strata: tuple[Stratum, ...] = ()

    @property
    def sign(self) -> float:
        """+1 when higher is better, -1 when lower is better."""
        return 1.0 if self.direction == "higher" else -1.0

    @property
    def improvement(self) -> float:
        """Relative change in the metric's good direction, ``sign · diff / |control|``:
        > 0 means the challenger is better, whatever the sign of the champion's value."""
        control = self.test.control
        if control == 0 or math.isnan(control):
            return _NAN
        return self.sign * self.test.diff / abs(control)

    @property
    def improvement_ci(self) -> tuple[float, float]:
        lo, hi = self.test.rel_lift_ci
        if self.test.control < 0:  # rel_lift = diff / control: flip to diff / |control|
            lo, hi = -hi, -lo
        return (lo, hi) if self.sign > 0 else (-hi, -lo)

    @property
    def better(self) -> float:
        """The difference in the metric's good direction (> 0: the challenger is better)."""
        return self.sign * self.test.diff

    @property
    def chance_to_beat(self) -> float:
        """P(challenger better than champion), better in the metric's direction."""
        if self.bayes is None:
            return _NAN
        ctb = self.bayes.chance_to_beat
        return ctb if self.sign > 0 else 1.0 - ctb

    @property
    def expected_loss(self) -> float:
        """Expected loss of shipping the challenger if it is worse, in metric units."""
        if self.bayes is None:
            return _NAN
        b = self.bayes
        return b.expected_loss_treatment if self.sign > 0 else b.expected_loss_control

    @property
    def ok(self) -> bool:
        return self.status == Status.OK.value and not math.isnan(self.test.p_value)


def _empty(
    metric: str,
    kind: str,
    direction: str,
    c: Cell,
    t: Cell,
    alpha: float,
    alternative: str,
    status: Status,
) -> Comparison:
    test = TestResult(
        _NAN, _NAN, _NAN, _NAN_PAIR, _NAN, _NAN_PAIR, _NAN, _NAN, alpha, alternative, "", status
    )
    return Comparison(metric, kind, direction, c.n, t.n, test, _NAN, status=status.value)


def _no_bayes(alpha: float, status: Status) -> BayesResult:
    return BayesResult(
        _NAN, _NAN, _NAN, _NAN_PAIR, _NAN, _NAN_PAIR, _NAN, _NAN, _NAN, alpha, "normal", status
    )


def compare_cells(
    metric: str,
    kind: str,
    direction: str,
    control: Cell,
    treatment: Cell,
    *,
    covariate: bool = False,
    alpha: float = 0.05,
    alternative: str = "two-sided",
    bayes: bool = True,
) -> Comparison:
    """Test a proportion, mean or ratio metric from the two arms' cells.

    The kind (``champion.analysis.kinds``) chooses the test: proportion, the unpooled
    two-proportion z-test and Beta-binomial; mean, Welch's t and a normal model; ratio, the
    delta method. With ``covariate`` (not for ratios) the reported test is CUPED and
    ``unadjusted`` holds the plain Welch test; the normal model then uses the adjusted
    means and each arm's variance times (1 - variance reduction).
    """
    n_c, n_t = control.n, treatment.n
    k = kind_of(kind)
    if n_c < 1 or n_t < 1:
        return _empty(
            metric, kind, direction, control, treatment, alpha, alternative, Status.EMPTY_ARM
        )
    if min(n_c, n_t) < k.least_units:
        return _empty(
            metric, kind, direction, control, treatment, alpha, alternative, Status.TOO_FEW
        )
    est = k.compare(control, treatment, covariate=covariate, alpha=alpha, alternative=alternative)
    v_c, v_t = est.var_control, est.var_treatment
    se = math.sqrt(v_c + v_t) if not math.isnan(v_c + v_t) else _NAN
    result_bayes = None
    if bayes:
        if est.normal is not None and any(math.isnan(v) for v in est.normal):
            result_bayes = _no_bayes(alpha, Status.EMPTY_ARM)  # a ratio without denominators
        else:
            result_bayes = k.bayes(control, treatment, est, alpha)
    return Comparison(
        metric,
        kind,
        direction,
        n_c,
        n_t,
        est.test,
        se,
        est.unadjusted,
        est.variance_reduction,
        result_bayes,
        est.test.status.value,
        var_control=v_c,
        var_treatment=v_t,
    )


class _CompareOptions(TypedDict):
    """The keyword arguments :func:`compare_strata` passes on to :func:`compare_cells`."""

    covariate: bool
    alpha: float
    alternative: str


def compare_strata(
    metric: str,
    kind: str,
    direction: str,
    strata: dict[int, dict[str, Cell]],
    champion: str,
    challenger: str,
    *,
    covariate: bool = False,
    alpha: float = 0.05,
    alternative: str = "two-sided",
    bayes: bool = True,
) -> Comparison:
    """Compare within each allocation version, then combine (``champion.stats.stratified``).

    A version where either arm has too few units for the method is left out (it cannot
    compare the arms at one time: e.g. a 100% champion stage before the start). With one
    usable version this is :func:`compare_cells` on it; with none, on the pooled cells (so
    the status says what is missing).
    """
    least = kind_of(kind).least_units
    usable = {
        v: arms
        for v, arms in strata.items()
        if arms.get(champion, Cell()).n >= least and arms.get(challenger, Cell()).n >= least
    }
    options: _CompareOptions = {"covariate": covariate, "alpha": alpha, "alternative": alternative}
    if len(usable) <= 1:
        if usable:
            arms = next(iter(usable.values()))
            c, t = arms[champion], arms[challenger]
        else:
            c = _pooled(strata, champion)
            t = _pooled(strata, challenger)
        return compare_cells(metric, kind, direction, c, t, bayes=bayes, **options)
    parts = {
        v: compare_cells(
            metric, kind, direction, arms[champion], arms[challenger], bayes=False, **options
        )
        for v, arms in usable.items()
    }
    estimates = [
        StratumEstimate(
            c.n_control,
            c.n_treatment,
            c.test.control,
            c.test.treatment,
            c.var_control,
            c.var_treatment,
        )
        for c in parts.values()
    ]
    combined = combine_strata(
        estimates, alpha=alpha, alternative=alternative, method=f"stratified {_method(parts)}"
    )
    n_c = sum(c.n_control for c in parts.values())
    n_t = sum(c.n_treatment for c in parts.values())
    test = combined.test
    result_bayes = None
    if bayes and test.status == Status.OK:
        result_bayes = chance_to_beat_mean(
            test.control,
            combined.var_control * n_c,
            n_c,
            test.treatment,
            combined.var_treatment * n_t,
            n_t,
            alpha=alpha,
        )
    reductions = [c.variance_reduction for c in parts.values() if c.variance_reduction is not None]
    return Comparison(
        metric,
        kind,
        direction,
        n_c,
        n_t,
        test,
        combined.se,
        bayes=result_bayes,
        variance_reduction=_weighted(reductions, combined.weights) if reductions else None,
        status=test.status.value,
        var_control=combined.var_control,
        var_treatment=combined.var_treatment,
        strata=tuple(
            Stratum(
                v,
                c.n_control,
                c.n_treatment,
                c.test.control,
                c.test.treatment,
                c.test.diff,
                c.se,
                w,
            )
            for (v, c), w in zip(parts.items(), combined.weights, strict=True)
        ),
    )


def _pooled(strata: dict[int, dict[str, Cell]], variant: str) -> Cell:
    total = Cell()
    for arms in strata.values():
        total = total + arms.get(variant, Cell())
    return total


def _method(parts: dict[int, Comparison]) -> str:
    return next(iter(parts.values())).test.method


def _weighted(values: list[float], weights: tuple[float, ...]) -> float:
    if len(values) != len(weights):
        return _NAN
    return sum(v * w for v, w in zip(values, weights, strict=True))


def compare_histograms(
    metric: str,
    direction: str,
    histogram: LatencyHistogram,
    control: str,
    treatment: str,
    q: float,
    *,
    alpha: float = 0.05,
    alternative: str = "two-sided",
    bayes: bool = True,
) -> Comparison:
    """Compare the ``q`` quantiles of two variants' histograms (latency p95, quantile metrics).

    The normal model behind the Bayesian numbers uses each arm's order-statistic standard
    error (``champion.stats.quantile``).
    """
    counts_c = histogram.counts.get(control, ())
    counts_t = histogram.counts.get(treatment, ())
    bins = len(histogram.edges) - 1
    c = tuple(counts_c) or (0,) * bins
    t = tuple(counts_t) or (0,) * bins
    n_c, n_t = float(sum(c)), float(sum(t))
    test = quantile_difference(histogram.edges, c, t, q, alpha=alpha, alternative=alternative)
    if test.status in (Status.EMPTY_ARM, Status.TOO_FEW):
        return Comparison(
            metric, "quantile", direction, n_c, n_t, test, _NAN, status=test.status.value
        )
    est_c = histogram_quantile(histogram.edges, c, q, alpha=alpha)
    est_t = histogram_quantile(histogram.edges, t, q, alpha=alpha)
    se = math.hypot(est_c.se, est_t.se)
    result_bayes = None
    if bayes:
        result_bayes = chance_to_beat_mean(
            est_c.estimate,
            est_c.se**2 * n_c,
            n_c,
            est_t.estimate,
            est_t.se**2 * n_t,
            n_t,
            alpha=alpha,
        )
    return Comparison(
        metric,
        "quantile",
        direction,
        n_c,
        n_t,
        test,
        se,
        bayes=result_bayes,
        status=test.status.value,
        var_control=est_c.se**2,
        var_treatment=est_t.se**2,
    )
