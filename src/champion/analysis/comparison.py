"""One metric, one challenger against the champion: the test, CUPED, and the Bayesian read-out.

Every number comes from :mod:`champion.stats` applied to the two arms' summed cells; this
module only chooses the method by the metric's kind and turns "treatment larger" into the
metric's direction (for ``direction: lower`` a challenger *beats* the champion by being lower).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from champion.analysis.aggregates import Cell, LatencyHistogram
from champion.stats.bayes import BayesResult, chance_to_beat, chance_to_beat_mean
from champion.stats.cuped import cuped
from champion.stats.frequentist import proportion_test, welch_test
from champion.stats.quantile import histogram_quantile, quantile_difference
from champion.stats.ratio import ratio_test, ratio_variance
from champion.stats.results import Status, TestResult

__all__ = ["NO_OUTCOMES", "Comparison", "compare_cells", "compare_histograms"]

NO_OUTCOMES = "no_outcomes"  # a metric status beside the stats Status values
_NAN = float("nan")
_NAN_PAIR = (_NAN, _NAN)


@dataclass(frozen=True, slots=True)
class Comparison:
    """A challenger (treatment) against the champion (control) on one metric.

    ``test`` is the reported test: CUPED when the metric has a covariate, with the plain test
    in ``unadjusted``. ``se`` is the standard error of ``test.diff``. ``bayes`` compares the
    same estimates (Beta-binomial for plain proportions, a normal model otherwise).
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

    @property
    def sign(self) -> float:
        """+1 when higher is better, -1 when lower is better."""
        return 1.0 if self.direction == "higher" else -1.0

    @property
    def improvement(self) -> float:
        """Relative lift in the metric's good direction: > 0 means the challenger is better."""
        return self.sign * self.test.rel_lift

    @property
    def improvement_ci(self) -> tuple[float, float]:
        lo, hi = self.test.rel_lift_ci
        return (lo, hi) if self.sign > 0 else (-hi, -lo)

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


def _welch(stats_c, stats_t, alpha: float, alternative: str) -> TestResult:
    return welch_test(
        stats_c.mean,
        stats_c.variance,
        stats_c.n,
        stats_t.mean,
        stats_t.variance,
        stats_t.n,
        alpha=alpha,
        alternative=alternative,
    )


def _se(var_c: float, n_c: float, var_t: float, n_t: float) -> float:
    return math.sqrt(var_c / n_c + var_t / n_t) if n_c > 0 and n_t > 0 else _NAN


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

    proportion: two-proportion z-test (pooled statistic, Wald interval) and Beta-binomial;
    mean: Welch's t and a normal model; ratio: the delta method. With ``covariate`` (not for
    ratios) the reported test is CUPED and ``unadjusted`` holds the plain Welch test; the
    normal model then uses the adjusted means and each arm's variance times
    (1 - variance reduction).
    """
    n_c, n_t = control.n, treatment.n
    if n_c < 1 or n_t < 1:
        return _empty(
            metric, kind, direction, control, treatment, alpha, alternative, Status.EMPTY_ARM
        )
    if kind != "proportion" and min(n_c, n_t) < 2:  # no variance from one unit
        return _empty(
            metric, kind, direction, control, treatment, alpha, alternative, Status.TOO_FEW
        )
    unadjusted, reduction, post = None, None, None
    if kind == "ratio":
        r_c, r_t = control.ratio(), treatment.ratio()
        test = ratio_test(r_c, r_t, alpha=alpha, alternative=alternative)
        v_c, v_t = ratio_variance(r_c), ratio_variance(r_t)
        se = math.sqrt(v_c + v_t) if not math.isnan(v_c + v_t) else _NAN
        post = (test.control, v_c * n_c, test.treatment, v_t * n_t)
    elif covariate:
        result = cuped(
            control.covariate(), treatment.covariate(), alpha=alpha, alternative=alternative
        )
        test, unadjusted, reduction = result.test, result.unadjusted, result.variance_reduction
        m_c, m_t = control.mean(), treatment.mean()
        keep = 1.0 - reduction if not math.isnan(reduction) else 1.0
        se = _se(m_c.variance * keep, n_c, m_t.variance * keep, n_t)
        post = (test.control, m_c.variance * keep, test.treatment, m_t.variance * keep)
    elif kind == "proportion":
        p_c, p_t = control.proportion(), treatment.proportion()
        test = proportion_test(
            p_c.successes, n_c, p_t.successes, n_t, alpha=alpha, alternative=alternative
        )
        se = _se(p_c.rate * (1 - p_c.rate), n_c, p_t.rate * (1 - p_t.rate), n_t)
    else:
        m_c, m_t = control.mean(), treatment.mean()
        test = _welch(m_c, m_t, alpha, alternative)
        se = _se(m_c.variance, n_c, m_t.variance, n_t) if min(n_c, n_t) >= 2 else _NAN
        post = (m_c.mean, m_c.variance, m_t.mean, m_t.variance)
    result_bayes = None
    if bayes:
        result_bayes = _bayes(kind, covariate, control, treatment, post, alpha)
    return Comparison(
        metric,
        kind,
        direction,
        n_c,
        n_t,
        test,
        se,
        unadjusted,
        reduction,
        result_bayes,
        test.status.value,
    )


def _bayes(
    kind: str, covariate: bool, c: Cell, t: Cell, post: tuple | None, alpha: float
) -> BayesResult:
    if kind == "proportion" and not covariate:
        return chance_to_beat(c.sum_y, c.n, t.sum_y, t.n, alpha=alpha)
    mean_c, var_c, mean_t, var_t = post  # type: ignore[misc]
    if any(math.isnan(v) for v in (mean_c, var_c, mean_t, var_t)):
        return _no_bayes(alpha, Status.EMPTY_ARM)  # a ratio without denominators
    return chance_to_beat_mean(mean_c, var_c, c.n, mean_t, var_t, t.n, alpha=alpha)


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
    )
