"""CUPED: variance reduction with a pre-experiment covariate, from sufficient statistics.

A metric y is adjusted by a covariate x measured before randomisation (last month's spend,
last week's clicks): ``y - theta (x - mean x)``. The treatment cannot move x, so the adjusted
difference estimates the same effect as the plain one, with ``1 - rho²`` of its variance.

Reference: Deng, Xu, Kohavi & Walker (2013), "Improving the sensitivity of online controlled
experiments by utilizing pre-experiment data", WSDM '13.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from champion.errors import InvalidArgument
from champion.stats._checks import check_alpha, check_alternative, check_sums
from champion.stats.frequentist import welch_test
from champion.stats.results import Status, TestResult
from champion.stats.sufficient import CovariateStats

__all__ = ["CupedResult", "cuped"]

_NAN = float("nan")
_NAN_PAIR = (_NAN, _NAN)
# A centred sum of squares below this share of the raw sum of squares is rounding noise: the
# data are constant (or y is an exact linear function of x) and the spread is treated as zero.
_ROUNDING = 1e-10
_FIELDS = ("sum_y", "sum_y_sq", "sum_x", "sum_x_sq", "sum_xy")


@dataclass(frozen=True, slots=True)
class CupedResult:
    """A CUPED comparison and the plain one it improves on, from the same sums.

    ``test`` compares the adjusted means (``test.control``, ``test.treatment``); ``unadjusted``
    is the Welch test on the raw means. ``variance_reduction`` is the share of the variance of
    the difference that the adjustment removed (about rho², the squared correlation of x and
    y). ``status`` is ``zero_variance`` when the covariate is constant (then ``theta`` is 0 and
    ``test`` repeats ``unadjusted``), otherwise ``test.status``.
    """

    test: TestResult
    theta: float
    variance_reduction: float
    unadjusted: TestResult
    status: Status = Status.OK


def _arm(stats: CovariateStats, name: str) -> tuple[float, float, float, float, float, float]:
    """Validated sums of one arm as floats: n, sum_y, sum_x, S_yy, S_xx, S_xy (centred)."""
    n = check_sums(stats, CovariateStats, name, _FIELDS)
    sum_y, sum_y_sq = float(stats.sum_y), float(stats.sum_y_sq)
    sum_x, sum_x_sq = float(stats.sum_x), float(stats.sum_x_sq)
    for field, value in (("sum_y_sq", sum_y_sq), ("sum_x_sq", sum_x_sq)):
        if value < 0:
            raise InvalidArgument(f"{name}.{field}", value, "must be >= 0 (a sum of squares)")
    if n == 0:
        return n, sum_y, sum_x, 0.0, 0.0, 0.0
    s_yy = sum_y_sq - sum_y * sum_y / n
    s_xx = sum_x_sq - sum_x * sum_x / n
    s_xy = float(stats.sum_xy) - sum_x * sum_y / n
    s_yy = s_yy if s_yy > _ROUNDING * sum_y_sq else 0.0
    s_xx = s_xx if s_xx > _ROUNDING * sum_x_sq else 0.0
    return n, sum_y, sum_x, s_yy, s_xx, s_xy


def _residual(theta: float, s_yy: float, s_xx: float, s_xy: float) -> float:
    """Sum of squares of y - theta x around its mean; rounding noise when y is linear in x."""
    resid = s_yy + theta * theta * s_xx - 2.0 * theta * s_xy
    return resid if resid > _ROUNDING * s_yy else 0.0


def _degenerate(status: Status, alpha: float, alternative: str) -> CupedResult:
    empty = TestResult(
        _NAN, _NAN, _NAN, _NAN_PAIR, _NAN, _NAN_PAIR, _NAN, _NAN,
        alpha, alternative, "welch", status,
    )  # fmt: skip
    return CupedResult(replace(empty, method="cuped"), _NAN, _NAN, empty, status)


def cuped(
    control: CovariateStats,
    treatment: CovariateStats,
    *,
    alpha: float = 0.05,
    alternative: str = "two-sided",
) -> CupedResult:
    """Welch's t-test on CUPED-adjusted means, with one theta pooled within both arms.

    theta = (S_xy,c + S_xy,t) / (S_xx,c + S_xx,t) with sums centred on each arm's own means:
    the ANCOVA slope, identical to the covariate coefficient of an OLS fit of y on
    [1, treatment, x]. One theta for both arms keeps the adjusted difference unbiased (x does
    not depend on the arm); centring within arms keeps the treatment effect out of theta.

    >>> c = CovariateStats(n=1000, sum_y=9875.2, sum_y_sq=101362.9,
    ...                    sum_x=9855.4, sum_x_sq=100674.0, sum_xy=100198.5)
    >>> t = CovariateStats(n=1000, sum_y=10155.8, sum_y_sq=107152.4,
    ...                    sum_x=9972.1, sum_x_sq=103507.5, sum_xy=104531.3)
    >>> r = cuped(c, t)
    >>> round(r.theta, 3), round(r.variance_reduction, 3)
    (0.806, 0.629)
    >>> round(r.test.diff, 4), round(r.test.p_value, 5), round(r.unadjusted.p_value, 5)
    (0.1866, 0.00056, 0.00158)
    """
    n_c, sy_c, sx_c, yy_c, xx_c, xy_c = _arm(control, "control")
    n_t, sy_t, sx_t, yy_t, xx_t, xy_t = _arm(treatment, "treatment")
    alpha = check_alpha(alpha)
    check_alternative(alternative)
    if n_c == 0 or n_t == 0:
        return _degenerate(Status.EMPTY_ARM, alpha, alternative)
    if n_c < 2 or n_t < 2:
        return _degenerate(Status.TOO_FEW, alpha, alternative)

    constant_x = xx_c + xx_t == 0.0
    theta = 0.0 if constant_x else (xy_c + xy_t) / (xx_c + xx_t)

    res_c = _residual(theta, yy_c, xx_c, xy_c)
    res_t = _residual(theta, yy_t, xx_t, xy_t)
    x_pooled = (sx_c + sx_t) / (n_c + n_t)
    mean_y_c, mean_y_t = sy_c / n_c, sy_t / n_t
    adj_c = mean_y_c - theta * (sx_c / n_c - x_pooled)
    adj_t = mean_y_t - theta * (sx_t / n_t - x_pooled)

    plain = welch_test(
        mean_y_c, yy_c / (n_c - 1), n_c, mean_y_t, yy_t / (n_t - 1), n_t,
        alpha=alpha, alternative=alternative,
    )  # fmt: skip
    test = welch_test(
        adj_c, res_c / (n_c - 1), n_c, adj_t, res_t / (n_t - 1), n_t,
        alpha=alpha, alternative=alternative,
    )  # fmt: skip
    var_plain = yy_c / ((n_c - 1) * n_c) + yy_t / ((n_t - 1) * n_t)
    var_adj = res_c / ((n_c - 1) * n_c) + res_t / ((n_t - 1) * n_t)
    reduction = 1.0 - var_adj / var_plain if var_plain > 0 else _NAN
    status = Status.ZERO_VARIANCE if constant_x else test.status
    return CupedResult(replace(test, method="cuped"), theta, reduction, plain, status)
