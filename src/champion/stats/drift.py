"""Comparing two models' answers to the same requests: PSI, a rate's interval, paired rates.

A shadow model sees every request the served model sees, so its comparison is paired: the
error rates of the two are correlated through the requests, and the difference of two
paired proportions has a smaller variance than two independent samples would give. The
population stability index (PSI) compares two binned distributions; it takes counts per
bin, never rows, like everything in ``champion.stats``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from champion.errors import InvalidArgument
from champion.stats._checks import check_alpha, check_alternative, check_count
from champion.stats._normal import (
    z_quantile,
    z_test_result,
)
from champion.stats.results import Status, TestResult

__all__ = [
    "PSI_LARGE",
    "PSI_STABLE",
    "PSIResult",
    "RateCI",
    "paired_proportion_test",
    "proportion_ci",
    "psi",
    "psi_reading",
]

_NAN = float("nan")
_NAN_PAIR = (_NAN, _NAN)

#: The usual reading of a PSI: below 0.1 stable, 0.1 to 0.25 a moderate shift, above a large one.
PSI_STABLE = 0.1
PSI_LARGE = 0.25


@dataclass(frozen=True, slots=True)
class RateCI:
    """A proportion ``successes / n`` with its 1 - alpha interval."""

    successes: float
    n: float
    ci: tuple[float, float]
    alpha: float = 0.05
    method: str = "wilson"
    status: Status = Status.OK

    @property
    def rate(self) -> float:
        return self.successes / self.n if self.n > 0 else _NAN


def proportion_ci(
    successes: float, n: float, *, alpha: float = 0.05, method: str = "wilson"
) -> RateCI:
    """Interval for one proportion: Wilson (default) or Wald, both two-sided.

    Wilson's score interval keeps its coverage near 0 and 1 and for small n, where the Wald
    interval collapses to a point (a shadow that never errs has rate 0 and Wald width 0).
    Wald is clipped to [0, 1]. ``n = 0`` returns NaN with status ``empty_arm``.

    >>> r = proportion_ci(81, 100)
    >>> round(r.rate, 2), tuple(round(v, 4) for v in r.ci)
    (0.81, (0.7222, 0.8749))
    """
    n = check_count(n, "n")
    successes = check_count(successes, "successes")
    if successes > n:
        raise InvalidArgument("successes", successes, f"must be <= n ({n:g})")
    alpha = check_alpha(alpha)
    if method not in ("wilson", "wald"):
        raise InvalidArgument("method", method, "must be 'wilson' or 'wald'")
    if n == 0:
        return RateCI(successes, n, _NAN_PAIR, alpha, method, Status.EMPTY_ARM)
    z = z_quantile(1 - alpha / 2)
    p = successes / n
    if method == "wald":
        half = z * math.sqrt(p * (1 - p) / n)
        ci = (max(0.0, p - half), min(1.0, p + half))
    else:
        z2 = z * z
        centre = (successes + z2 / 2) / (n + z2)
        half = z / (n + z2) * math.sqrt(successes * (n - successes) / n + z2 / 4)
        ci = (max(0.0, centre - half), min(1.0, centre + half))
    return RateCI(successes, n, ci, alpha, method)


def paired_proportion_test(
    x_control: float,
    x_treatment: float,
    x_both: float,
    n: float,
    *,
    alpha: float = 0.05,
    alternative: str = "two-sided",
) -> TestResult:
    """Difference of two proportions measured on the same n units (McNemar's setting).

    ``x_control`` and ``x_treatment`` count the units with the event under each model,
    ``x_both`` those with it under both. Only discordant units (``b`` treatment only, ``c``
    control only) carry information: diff = (b - c) / n with the paired Wald standard error
    sqrt(b + c - (b - c)² / n) / n, and statistic z = (b - c) / sqrt(b + c), McNemar's test
    without continuity correction (z² is its chi-square). The relative lift's CI uses the
    delta method with the covariance of the two rates.

    >>> r = paired_proportion_test(30, 45, 20, 1000)
    >>> round(r.diff, 3), tuple(round(v, 4) for v in r.diff_ci), round(r.p_value, 4)
    (0.015, (0.0034, 0.0266), 0.0112)
    """
    n = check_count(n, "n", 1)
    x_c = check_count(x_control, "x_control")
    x_t = check_count(x_treatment, "x_treatment")
    x_b = check_count(x_both, "x_both")
    for name, value in (("x_control", x_c), ("x_treatment", x_t)):
        if value > n:
            raise InvalidArgument(name, value, f"must be <= n ({n:g})")
    if x_b > min(x_c, x_t):
        raise InvalidArgument("x_both", x_b, "must be <= both x_control and x_treatment")
    if x_c + x_t - x_b > n:
        raise InvalidArgument(
            "x_both", x_b, f"is too small: x_control + x_treatment - x_both must be <= n ({n:g})"
        )
    alpha = check_alpha(alpha)
    check_alternative(alternative)
    p_c, p_t = x_c / n, x_t / n
    b, c = x_t - x_b, x_c - x_b
    diff = (b - c) / n
    method = "paired-wald"
    if b + c == 0:
        return TestResult(
            p_c, p_t, diff, (diff, diff), _NAN, _NAN_PAIR, _NAN, _NAN,
            alpha, alternative, method, Status.ZERO_VARIANCE,
        )  # fmt: skip
    se = math.sqrt(max(b + c - (b - c) ** 2 / n, 0.0)) / n
    z = (b - c) / math.sqrt(b + c)
    cov_mean = (x_b / n - p_c * p_t) / n
    return z_test_result(
        p_c, p_t, var_mean_c=p_c * (1 - p_c) / n, var_mean_t=p_t * (1 - p_t) / n, se=se,
        statistic=z, alpha=alpha, alternative=alternative, method=method, cov_mean=cov_mean,
        log_scale=True,
    )  # fmt: skip


def psi_reading(value: float) -> str:
    """ "stable" (< 0.1), "moderate shift" (0.1 to 0.25), "large shift" (> 0.25), or "n/a"."""
    if math.isnan(value):
        return "n/a"
    if value < PSI_STABLE:
        return "stable"
    if value <= PSI_LARGE:
        return "moderate shift"
    return "large shift"


@dataclass(frozen=True, slots=True)
class PSIResult:
    """PSI of ``actual`` against ``expected``, with each side's share per bin (unfloored)."""

    value: float
    expected: tuple[float, ...]
    actual: tuple[float, ...]
    epsilon: float
    status: Status = Status.OK

    @property
    def reading(self) -> str:
        return psi_reading(self.value)

    @property
    def bins(self) -> int:
        return len(self.expected)


def _counts(values: Sequence[float], name: str) -> np.ndarray:
    counts = np.asarray(values, dtype=float)
    if counts.ndim != 1 or counts.size < 2:
        raise InvalidArgument(name, list(values), "must list the counts of at least two bins")
    if not np.all(np.isfinite(counts)) or np.any(counts < 0):
        raise InvalidArgument(name, list(values), "counts must be finite and >= 0")
    return counts


def psi(expected: Sequence[float], actual: Sequence[float], *, epsilon: float = 1e-4) -> PSIResult:
    """Population stability index of two binned distributions (counts on the same bins).

    PSI = Σ (a_i - e_i) ln(a_i / e_i) over bins, with e_i, a_i each side's share of its
    total. A share below ``epsilon`` counts as ``epsilon`` (an empty bin would make the
    log infinite); the shares are not renormalised. PSI is the symmetrised Kullback-Leibler
    divergence, so swapping the sides gives the same value. An empty side returns NaN with
    status ``empty_arm``.

    >>> r = psi([100, 100, 100, 100], [70, 100, 100, 130])
    >>> round(r.value, 4), r.reading
    (0.0464, 'stable')
    """
    e_counts = _counts(expected, "expected")
    a_counts = _counts(actual, "actual")
    if e_counts.size != a_counts.size:
        raise InvalidArgument(
            "actual", list(actual), f"must have as many bins as expected ({e_counts.size})"
        )
    if not (isinstance(epsilon, int | float) and 0.0 < epsilon < 1.0):
        raise InvalidArgument("epsilon", epsilon, "must lie strictly between 0 and 1")
    e_total, a_total = e_counts.sum(), a_counts.sum()
    if e_total == 0 or a_total == 0:
        nans = (_NAN,) * e_counts.size
        return PSIResult(_NAN, nans, nans, float(epsilon), Status.EMPTY_ARM)
    e_share, a_share = e_counts / e_total, a_counts / a_total
    e_floor, a_floor = np.maximum(e_share, epsilon), np.maximum(a_share, epsilon)
    value = float(np.sum((a_floor - e_floor) * np.log(a_floor / e_floor)))
    return PSIResult(
        value=max(value, 0.0),
        expected=tuple(e_share.tolist()),
        actual=tuple(a_share.tolist()),
        epsilon=float(epsilon),
    )
