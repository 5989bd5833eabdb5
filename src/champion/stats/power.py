"""Power and sample size for two-arm comparisons of proportions and means.

All sizes come from the normal approximation ``n_c = (z_a + z_b)^2 V / d^2`` with
``ratio = n_treatment / n_control``; see docs/statistics.md for each variance term ``V``.
Several challengers split alpha by Bonferroni (``alpha / n_challengers`` per comparison).
"""

from __future__ import annotations

import math

from scipy import optimize, special

from champion.errors import InvalidArgument
from champion.stats._checks import (
    check_alpha,
    check_alternative,
    check_count,
    check_positive,
    check_power,
    check_rate,
)
from champion.stats._normal import z_quantile
from champion.stats.results import SampleSize

__all__ = [
    "days_needed",
    "mde_mean",
    "mde_proportion",
    "optimal_ratio_proportion",
    "power_mean",
    "power_proportion",
    "sample_size_mean",
    "sample_size_proportion",
    "target_rate",
]


def _ceil(x: float) -> int:
    """Round up, forgiving float noise so 31231.0000000002 stays 31231."""
    return math.ceil(x - 1e-7)


def _z_alpha(alpha: float, alternative: str, n_challengers: int) -> float:
    check_alternative(alternative)
    if not (isinstance(n_challengers, int) and n_challengers >= 1):
        raise InvalidArgument("n_challengers", n_challengers, "must be an integer >= 1")
    a = check_alpha(alpha) / n_challengers
    return z_quantile(1 - a / 2) if alternative == "two-sided" else z_quantile(1 - a)


def target_rate(baseline: float, mde: float, relative: bool) -> float:
    """The treatment rate the design must detect: baseline + mde, or baseline * (1 + mde)."""
    p1 = check_rate(baseline, "baseline")
    if not math.isfinite(mde) or mde == 0:
        raise InvalidArgument("mde", mde, "must be a finite non-zero effect")
    p2 = p1 * (1 + mde) if relative else p1 + mde
    if not 0 < p2 < 1:
        raise InvalidArgument(
            "mde", mde, f"moves the baseline {p1:g} to {p2:g}, outside (0, 1); use a smaller mde"
        )
    if not 0 < p1 < 1:
        raise InvalidArgument("baseline", baseline, "must lie strictly between 0 and 1")
    return p2


def _variance_terms(p1: float, p2: float, ratio: float, pooled: bool) -> tuple[float, float]:
    """(sd under H0, sd under H1) of sqrt(n_c) * (p2_hat - p1_hat)."""
    alt = math.sqrt(p1 * (1 - p1) + p2 * (1 - p2) / ratio)
    if not pooled:
        return alt, alt
    p_bar = (p1 + ratio * p2) / (1 + ratio)
    return math.sqrt(p_bar * (1 - p_bar) * (1 + 1 / ratio)), alt


def sample_size_proportion(
    baseline: float,
    mde: float,
    *,
    relative: bool = False,
    alpha: float = 0.05,
    power: float = 0.8,
    ratio: float = 1.0,
    alternative: str = "two-sided",
    pooled: bool = False,
    n_challengers: int = 1,
) -> SampleSize:
    """Units per arm to detect ``baseline -> baseline + mde`` (or ``* (1 + mde)`` if relative).

    Unpooled: ``n_c = (z_a + z_b)^2 (p1 q1 + p2 q2 / r) / d^2``. Pooled:
    ``n_c = (z_a sqrt(p q (1 + 1/r)) + z_b sqrt(p1 q1 + p2 q2 / r))^2 / d^2`` with
    ``p = (p1 + r p2) / (1 + r)``. ``n_t = r n_c``, each rounded up.

    >>> sample_size_proportion(0.05, 0.01)
    SampleSize(n_control=8155, n_treatment=8155)
    """
    p2 = target_rate(baseline, mde, relative)
    p1 = float(baseline)
    ratio = check_positive(ratio, "ratio")
    z_a = _z_alpha(alpha, alternative, n_challengers)
    z_b = z_quantile(check_power(power))
    sd0, sd1 = _variance_terms(p1, p2, ratio, pooled)
    n_c = (z_a * sd0 + z_b * sd1) ** 2 / (p2 - p1) ** 2
    return SampleSize(_ceil(n_c), _ceil(n_c * ratio))


def sample_size_mean(
    std: float,
    mde: float,
    *,
    relative: bool = False,
    baseline_mean: float | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    ratio: float = 1.0,
    alternative: str = "two-sided",
    n_challengers: int = 1,
) -> SampleSize:
    """Units per arm to detect a shift ``mde`` in a mean with common standard deviation ``std``.

    ``n_c = (z_a + z_b)^2 std^2 (1 + 1/r) / d^2``; a relative ``mde`` is a share of
    ``baseline_mean``.

    >>> sample_size_mean(10.0, 1.0)
    SampleSize(n_control=1570, n_treatment=1570)
    """
    std = check_positive(std, "std")
    d = _mean_effect(mde, relative, baseline_mean)
    ratio = check_positive(ratio, "ratio")
    z_a = _z_alpha(alpha, alternative, n_challengers)
    z_b = z_quantile(check_power(power))
    n_c = (z_a + z_b) ** 2 * std**2 * (1 + 1 / ratio) / d**2
    return SampleSize(_ceil(n_c), _ceil(n_c * ratio))


def _mean_effect(mde: float, relative: bool, baseline_mean: float | None) -> float:
    if not math.isfinite(mde) or mde == 0:
        raise InvalidArgument("mde", mde, "must be a finite non-zero effect")
    if not relative:
        return float(mde)
    if baseline_mean is None or not math.isfinite(baseline_mean) or baseline_mean == 0:
        raise InvalidArgument(
            "baseline_mean", baseline_mean, "a relative mde needs a finite non-zero baseline_mean"
        )
    return float(mde) * float(baseline_mean)


def _power_from_drift(drift: float, z_a: float, alternative: str) -> float:
    """Power of a z-test whose statistic has mean ``drift``; two-sided counts both tails."""
    drift = abs(drift)
    if alternative == "two-sided":
        return float(special.ndtr(drift - z_a) + special.ndtr(-drift - z_a))
    return float(special.ndtr(drift - z_a))


def power_proportion(
    baseline: float,
    mde: float,
    n_control: float,
    *,
    relative: bool = False,
    alpha: float = 0.05,
    ratio: float = 1.0,
    alternative: str = "two-sided",
    n_challengers: int = 1,
) -> float:
    """Power of the unpooled z-test with ``n_control`` and ``ratio * n_control`` units.

    >>> round(power_proportion(0.05, 0.01, 8155), 3)
    0.8
    """
    p2 = target_rate(baseline, mde, relative)
    n_c = check_count(n_control, "n_control", 1)
    ratio = check_positive(ratio, "ratio")
    z_a = _z_alpha(alpha, alternative, n_challengers)
    sd = _variance_terms(float(baseline), p2, ratio, pooled=False)[1]
    return _power_from_drift((p2 - baseline) * math.sqrt(n_c) / sd, z_a, alternative)


def power_mean(
    std: float,
    mde: float,
    n_control: float,
    *,
    relative: bool = False,
    baseline_mean: float | None = None,
    alpha: float = 0.05,
    ratio: float = 1.0,
    alternative: str = "two-sided",
    n_challengers: int = 1,
) -> float:
    """Power of the z-test on a difference in means (known common ``std``)."""
    std = check_positive(std, "std")
    d = _mean_effect(mde, relative, baseline_mean)
    n_c = check_count(n_control, "n_control", 1)
    ratio = check_positive(ratio, "ratio")
    z_a = _z_alpha(alpha, alternative, n_challengers)
    return _power_from_drift(
        d * math.sqrt(n_c) / (std * math.sqrt(1 + 1 / ratio)), z_a, alternative
    )


def mde_mean(
    std: float,
    n_control: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    ratio: float = 1.0,
    alternative: str = "two-sided",
    n_challengers: int = 1,
) -> float:
    """Smallest absolute shift in a mean detectable with ``n_control`` units (one-tail form)."""
    std = check_positive(std, "std")
    n_c = check_count(n_control, "n_control", 1)
    ratio = check_positive(ratio, "ratio")
    z_a = _z_alpha(alpha, alternative, n_challengers)
    z_b = z_quantile(check_power(power))
    return (z_a + z_b) * std * math.sqrt((1 + 1 / ratio) / n_c)


def mde_proportion(
    baseline: float,
    n_control: float,
    *,
    relative: bool = False,
    alpha: float = 0.05,
    power: float = 0.8,
    ratio: float = 1.0,
    alternative: str = "two-sided",
    n_challengers: int = 1,
) -> float:
    """Smallest upward effect detectable with ``n_control`` units: the inverse of the sample size.

    Solves ``(z_a + z_b)^2 (p1 q1 + p2 q2 / r) = n_c d^2`` for ``d > 0`` (Brent's method);
    returns ``d`` (absolute) or ``d / baseline`` (relative). NaN if no rate below 1 is
    detectable with that many units.

    >>> round(mde_proportion(0.05, 8155), 5)
    0.01
    """
    p1 = check_rate(baseline, "baseline")
    if not 0 < p1 < 1:
        raise InvalidArgument("baseline", baseline, "must lie strictly between 0 and 1")
    n_c = check_count(n_control, "n_control", 1)
    ratio = check_positive(ratio, "ratio")
    k = (_z_alpha(alpha, alternative, n_challengers) + z_quantile(check_power(power))) ** 2

    def gap(d: float) -> float:
        p2 = p1 + d
        return n_c * d * d - k * (p1 * (1 - p1) + p2 * (1 - p2) / ratio)

    top = 1 - p1 - 1e-12
    if gap(top) < 0:
        return float("nan")
    d = optimize.brentq(gap, 1e-15, top, xtol=1e-14)
    return d / p1 if relative else d


def optimal_ratio_proportion(baseline: float, mde: float, *, relative: bool = False) -> float:
    """``n_t / n_c`` that minimises the total sample (unpooled test): sqrt(p2 q2 / (p1 q1)).

    For means with equal variances the optimum is 1; unequal splits (95/5) cost units.
    """
    p2 = target_rate(baseline, mde, relative)
    p1 = float(baseline)
    return math.sqrt(p2 * (1 - p2) / (p1 * (1 - p1)))


def days_needed(
    sample: SampleSize, daily_units: float, *, shares: tuple[float, float] | None = None
) -> int:
    """Whole days until both arms reach their size at ``daily_units`` eligible units a day.

    ``shares`` are the traffic shares of (control, treatment); by default they follow the
    sample's own ratio (a 50/50 split for equal arms).

    >>> days_needed(SampleSize(8155, 8155), 1000)
    17
    """
    daily = check_positive(daily_units, "daily_units")
    if shares is None:
        shares = (sample.n_control / sample.total, sample.n_treatment / sample.total)
    share_c = check_positive(shares[0], "shares[0]")
    share_t = check_positive(shares[1], "shares[1]")
    if share_c + share_t > 1 + 1e-9:
        raise InvalidArgument("shares", shares, "must not add up to more than 1")
    return _ceil(max(sample.n_control / (daily * share_c), sample.n_treatment / (daily * share_t)))
