"""Fixed-horizon two-arm tests from sufficient statistics: proportions (z) and means (Welch t).

Each returns a :class:`TestResult`: the effect (treatment - control), its CI, the relative lift
with a delta-method CI, the statistic and the p-value. Scalar math uses ``scipy.special``
directly because a read-out runs thousands of these.
"""

from __future__ import annotations

import math

from scipy import special

from champion.errors import InvalidArgument
from champion.stats._checks import check_alpha, check_alternative, check_count
from champion.stats._normal import delta_rel_ci, normal_ci, z_test_result
from champion.stats.results import Status, TestResult

__all__ = ["check_successes", "proportion_test", "t_p_value", "t_quantile", "welch_test"]

_NAN = float("nan")
_NAN_PAIR = (_NAN, _NAN)


def check_successes(x: float, n: float, x_name: str, n_name: str) -> tuple[float, float]:
    """Counts of a proportion: n >= 1 units and 0 <= x <= n successes."""
    n = check_count(n, n_name, 1)
    x = check_count(x, x_name, 0)
    if x > n:
        raise InvalidArgument(x_name, x, f"must be <= {n_name} ({n:g})")
    return x, n


def t_p_value(t: float, df: float, alternative: str) -> float:
    if math.isnan(t):
        return _NAN
    if alternative == "two-sided":
        return float(2.0 * special.stdtr(df, -abs(t)))
    if alternative == "larger":
        return float(special.stdtr(df, -t))
    return float(special.stdtr(df, t))


def t_quantile(q: float, df: float) -> float:
    return float(special.stdtrit(df, q))


def proportion_test(
    x_control: float,
    n_control: float,
    x_treatment: float,
    n_treatment: float,
    *,
    alpha: float = 0.05,
    alternative: str = "two-sided",
    pooled: bool = True,
) -> TestResult:
    """Two-proportion z-test; the CI is the unpooled Wald interval whatever ``pooled`` says,
    and the relative lift's interval is taken on the log scale (it stays above -100%).

    ``pooled=True`` uses the pooled rate under H0 for the statistic (the classic test);
    ``pooled=False`` the unpooled standard error (consistent with the CI).

    >>> r = proportion_test(180, 1800, 210, 1800)
    >>> round(r.diff, 4), round(r.p_value, 4)
    (0.0167, 0.1077)
    """
    x_c, n_c = check_successes(x_control, n_control, "x_control", "n_control")
    x_t, n_t = check_successes(x_treatment, n_treatment, "x_treatment", "n_treatment")
    alpha = check_alpha(alpha)
    check_alternative(alternative)
    p_c, p_t = x_c / n_c, x_t / n_t
    diff = p_t - p_c
    var_c, var_t = p_c * (1 - p_c) / n_c, p_t * (1 - p_t) / n_t
    se_wald = math.sqrt(var_c + var_t)
    if pooled:
        p = (x_c + x_t) / (n_c + n_t)
        se_stat = math.sqrt(p * (1 - p) * (1 / n_c + 1 / n_t))
    else:
        se_stat = se_wald
    method = "z-pooled" if pooled else "z-unpooled"
    if se_stat == 0:
        return TestResult(
            p_c, p_t, diff, (diff, diff), _NAN, _NAN_PAIR, _NAN, _NAN,
            alpha, alternative, method, Status.ZERO_VARIANCE,
        )  # fmt: skip
    return z_test_result(
        p_c, p_t, var_mean_c=var_c, var_mean_t=var_t, se=se_wald, statistic=diff / se_stat,
        alpha=alpha, alternative=alternative, method=method, log_scale=True,
    )  # fmt: skip


def welch_test(
    mean_c: float,
    var_c: float,
    n_c: float,
    mean_t: float,
    var_t: float,
    n_t: float,
    *,
    alpha: float = 0.05,
    alternative: str = "two-sided",
) -> TestResult:
    """Welch's unequal-variance t-test from (mean, sample variance with ddof=1, n) per arm.

    Degrees of freedom by Welch-Satterthwaite; the relative-lift CI uses the same t quantile.

    >>> r = welch_test(10.0, 4.0, 100, 11.0, 9.0, 120)
    >>> round(r.statistic, 3), round(r.p_value, 5)
    (2.949, 0.00355)
    """
    n_c = check_count(n_c, "n_c", 1)
    n_t = check_count(n_t, "n_t", 1)
    var_c = check_count(var_c, "var_c", 0)
    var_t = check_count(var_t, "var_t", 0)
    for name, value in (("mean_c", mean_c), ("mean_t", mean_t)):
        if not math.isfinite(value):
            raise InvalidArgument(name, value, "must be a finite number")
    alpha = check_alpha(alpha)
    check_alternative(alternative)
    diff = mean_t - mean_c
    if n_c < 2 or n_t < 2:
        return TestResult(
            mean_c, mean_t, diff, _NAN_PAIR, _NAN, _NAN_PAIR, _NAN, _NAN,
            alpha, alternative, "welch", Status.TOO_FEW,
        )  # fmt: skip
    vm_c, vm_t = var_c / n_c, var_t / n_t
    se = math.sqrt(vm_c + vm_t)
    if se == 0:
        return TestResult(
            mean_c, mean_t, diff, (diff, diff), _NAN, _NAN_PAIR, _NAN, _NAN,
            alpha, alternative, "welch", Status.ZERO_VARIANCE,
        )  # fmt: skip
    df = (vm_c + vm_t) ** 2 / (vm_c**2 / (n_c - 1) + vm_t**2 / (n_t - 1))
    t = diff / se
    q = 1 - alpha / 2 if alternative == "two-sided" else 1 - alpha
    crit = t_quantile(q, df)
    rel, rel_ci = delta_rel_ci(mean_c, vm_c, mean_t, vm_t, alpha, alternative, critical=crit)
    return TestResult(
        control=mean_c,
        treatment=mean_t,
        diff=diff,
        diff_ci=normal_ci(diff, se, alpha, alternative, critical=crit),
        rel_lift=rel,
        rel_lift_ci=rel_ci,
        statistic=t,
        p_value=t_p_value(t, df, alternative),
        alpha=alpha,
        alternative=alternative,
        method="welch",
        status=Status.OK if mean_c != 0 else Status.ZERO_BASELINE,
    )
