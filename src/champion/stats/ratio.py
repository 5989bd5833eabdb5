"""Ratio metrics (revenue per session, clicks per impression) by the delta method.

The unit of randomisation (a user) is not the unit of the metric (a session): sessions of one
user are correlated, so treating them as independent understates the variance. The delta
method linearises ``R = mean(num) / mean(den)`` over randomisation units instead.

Reference: Deng, Knoblich & Lu (2018), "Applying the Delta Method in Metric Analytics:
A Practical Guide with Novel Ideas", KDD '18.
"""

from __future__ import annotations

import math
from dataclasses import replace

from champion.errors import InvalidArgument
from champion.stats._checks import check_alpha, check_alternative, check_sums
from champion.stats.frequentist import welch_test
from champion.stats.results import Status, TestResult
from champion.stats.sufficient import RatioStats

__all__ = ["ratio_test", "ratio_variance"]

_NAN = float("nan")
_NAN_PAIR = (_NAN, _NAN)
_METHOD = "delta-ratio"
_FIELDS = ("sum_num", "sum_num_sq", "sum_den", "sum_den_sq", "sum_num_den")
# A linearised variance below this share of its largest term is rounding noise (num = R den).
_ROUNDING = 1e-10


def _check(stats: RatioStats, name: str) -> float:
    n = check_sums(stats, RatioStats, name, _FIELDS)
    for field in ("sum_num_sq", "sum_den_sq"):
        if getattr(stats, field) < 0:
            raise InvalidArgument(f"{name}.{field}", getattr(stats, field), "must be >= 0")
    return n


def _unit_variance(stats: RatioStats, n: float) -> tuple[float, float]:
    """Ratio R and the sample variance of the linearised unit (num - R den) / mean(den)."""
    sum_num, sum_den = float(stats.sum_num), float(stats.sum_den)
    ratio = sum_num / sum_den
    mean_den = sum_den / n
    # Centred sums: S_nn - 2 R S_nd + R² S_dd; the means cancel out of the combination.
    s_nn = float(stats.sum_num_sq) - sum_num * sum_num / n
    s_dd = float(stats.sum_den_sq) - sum_den * sum_den / n
    s_nd = float(stats.sum_num_den) - sum_num * sum_den / n
    lin = s_nn - 2.0 * ratio * s_nd + ratio * ratio * s_dd
    scale = float(stats.sum_num_sq) + ratio * ratio * float(stats.sum_den_sq)
    lin = lin if lin > _ROUNDING * scale else 0.0
    return ratio, lin / ((n - 1) * mean_den * mean_den)


def ratio_variance(stats: RatioStats) -> float:
    """Delta-method variance of one arm's ``sum_num / sum_den``; NaN below 2 units or no den.

    Var(R) ≈ (s_nn - 2 R s_nd + R² s_dd) / (n mu_d²) with sample (ddof=1) moments over units.

    >>> round(ratio_variance(RatioStats(4, 10.0, 30.0, 8.0, 18.0, 23.0)), 5)
    0.01302
    """
    n = _check(stats, "stats")
    if n < 2 or stats.sum_den == 0:
        return _NAN
    return _unit_variance(stats, n)[1] / n


def _degenerate(
    ratio_c: float, ratio_t: float, status: Status, alpha: float, alternative: str
) -> TestResult:
    return TestResult(
        ratio_c, ratio_t, ratio_t - ratio_c, _NAN_PAIR, _NAN, _NAN_PAIR, _NAN, _NAN,
        alpha, alternative, _METHOD, status,
    )  # fmt: skip


def ratio_test(
    control: RatioStats,
    treatment: RatioStats,
    *,
    alpha: float = 0.05,
    alternative: str = "two-sided",
) -> TestResult:
    """Compare ``sum_num / sum_den`` between arms, with the variance by the delta method.

    ``control`` and ``treatment`` of the result are the two ratios. Each arm's variance is
    that of its linearised unit ``(num - R den) / mu_d`` over n, and the difference is referred
    to Welch's t (at the sample sizes the delta method needs, the normal distribution). The
    relative lift R_t / R_c - 1 has a delta-method CI. An arm without units is ``empty_arm``,
    so is an arm whose denominators sum to 0 (no sessions: no ratio); one unit is ``too_few``.

    >>> c = RatioStats(n=5000, sum_num=12_000.0, sum_num_sq=90_000.0,
    ...                sum_den=10_000.0, sum_den_sq=25_000.0, sum_num_den=40_000.0)
    >>> t = RatioStats(n=5000, sum_num=12_900.0, sum_num_sq=99_000.0,
    ...                sum_den=10_100.0, sum_den_sq=25_500.0, sum_num_den=42_500.0)
    >>> r = ratio_test(c, t)
    >>> round(r.control, 3), round(r.treatment, 4), round(r.p_value, 4)
    (1.2, 1.2772, 0.0018)
    """
    n_c = _check(control, "control")
    n_t = _check(treatment, "treatment")
    alpha = check_alpha(alpha)
    check_alternative(alternative)
    ratio_c = float(control.sum_num) / control.sum_den if control.sum_den != 0 else _NAN
    ratio_t = float(treatment.sum_num) / treatment.sum_den if treatment.sum_den != 0 else _NAN
    if n_c == 0 or n_t == 0 or math.isnan(ratio_c) or math.isnan(ratio_t):
        return _degenerate(ratio_c, ratio_t, Status.EMPTY_ARM, alpha, alternative)
    if n_c < 2 or n_t < 2:
        return _degenerate(ratio_c, ratio_t, Status.TOO_FEW, alpha, alternative)
    ratio_c, var_c = _unit_variance(control, n_c)
    ratio_t, var_t = _unit_variance(treatment, n_t)
    result = welch_test(
        ratio_c, var_c, n_c, ratio_t, var_t, n_t, alpha=alpha, alternative=alternative
    )
    return replace(result, method=_METHOD)
