"""Request-level rates and quantiles when requests come in groups, one group per unit.

A unit (a user) sends several requests, and its requests resemble each other: a user on a
slow network sees slow responses, a user with odd inputs sees errors. Counting requests as
independent then understates the variance of an error rate or a latency quantile by the
design effect ``1 + (m - 1) rho`` (m requests per unit, rho their intraclass correlation).

Here the variance comes from **clusters** instead: per cluster (a unit, or a bucket of units
picked by a hash of the unit id, each a sum over independent units) the sums of events and
requests. A rate is then a ratio of per-cluster sums and its variance the delta method's over
clusters (``ratio_variance``; with buckets, the random-group estimate of Wolter 2007, ch. 2).
Intervals use the effective sample size ``n_eff = p (1 - p) / Var(p)``, reduced by
``(z / t_df)²`` for the df = clusters - 1 the variance rests on and never above n (Korn &
Graubard 1998):

- a rate: the Clopper-Pearson interval at ``n_eff`` (``clustered_rate_ci``; conservative
  on both sides, where Wilson's upper bound fell short by a few tenths of a point in
  simulations of skewed unit error rates);
- a quantile: the order-statistic interval of ``champion.stats.quantile`` at ``n_eff``, its
  ranks scaled back to the n values (Woodruff 1952: the variance of the share of values below
  the estimated quantile sets the interval) (``clustered_quantile``).

With one request per cluster both reduce to the unclustered exact methods (Clopper-Pearson
on the requests, the binomial order-statistic ranks), up to the small-df correction.

References: Woodruff (1952), "Confidence intervals for medians and other position measures",
JASA 47; Korn & Graubard (1998), "Confidence intervals for proportions with small expected
number of positive counts estimated from survey data", Survey Methodology 24; Wolter (2007),
*Introduction to Variance Estimation*, 2nd ed., ch. 2 (random groups); Deng, Knoblich & Lu
(2018), "Applying the Delta Method in Metric Analytics", KDD '18.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special

from champion.errors import InvalidArgument
from champion.stats._checks import check_alpha, check_alternative, check_sums
from champion.stats._normal import z_quantile, z_test_result
from champion.stats.frequentist import t_quantile
from champion.stats.quantile import (
    _check_histogram,
    _check_q,
    _value_at_rank,
    order_statistic_ranks,
)
from champion.stats.ratio import ratio_variance
from champion.stats.results import Status, TestResult
from champion.stats.sufficient import RatioStats

__all__ = [
    "ClusteredQuantile",
    "ClusteredRate",
    "cluster_ratio_stats",
    "clustered_histogram_mean",
    "clustered_quantile",
    "clustered_quantile_difference",
    "clustered_rate_ci",
]

_NAN = float("nan")
_NAN_PAIR = (_NAN, _NAN)
_FIELDS = ("sum_num", "sum_num_sq", "sum_den", "sum_den_sq", "sum_num_den")
_METHOD = "clustered-order-statistic"

ArrayLike = Sequence[float] | np.ndarray


@dataclass(frozen=True, slots=True)
class ClusteredRate:
    """A rate ``sum(num) / sum(den)`` over clusters, with its 1 - alpha interval.

    ``variance`` is the delta-method variance over clusters; ``design_effect`` that variance
    over the binomial one, ``rate (1 - rate) / n`` (NaN at a rate of 0 or 1, where it is
    unknown); ``n_effective`` the sample size the Clopper-Pearson ``ci`` is computed at;
    ``clusters`` the clusters with requests and ``df = clusters - 1``.
    """

    rate: float
    ci: tuple[float, float]
    variance: float
    design_effect: float
    n_effective: float
    n: float
    clusters: float
    df: float
    alpha: float = 0.05
    method: str = "clopper-pearson-effective-n"
    status: Status = Status.OK


@dataclass(frozen=True, slots=True)
class ClusteredQuantile:
    """The ``q`` quantile of values that come in clusters, with its 1 - alpha interval.

    ``estimate`` and ``se`` as in :class:`~champion.stats.quantile.QuantileEstimate`;
    ``ranks`` are the order statistics (among all n values) whose bins bound ``ci``;
    ``design_effect`` is the variance over clusters of the share of values below the
    estimate, over the binomial ``F (1 - F) / n``.
    """

    q: float
    estimate: float
    ci: tuple[float, float]
    se: float
    n: float
    ranks: tuple[int, int]
    design_effect: float
    n_effective: float
    clusters: float
    df: float
    alpha: float = 0.05
    status: Status = Status.OK


def cluster_ratio_stats(num: ArrayLike, den: ArrayLike) -> RatioStats:
    """Sums over clusters of per-cluster ``num`` and ``den``; clusters with ``den == 0`` drop.

    >>> cluster_ratio_stats([1, 0, 2, 0], [10, 0, 5, 4])
    RatioStats(n=3.0, sum_num=3.0, sum_num_sq=5.0, sum_den=19.0, sum_den_sq=141.0, sum_num_den=20.0)
    """
    x = np.asarray(num, dtype=float)
    d = np.asarray(den, dtype=float)
    if x.ndim != 1 or x.shape != d.shape:
        raise InvalidArgument(
            "num", f"shape {x.shape}", f"must be 1-D and match den (shape {d.shape})"
        )
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(d))) or np.any(d < 0):
        raise InvalidArgument("den", "...", "sums must be finite and den >= 0")
    if np.any((d == 0) & (x != 0)):
        raise InvalidArgument("num", "...", "a cluster without den (requests) has num 0")
    keep = d > 0
    x, d = x[keep], d[keep]
    return RatioStats(
        n=float(keep.sum()),
        sum_num=float(x.sum()),
        sum_num_sq=float(x @ x),
        sum_den=float(d.sum()),
        sum_den_sq=float(d @ d),
        sum_num_den=float(x @ d),
    )


def _effective_n(n: float, p: float, variance: float, clusters: float, alpha: float) -> tuple[
    float, float, float
]:  # fmt: skip
    """Design effect, Korn-Graubard effective sample size (df-adjusted, <= n) and df."""
    df = clusters - 1.0
    if 0.0 < p < 1.0 and not math.isnan(variance):
        deff = variance / (p * (1.0 - p) / n)
        n_eff = n / deff if deff > 0 else math.inf
    else:  # no events (or only events): the spread is unknown, all n count
        deff, n_eff = _NAN, n
    if df >= 1:
        z = z_quantile(1 - alpha / 2)
        n_eff *= (z / t_quantile(1 - alpha / 2, df)) ** 2
    return deff, min(n, n_eff), df


def _clopper_pearson(x: float, n: float, alpha: float) -> tuple[float, float]:
    """The exact binomial interval of x events in n trials, at real-valued x and n (beta
    quantiles, as Korn & Graubard use them at the effective sample size)."""
    lower = 0.0 if x <= 0 else float(special.betaincinv(x, n - x + 1, alpha / 2))
    upper = 1.0 if x >= n else float(special.betaincinv(x + 1, n - x, 1 - alpha / 2))
    return lower, upper


def clustered_rate_ci(stats: RatioStats, *, alpha: float = 0.05) -> ClusteredRate:
    """A rate and its interval from per-cluster sums (errors and requests per unit bucket).

    ``stats`` holds one row per cluster: n clusters, Σnum (events), Σnum², Σden (requests),
    Σden², Σnum·den, e.g. from :func:`cluster_ratio_stats`. The interval is Clopper-Pearson's
    at the effective sample size (see the module docstring). No clusters is ``empty_arm``; one
    cluster ``too_few`` (a variance needs two).

    >>> s = cluster_ratio_stats([3, 0, 1, 2, 9, 0], [400, 350, 420, 380, 410, 390])
    >>> r = clustered_rate_ci(s)
    >>> round(r.rate, 5), round(r.design_effect, 2), round(r.n_effective, 1)
    (0.00638, 4.44, 307.7)
    >>> tuple(round(v, 4) for v in r.ci)
    (0.0008, 0.0231)
    """
    n_clusters = check_sums(stats, RatioStats, "stats", _FIELDS)
    alpha = check_alpha(alpha)
    events, n = float(stats.sum_num), float(stats.sum_den)
    if events < 0 or n < 0 or events > n:
        raise InvalidArgument(
            "stats.sum_num", events, f"must lie between 0 and stats.sum_den ({n:g}): a rate"
        )
    if n_clusters == 0 or n == 0:
        return ClusteredRate(
            _NAN, _NAN_PAIR, _NAN, _NAN, 0.0, n, n_clusters, _NAN, alpha,
            status=Status.EMPTY_ARM,
        )  # fmt: skip
    rate = events / n
    if n_clusters < 2:
        return ClusteredRate(
            rate, _NAN_PAIR, _NAN, _NAN, _NAN, n, n_clusters, 0.0, alpha, status=Status.TOO_FEW
        )
    variance = ratio_variance(stats)
    deff, n_eff, df = _effective_n(n, rate, variance, n_clusters, alpha)
    ci = _clopper_pearson(rate * n_eff, n_eff, alpha)
    return ClusteredRate(rate, ci, variance, deff, n_eff, n, n_clusters, df, alpha)


def _cluster_counts(
    edges: ArrayLike, counts: ArrayLike, name: str
) -> tuple[np.ndarray, np.ndarray]:
    e, c = _check_histogram(edges, counts, name)
    if c.ndim != 2:
        raise InvalidArgument(
            name, f"shape {c.shape}", "must be (clusters, bins): one histogram per cluster"
        )
    return e, c[c.sum(axis=1) > 0]


def _scaled_ranks(n: float, n_eff: float, q: float, alpha: float) -> tuple[float, float]:
    """Order-statistic ranks among n values for a sample worth ``n_eff`` independent ones."""
    if n_eff >= n:
        lower, upper = order_statistic_ranks(n, q, alpha)
        return float(lower), float(upper)
    m = math.floor(n_eff)
    if m < 1:
        return 0.0, math.inf
    lower, upper = order_statistic_ranks(m, q, alpha)
    # rank/m is the CDF level the interval ends at; the same level among n values:
    return float(math.floor(float(lower) * n / m)), float(math.ceil(float(upper) * n / m))


def clustered_quantile(
    edges: ArrayLike, counts: ArrayLike, q: float, *, alpha: float = 0.05
) -> ClusteredQuantile:
    """The ``q`` quantile of values in clusters, from one histogram per cluster.

    ``counts`` has shape (clusters, bins) on shared ``edges``; clusters without values drop.
    The estimate is that of the pooled histogram (:func:`histogram_quantile`). Each cluster's
    share of values below the estimate (its bin split evenly) gives, as a ratio over clusters,
    the variance of F(estimate); the order-statistic ranks are those of the effective sample
    size, scaled to n (module docstring). Status as for ``histogram_quantile``.

    >>> edges = np.arange(0.0, 21.0)
    >>> units = [np.roll([1, 2, 1] + [0] * 17, k) for k in range(2, 16)] * 3  # 4 values each
    >>> r = clustered_quantile(edges, units, 0.5)
    >>> r.estimate, r.ci, r.ranks, round(r.design_effect, 2)
    (10.0, (7.0, 13.0), (58, 114), 3.66)

    (As 168 independent values: the 71st and 98th order statistics, 8.0 to 12.0.)
    """
    q = _check_q(q)
    alpha = check_alpha(alpha)
    e, c = _cluster_counts(edges, counts, "counts")
    clusters = float(c.shape[0])
    total = c.sum(axis=0)
    n = float(total.sum())
    if n == 0:
        return ClusteredQuantile(
            q, _NAN, _NAN_PAIR, _NAN, 0.0, (0, 0), _NAN, 0.0, 0.0, _NAN, alpha, Status.EMPTY_ARM
        )
    cum = np.cumsum(total)
    estimate_a, index_a = _value_at_rank(e, total, cum, np.asarray(1.0 + (n - 1.0) * q))
    estimate, index = float(estimate_a), int(index_a)
    part = min(max((estimate - e[index]) / (e[index + 1] - e[index]), 0.0), 1.0)
    below = c[:, :index].sum(axis=1) + part * c[:, index]
    deff, n_eff, df = _NAN, _NAN, clusters - 1.0
    if clusters >= 2:
        variance = ratio_variance(cluster_ratio_stats(below, c.sum(axis=1)))
        deff, n_eff, df = _effective_n(n, float(below.sum()) / n, variance, clusters, alpha)
        rank_l, rank_u = _scaled_ranks(n, n_eff, q, alpha)
    else:
        rank_l, rank_u = 0.0, math.inf
    bins = c.shape[1]
    low_ok, up_ok = rank_l >= 1, rank_u <= n
    v_l, i_l = _value_at_rank(e, total, cum, np.asarray(min(max(rank_l, 1.0), n)))
    v_u, i_u = _value_at_rank(e, total, cum, np.asarray(min(max(rank_u, 1.0), n)))
    lower = float(e[int(i_l)]) if low_ok and int(i_l) > 0 else -math.inf
    upper = float(e[int(i_u) + 1]) if up_ok and int(i_u) < bins - 1 else math.inf
    ok = low_ok and up_ok
    se = float(v_u - v_l) / (2.0 * z_quantile(1 - alpha / 2)) if ok else _NAN
    ranks = (int(rank_l), int(rank_u) if math.isfinite(rank_u) else -1)
    return ClusteredQuantile(
        q, estimate, (lower, upper), se, n, ranks, deff, n_eff, clusters, df, alpha,
        Status.OK if ok else Status.TOO_FEW,
    )  # fmt: skip


def clustered_quantile_difference(
    edges: ArrayLike,
    counts_control: ArrayLike,
    counts_treatment: ArrayLike,
    q: float,
    *,
    alpha: float = 0.05,
    alternative: str = "two-sided",
) -> TestResult:
    """:func:`quantile_difference` with each arm's values in clusters (histograms per cluster).

    Each arm's standard error is the Price-Bonett one from its :func:`clustered_quantile`
    interval; the difference (treatment - control) is referred to the normal.
    """
    check_alternative(alternative)
    alpha = check_alpha(alpha)
    e, c_c = _cluster_counts(edges, counts_control, "counts_control")
    _, c_t = _cluster_counts(e, counts_treatment, "counts_treatment")
    arm_c = clustered_quantile(e, c_c, q, alpha=alpha)
    arm_t = clustered_quantile(e, c_t, q, alpha=alpha)
    diff = arm_t.estimate - arm_c.estimate
    if min(arm_c.n, arm_t.n) == 0:
        status = Status.EMPTY_ARM
    elif math.isnan(arm_c.se) or math.isnan(arm_t.se):
        status = Status.TOO_FEW
    else:
        status = Status.ZERO_VARIANCE if arm_c.se + arm_t.se == 0 else Status.OK
    if status is not Status.OK:
        return TestResult(
            arm_c.estimate, arm_t.estimate, diff, _NAN_PAIR, _NAN, _NAN_PAIR, _NAN, _NAN,
            alpha, alternative, _METHOD, status,
        )  # fmt: skip
    se = math.hypot(arm_c.se, arm_t.se)
    return z_test_result(
        arm_c.estimate, arm_t.estimate, var_mean_c=arm_c.se**2, var_mean_t=arm_t.se**2, se=se,
        statistic=diff / se, alpha=alpha, alternative=alternative, method=_METHOD,
    )  # fmt: skip


def clustered_histogram_mean(edges: ArrayLike, counts: ArrayLike) -> RatioStats:
    """Per-cluster sums of values (at their bins' midpoints, as :func:`histogram_mean`) and
    counts, as a ratio over clusters: the mean value is ``sum_num / sum_den`` and
    ``ratio_variance`` its variance (``ratio_test`` compares two arms).

    >>> clustered_histogram_mean([0, 1, 4, 9, 16], [[0, 2, 0, 0], [0, 0, 2, 0]])
    RatioStats(n=2.0, sum_num=16.0, sum_num_sq=160.0, sum_den=4.0, sum_den_sq=8.0, sum_num_den=32.0)
    """
    e, c = _cluster_counts(edges, counts, "counts")
    return cluster_ratio_stats(c @ _midpoints(e), c.sum(axis=1))


def _midpoints(e: np.ndarray) -> np.ndarray:
    """Where :func:`histogram_mean` places a bin's values: the geometric middle of positive
    edges, the middle otherwise, the inner edge for the two open end bins."""
    lo, hi = e[:-1], e[1:]
    with np.errstate(invalid="ignore"):
        mid = np.where((lo > 0) & (hi > 0), np.sqrt(np.abs(lo * hi)), (lo + hi) / 2)
    if mid.size > 1:
        mid[0], mid[-1] = e[1], e[-2]
    return np.asarray(mid, dtype=float)
