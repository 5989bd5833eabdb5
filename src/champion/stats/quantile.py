"""Quantiles (latency p95, p99) and their intervals from histogram counts, never from rows.

The database returns how many values fell in each bin of a fixed set of edges (log-spaced for
latencies, ~1.2 % wide); everything here works on those counts. A quantile's interval comes
from order statistics: the ranks l and u with P(l <= B <= u - 1) >= 1 - alpha for
B ~ Binomial(n, q) bracket the true quantile whatever the distribution (Conover 1999,
"Practical Nonparametric Statistics", 3rd ed., §3.2). The histogram only tells which bin
each order statistic fell in, so the interval is widened to that bin's outer edge. Two arms
are compared by a normal approximation whose standard errors come from the widths of the
per-arm intervals (Price & Bonett 2002, "Distribution-free confidence intervals for difference
and ratio of medians", J. Statist. Comput. Simul. 72).

Bins: ``counts[..., i]`` holds values in ``[edges[i], edges[i + 1])``; the first and last bins
are open-ended (they also hold values below ``edges[1]`` / at or above ``edges[-2]``), so an
interval end that falls in one of them is infinite.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from champion.errors import InvalidArgument
from champion.stats._checks import check_alpha, check_alternative
from champion.stats._normal import (
    z_quantile,
    z_test_result,
)
from champion.stats.results import Status, TestResult
from champion.stats.sufficient import MeanStats

__all__ = [
    "QuantileEstimate",
    "histogram_mean",
    "histogram_quantile",
    "histogram_quantile_arrays",
    "order_statistic_ranks",
    "quantile_difference",
]

_NAN = float("nan")
_NAN_PAIR = (_NAN, _NAN)
_METHOD = "order-statistic"


@dataclass(frozen=True, slots=True)
class QuantileEstimate:
    """The ``q`` quantile of one arm's histogram with its ``1 - alpha`` interval.

    ``estimate`` interpolates within the bin that holds rank ``1 + (n - 1) q`` (numpy's
    default "linear" definition); ``ci`` runs from the lower edge of the bin holding order
    statistic ``ranks[0]`` to the upper edge of the bin holding ``ranks[1]``; ``se`` is the
    interpolated width between those order statistics over ``2 z_{1-alpha/2}``, the standard
    error a normal comparison of two arms uses. Fewer values than the interval needs
    (``ranks`` outside 1..n) gives an infinite end and status ``too_few``.
    """

    q: float
    estimate: float
    ci: tuple[float, float]
    se: float
    n: float
    ranks: tuple[int, int]
    alpha: float = 0.05
    status: Status = Status.OK


def _check_q(q: float) -> float:
    if not (isinstance(q, int | float | np.floating) and 0.0 < float(q) < 1.0):
        raise InvalidArgument("q", q, "must lie strictly between 0 and 1 (0.95 for p95)")
    return float(q)


def _check_histogram(
    edges: Sequence[float] | np.ndarray, counts: Sequence[float] | np.ndarray, name: str
) -> tuple[np.ndarray, np.ndarray]:
    e = np.asarray(edges, dtype=float)
    if e.ndim != 1 or e.size < 2 or not np.all(np.isfinite(e)) or np.any(np.diff(e) <= 0):
        raise InvalidArgument(
            "edges", np.asarray(edges).tolist()[:5], "must be >= 2 increasing finite numbers"
        )
    c = np.asarray(counts, dtype=float)
    if c.ndim < 1 or c.shape[-1] != e.size - 1:
        raise InvalidArgument(
            name, f"shape {c.shape}", f"must hold one count per bin: len(edges) - 1 = {e.size - 1}"
        )
    if not np.all(np.isfinite(c)) or np.any(c < 0):
        raise InvalidArgument(name, "...", "counts must be finite and >= 0")
    return e, c


def order_statistic_ranks(
    n: float | np.ndarray, q: float, alpha: float = 0.05
) -> tuple[np.ndarray, np.ndarray]:
    """1-based ranks (l, u) with P(X_(l) <= xi_q <= X_(u)) >= 1 - alpha, each side <= alpha/2.

    l = F^-1(alpha/2) and u = F^-1(1 - alpha/2) + 1 for F the Binomial(n, q) CDF; l < 1 or
    u > n means that side cannot be bounded with n values.

    >>> [int(r) for r in order_statistic_ranks(100, 0.5)]
    [40, 61]
    """
    q = _check_q(q)
    alpha = check_alpha(alpha)
    n = np.asarray(n, dtype=float)
    lower = _binom_ppf(alpha / 2, n, q)
    upper = _binom_ppf(1 - alpha / 2, n, q) + 1
    return np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)


def _binom_ppf(p: float, n: np.ndarray, q: float) -> np.ndarray:
    """Smallest k with P(B <= k) >= p for B ~ Binomial(n, q), vectorised over n."""
    with np.errstate(invalid="ignore"):
        k = stats.binom.ppf(p, np.where(n > 0, n, 1.0), q)
    return np.where(n > 0, k, 0.0)


def _value_at_rank(
    edges: np.ndarray, counts: np.ndarray, cum: np.ndarray, rank: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Interpolated value of the order statistic at ``rank`` and the index of its bin.

    The j-th of the c values in a bin sits at (j - 1/2) / c of the bin's width.
    """
    rank = np.asarray(rank, dtype=float)
    bins = counts.shape[-1]
    index = np.minimum(np.sum(cum < rank[..., None], axis=-1), bins - 1)
    c = np.take_along_axis(counts, index[..., None], axis=-1)[..., 0]
    before = np.take_along_axis(cum, index[..., None], axis=-1)[..., 0] - c
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.clip(np.where(c > 0, (rank - before - 0.5) / np.where(c > 0, c, 1.0), 0.5), 0, 1)
    lo, hi = edges[index], edges[index + 1]
    return lo + frac * (hi - lo), index


def histogram_quantile_arrays(
    edges: Sequence[float] | np.ndarray,
    counts: Sequence[float] | np.ndarray,
    q: float,
    *,
    alpha: float = 0.05,
) -> dict[str, np.ndarray]:
    """:func:`histogram_quantile` for many histograms at once (counts of shape (..., bins)).

    Returns arrays ``estimate``, ``lower``, ``upper``, ``se``, ``n``, ``rank_lower``,
    ``rank_upper`` over the leading axes (simulations, arms).
    """
    q = _check_q(q)
    alpha = check_alpha(alpha)
    e, c = _check_histogram(edges, counts, "counts")
    n = c.sum(axis=-1)
    cum = np.cumsum(c, axis=-1)
    bins = c.shape[-1]
    rank_l, rank_u = order_statistic_ranks(n, q, alpha)
    safe_n = np.where(n > 0, n, 1.0)
    estimate, _ = _value_at_rank(e, c, cum, 1.0 + (safe_n - 1.0) * q)
    low_ok, up_ok = rank_l >= 1, rank_u <= n
    v_l, i_l = _value_at_rank(e, c, cum, np.clip(rank_l, 1, safe_n))
    v_u, i_u = _value_at_rank(e, c, cum, np.clip(rank_u, 1, safe_n))
    lower = np.where(low_ok & (i_l > 0), e[i_l], -np.inf)
    upper = np.where(up_ok & (i_u < bins - 1), e[np.minimum(i_u + 1, bins)], np.inf)
    se = np.where(low_ok & up_ok, (v_u - v_l) / (2.0 * z_quantile(1 - alpha / 2)), np.nan)
    empty = n == 0
    return {
        "estimate": np.where(empty, np.nan, estimate),
        "lower": np.where(empty, np.nan, lower),
        "upper": np.where(empty, np.nan, upper),
        "se": np.where(empty, np.nan, se),
        "n": n,
        "rank_lower": rank_l,
        "rank_upper": rank_u,
    }


def histogram_quantile(
    edges: Sequence[float] | np.ndarray,
    counts: Sequence[float] | np.ndarray,
    q: float,
    *,
    alpha: float = 0.05,
) -> QuantileEstimate:
    """The ``q`` quantile of one histogram with its distribution-free ``1 - alpha`` interval.

    >>> edges = [0, 10, 20, 30, 40, 50]
    >>> r = histogram_quantile(edges, [10, 40, 30, 15, 5], 0.5)
    >>> round(r.estimate, 2), r.ci, r.ranks
    (20.0, (10.0, 30.0), (40, 61))
    """
    c = np.asarray(counts, dtype=float)
    if c.ndim != 1:
        raise InvalidArgument("counts", f"shape {c.shape}", "must be one histogram (1-D)")
    out = {k: float(v) for k, v in histogram_quantile_arrays(edges, c, q, alpha=alpha).items()}
    if out["n"] == 0:
        status = Status.EMPTY_ARM
    elif math.isnan(out["se"]):
        status = Status.TOO_FEW
    else:
        status = Status.OK
    return QuantileEstimate(
        q=float(q),
        estimate=out["estimate"],
        ci=(out["lower"], out["upper"]),
        se=out["se"],
        n=out["n"],
        ranks=(int(out["rank_lower"]), int(out["rank_upper"])),
        alpha=float(alpha),
        status=status,
    )


def quantile_difference(
    edges: Sequence[float] | np.ndarray,
    counts_control: Sequence[float] | np.ndarray,
    counts_treatment: Sequence[float] | np.ndarray,
    q: float,
    *,
    alpha: float = 0.05,
    alternative: str = "two-sided",
) -> TestResult:
    """Compare the ``q`` quantiles of two histograms on shared ``edges`` (treatment - control).

    Each arm's standard error is the Price-Bonett one, (X_(u) - X_(l)) / (2 z_{1-alpha/2})
    from its order-statistic interval; the difference is referred to the normal with
    se = sqrt(se_c² + se_t²), and the relative lift has a delta-method interval. ``control``
    and ``treatment`` of the result are the two quantile estimates.

    >>> edges = np.arange(0.0, 101.0)
    >>> c, t = np.full(100, 20), np.r_[np.zeros(5), np.full(95, 20)]
    >>> r = quantile_difference(edges, c, t, 0.5)
    >>> round(r.control, 2), round(r.treatment, 2), round(r.p_value, 4)
    (50.0, 52.5, 0.1153)
    """
    check_alternative(alternative)
    alpha = check_alpha(alpha)
    e, c_c = _check_histogram(edges, counts_control, "counts_control")
    _, c_t = _check_histogram(e, counts_treatment, "counts_treatment")
    if c_c.ndim != 1 or c_t.ndim != 1:
        raise InvalidArgument("counts_control", "...", "must be one histogram per arm (1-D)")
    arms = histogram_quantile_arrays(e, np.stack([c_c, c_t]), q, alpha=alpha)
    est_c, est_t = (float(v) for v in arms["estimate"])
    se_c, se_t = (float(v) for v in arms["se"])
    diff = est_t - est_c
    if arms["n"].min() == 0:
        status = Status.EMPTY_ARM
    elif math.isnan(se_c) or math.isnan(se_t):
        status = Status.TOO_FEW
    else:
        status = Status.ZERO_VARIANCE if se_c + se_t == 0 else Status.OK
    if status is not Status.OK:
        return TestResult(
            est_c, est_t, diff, _NAN_PAIR, _NAN, _NAN_PAIR, _NAN, _NAN,
            alpha, alternative, _METHOD, status,
        )  # fmt: skip
    se = math.sqrt(se_c * se_c + se_t * se_t)
    return z_test_result(
        est_c, est_t, var_mean_c=se_c * se_c, var_mean_t=se_t * se_t, se=se, statistic=diff / se,
        alpha=alpha, alternative=alternative, method=_METHOD,
    )  # fmt: skip


def histogram_mean(
    edges: Sequence[float] | np.ndarray, counts: Sequence[float] | np.ndarray
) -> MeanStats:
    """Approximate sums of a histogram's values, each value at its bin's midpoint.

    Midpoints are geometric (sqrt(lo hi)) when a bin's edges are both positive, the middle
    otherwise: within log-spaced bins ~1.2 % wide either is within 0.6 % of any value in the
    bin. The open end bins use their inner edge. Feed the result to ``welch_test``.

    >>> histogram_mean([0, 1, 4, 9, 16], [0, 2, 2, 0])
    MeanStats(n=4.0, sum=16.0, sum_sq=80.0)
    """
    e, c = _check_histogram(edges, counts, "counts")
    lo, hi = e[:-1], e[1:]
    with np.errstate(invalid="ignore"):
        mid = np.where((lo > 0) & (hi > 0), np.sqrt(np.abs(lo * hi)), (lo + hi) / 2)
    if mid.size > 1:
        mid[0], mid[-1] = e[1], e[-2]
    return MeanStats(float(c.sum()), float(c @ mid), float(c @ (mid * mid)))
