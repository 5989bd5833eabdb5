"""Clustered rates and quantiles against statsmodels' cluster-robust variance, scipy's
binomial and t quantiles, and seeded simulations of units sending ~10 requests each."""

import math

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from champion.stats import (
    RatioStats,
    Status,
    cluster_ratio_stats,
    clustered_histogram_mean,
    clustered_quantile,
    clustered_quantile_difference,
    clustered_rate_ci,
    histogram_mean,
    histogram_quantile,
)
from champion.stats.ratio import ratio_variance

EDGES = 10.0 ** (np.arange(-400, 1001) / 200)  # the latency edges of the analysis
Z90 = stats.norm.ppf(0.95)


def cluster_variance(values: np.ndarray, groups: np.ndarray) -> float:
    """statsmodels: cluster-robust variance of the mean of ``values`` (OLS on a constant)."""
    fit = sm.OLS(values, np.ones_like(values)).fit(cov_type="cluster", cov_kwds={"groups": groups})
    return float(fit.cov_params()[0, 0])


def requests_of_units(rng, units: int, rate: float, icc: float, mean_requests: int = 10):
    """Per request: its unit and whether it failed; unit error rates ~ Beta with the ICC."""
    a, b = rate * (1 - icc) / icc, (1 - rate) * (1 - icc) / icc
    m = 1 + rng.poisson(mean_requests - 1, units)
    unit = np.repeat(np.arange(units), m)
    failed = rng.random(unit.size) < rng.beta(a, b, units)[unit]
    return unit, failed.astype(float)


def bins_of(values: np.ndarray) -> np.ndarray:
    return np.clip(np.floor(200 * np.log10(values)).astype(int) + 400, 0, 1399)


# -- rates ----------------------------------------------------------------------------------


def test_the_rate_variance_is_statsmodels_cluster_robust_variance():
    rng = np.random.default_rng(1)
    unit, failed = requests_of_units(rng, 3_000, 0.02, 0.05)
    bucket = unit % 64
    n = np.bincount(bucket, minlength=64)
    e = np.bincount(bucket, failed, minlength=64)
    r = clustered_rate_ci(cluster_ratio_stats(e, n), alpha=0.1)
    by_bucket = cluster_variance(failed, bucket)
    assert r.rate == pytest.approx(failed.mean(), rel=1e-12)
    assert r.variance == pytest.approx(by_bucket, rel=1e-9)
    # buckets estimate the unit-level variance (random groups): within sampling error of it
    assert r.variance == pytest.approx(cluster_variance(failed, unit), rel=0.35)
    p = failed.mean()
    assert r.design_effect == pytest.approx(by_bucket / (p * (1 - p) / failed.size), rel=1e-9)
    assert r.clusters == 64
    assert r.df == 63


def test_the_interval_is_clopper_pearson_at_the_korn_graubard_effective_size():
    rng = np.random.default_rng(2)
    unit, failed = requests_of_units(rng, 2_000, 0.01, 0.05)
    bucket = unit % 64
    e, n = np.bincount(bucket, failed, 64), np.bincount(bucket, minlength=64)
    r = clustered_rate_ci(cluster_ratio_stats(e, n), alpha=0.1)
    p, size = failed.mean(), failed.size
    n_eff = p * (1 - p) / cluster_variance(failed, bucket)
    n_eff *= (stats.norm.ppf(0.95) / stats.t.ppf(0.95, 63)) ** 2
    assert 1.1 < r.design_effect < 3  # about 1 + (m - 1) icc = 1.45
    assert r.n_effective == pytest.approx(min(n_eff, size), rel=1e-9)
    lo, hi = proportion_confint(p * n_eff, n_eff, alpha=0.1, method="beta")
    assert r.ci == pytest.approx((lo, hi), rel=1e-9)
    # wider than the interval that takes requests as independent
    independent = proportion_confint(failed.sum(), size, alpha=0.1, method="beta")
    assert r.ci[0] < independent[0]
    assert r.ci[1] > independent[1]


def test_the_effective_size_never_exceeds_the_requests():
    # every bucket errs at the same rate: no spread, design effect 0, all requests count
    s = cluster_ratio_stats([2, 2, 2, 2], [100, 100, 100, 100])
    r = clustered_rate_ci(s)
    assert r.design_effect == 0
    assert r.n_effective == 400
    assert r.ci == pytest.approx(proportion_confint(8, 400, method="beta"), rel=1e-12)


def test_no_errors_counts_every_request_less_the_small_df_correction():
    r = clustered_rate_ci(cluster_ratio_stats([0] * 10, [50] * 10), alpha=0.1)
    assert r.rate == 0
    assert math.isnan(r.design_effect)  # unknown without events (Korn & Graubard: n* = n)
    n_eff = 500 * (stats.norm.ppf(0.95) / stats.t.ppf(0.95, 9)) ** 2
    assert r.n_effective == pytest.approx(n_eff, rel=1e-12)
    assert r.ci == pytest.approx(proportion_confint(0, n_eff, alpha=0.1, method="beta"))


def test_degenerate_inputs_are_results_with_a_status():
    empty = clustered_rate_ci(RatioStats(0, 0, 0, 0, 0, 0))
    assert empty.status is Status.EMPTY_ARM
    assert math.isnan(empty.rate)
    one = clustered_rate_ci(cluster_ratio_stats([3, 0], [100, 0]))
    assert one.status is Status.TOO_FEW
    assert one.rate == 0.03
    assert all(math.isnan(v) for v in one.ci)


def test_bad_sums_are_refused_by_name():
    with pytest.raises(ValueError, match=r"stats.sum_num=.*must lie between 0 and stats.sum_den"):
        clustered_rate_ci(RatioStats(2, 5, 13, 4, 8, 10))
    with pytest.raises(ValueError, match=r"num=.*a cluster without den \(requests\) has num 0"):
        cluster_ratio_stats([1, 1], [0, 3])
    with pytest.raises(ValueError, match=r"num=.*must be 1-D and match den"):
        cluster_ratio_stats([1, 1], [2, 3, 4])


def test_with_one_request_per_cluster_it_is_clopper_pearson_on_the_requests():
    rng = np.random.default_rng(3)
    failed = (rng.random(5_000) < 0.03).astype(float)
    r = clustered_rate_ci(cluster_ratio_stats(failed, np.ones_like(failed)), alpha=0.1)
    assert r.design_effect == pytest.approx(5_000 / 4_999, rel=1e-9)  # ddof = 1
    exact = proportion_confint(failed.sum(), 5_000, alpha=0.1, method="beta")
    assert r.ci == pytest.approx(exact, rel=2e-3)


def _rate_intervals(rate: float, icc: float, runs: int, seed: int):
    """One-sided 95% bounds (two-sided 90%) over ``runs`` experiments of 500 units, ~10
    requests each, bucketed by unit into 64: clustered, and taking requests as independent."""
    rng = np.random.default_rng(seed)
    a, b = rate * (1 - icc) / icc, (1 - rate) * (1 - icc) / icc
    m = 1 + rng.poisson(9, (runs, 500))
    errors = rng.binomial(m, rng.beta(a, b, (runs, 500)))
    where = (np.arange(runs)[:, None] * 64 + rng.integers(0, 64, (runs, 500))).ravel()
    e = np.bincount(where, errors.ravel(), runs * 64).reshape(runs, 64)
    n = np.bincount(where, m.ravel(), runs * 64).reshape(runs, 64)
    clustered = np.array(
        [clustered_rate_ci(cluster_ratio_stats(e[i], n[i]), alpha=0.1).ci for i in range(runs)]
    )
    independent = np.array(proportion_confint(e.sum(1), n.sum(1), alpha=0.1, method="wilson")).T
    return clustered, independent


def test_one_sided_bounds_keep_their_level_with_clustered_requests():
    """Rate 0.01, ICC 0.05, 2,000 runs (Monte-Carlo SE 0.5 points at 5%): each one-sided
    bound misses in at most 5% + 1.3 points (2.5 SE); requests taken as independent miss
    about twice as often (the design effect is ~1.45)."""
    clustered, independent = _rate_intervals(0.01, 0.05, 2_000, seed=4)
    below, above = np.mean(clustered[:, 0] > 0.01), np.mean(clustered[:, 1] < 0.01)
    assert below <= 0.063
    assert above <= 0.063
    assert np.mean(independent[:, 0] > 0.01) > 0.075  # the defect this module fixes


# -- quantiles ------------------------------------------------------------------------------


def latencies_of_units(rng, units: int, icc: float, median: float = 80.0, sigma: float = 0.5):
    """Per request: its unit and a lognormal latency with a unit effect (ICC on the log scale)."""
    m = 1 + rng.poisson(9, units)
    unit = np.repeat(np.arange(units), m)
    log = rng.normal(0, sigma * math.sqrt(icc), units)[unit]
    log = log + rng.normal(0, sigma * math.sqrt(1 - icc), unit.size)
    return unit, median * np.exp(log)


def per_bucket(bucket: np.ndarray, bins: np.ndarray, buckets: int = 64) -> np.ndarray:
    counts = np.zeros((buckets, 1400))
    np.add.at(counts, (bucket, bins), 1)
    return counts


def test_the_quantile_interval_uses_the_cluster_robust_variance_of_the_share_below():
    rng = np.random.default_rng(5)
    unit, latency = latencies_of_units(rng, 2_000, 0.3)
    bucket, bins = unit % 64, bins_of(latency)
    r = clustered_quantile(EDGES, per_bucket(bucket, bins), 0.95, alpha=0.1)
    pooled = histogram_quantile(EDGES, np.bincount(bins, minlength=1400), 0.95, alpha=0.1)
    assert r.estimate == pooled.estimate
    # the share of each request below the estimate: 1 below its bin, the split within it
    k = int(np.searchsorted(EDGES, r.estimate, side="right") - 1)
    part = (r.estimate - EDGES[k]) / (EDGES[k + 1] - EDGES[k])
    below = np.where(bins < k, 1.0, np.where(bins == k, part, 0.0))
    share = below.mean()
    deff = cluster_variance(below, bucket) / (share * (1 - share) / below.size)
    assert r.design_effect == pytest.approx(deff, rel=1e-9)
    assert deff > 1.5  # ICC 0.3 over ~10 requests per unit
    n, n_eff = below.size, below.size / deff * (Z90 / stats.t.ppf(0.95, 63)) ** 2
    assert r.n_effective == pytest.approx(n_eff, rel=1e-9)
    m = math.floor(n_eff)
    lower = math.floor(stats.binom.ppf(0.05, m, 0.95) * n / m)
    upper = math.ceil((stats.binom.ppf(0.95, m, 0.95) + 1) * n / m)
    assert r.ranks == (lower, upper)
    rows = np.sort(latency)  # the interval: the bins of those order statistics, widened
    lo_bin, hi_bin = bins_of(rows[lower - 1 : lower]), bins_of(rows[upper - 1 : upper])
    assert r.ci == (EDGES[lo_bin[0]], EDGES[hi_bin[0] + 1])
    assert r.ranks[0] < pooled.ranks[0] - 10  # wider than as independent requests
    assert r.ranks[1] > pooled.ranks[1] + 10
    assert r.ci[0] < pooled.ci[0]
    assert r.ci[1] >= pooled.ci[1]


def test_one_value_per_cluster_gives_the_order_statistic_interval_within_a_rank():
    rng = np.random.default_rng(6)
    latency = rng.lognormal(np.log(80), 0.5, 3_000)
    bins = bins_of(latency)
    counts = np.zeros((3_000, 1400))
    counts[np.arange(3_000), bins] = 1
    r = clustered_quantile(EDGES, counts, 0.95, alpha=0.1)
    plain = histogram_quantile(EDGES, counts.sum(0), 0.95, alpha=0.1)
    assert r.estimate == plain.estimate
    assert r.design_effect == pytest.approx(1.0, abs=0.01)
    assert abs(r.ranks[0] - plain.ranks[0]) <= 1
    assert abs(r.ranks[1] - plain.ranks[1]) <= 1


def test_quantile_degenerate_inputs():
    empty = clustered_quantile(EDGES, np.zeros((4, 1400)), 0.95)
    assert empty.status is Status.EMPTY_ARM
    one = np.zeros((4, 1400))
    one[2, 600:700] = 3  # a single cluster: no variance
    r = clustered_quantile(EDGES, one, 0.5)
    assert r.status is Status.TOO_FEW
    assert r.ci == (-math.inf, math.inf)
    assert EDGES[600] < r.estimate < EDGES[700]
    with pytest.raises(ValueError, match=r"counts=.*must be \(clusters, bins\)"):
        clustered_quantile(EDGES, np.zeros(1400), 0.5)


def _quantile_runs(icc: float, runs: int, seed: int, shift: float = 1.0):
    """p95 one-sided 95% bounds (clustered, independent) over runs of 500 units in 64 buckets."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(runs):
        unit, latency = latencies_of_units(rng, 500, icc, median=80.0 * shift)
        bucket = rng.integers(0, 64, 500)[unit]
        counts = per_bucket(bucket, bins_of(latency))
        c = clustered_quantile(EDGES, counts, 0.95, alpha=0.1)
        p = histogram_quantile(EDGES, counts.sum(0), 0.95, alpha=0.1)
        out.append((*c.ci, *p.ci))
    return np.array(out)


def test_p95_bounds_keep_their_level_with_clustered_latencies():
    """ICC 0.3 on the log scale, 1,000 runs (Monte-Carlo SE 0.7 points at 5%): each
    one-sided bound misses the true p95 in at most 5% + 1.7 points; the order-statistic
    bounds taking requests as independent miss on the upper side more often."""
    bounds = _quantile_runs(0.3, 1_000, seed=7)
    truth = 80.0 * math.exp(0.5 * stats.norm.ppf(0.95))
    assert np.mean(bounds[:, 0] > truth) <= 0.067
    assert np.mean(bounds[:, 1] < truth) <= 0.067
    assert np.mean(bounds[:, 3] < truth) > np.mean(bounds[:, 1] < truth) + 0.02


def test_the_quantile_difference_is_a_z_test_on_the_clustered_standard_errors():
    rng = np.random.default_rng(8)
    arms = []
    for median in (80.0, 84.0):
        unit, latency = latencies_of_units(rng, 1_500, 0.2, median=median)
        arms.append(per_bucket(unit % 64, bins_of(latency)))
    r = clustered_quantile_difference(EDGES, arms[0], arms[1], 0.95, alpha=0.1)
    c, t = (clustered_quantile(EDGES, a, 0.95, alpha=0.1) for a in arms)
    se = math.hypot(c.se, t.se)
    assert r.diff == pytest.approx(t.estimate - c.estimate, rel=1e-12)
    assert r.diff_ci == pytest.approx((r.diff - Z90 * se, r.diff + Z90 * se), rel=1e-12)
    assert r.p_value == pytest.approx(2 * stats.norm.sf(abs(r.diff) / se), rel=1e-9)
    assert c.se > histogram_quantile(EDGES, arms[0].sum(0), 0.95, alpha=0.1).se


def test_an_a_a_quantile_difference_rejects_at_most_alpha():
    """1,000 A/A pairs, ICC 0.3: two-sided 10% test rejects in at most 10% + 2 points."""
    rng = np.random.default_rng(9)
    rejected = 0
    for _ in range(1_000):
        arms = []
        for _arm in range(2):
            unit, latency = latencies_of_units(rng, 400, 0.3)
            arms.append(per_bucket(rng.integers(0, 64, 400)[unit], bins_of(latency)))
        rejected += clustered_quantile_difference(EDGES, *arms, 0.95, alpha=0.1).p_value < 0.1
    assert rejected / 1_000 <= 0.12


# -- means from histograms ------------------------------------------------------------------


def test_the_clustered_histogram_mean_is_the_ratio_of_midpoint_sums_per_cluster():
    rng = np.random.default_rng(10)
    unit, latency = latencies_of_units(rng, 1_000, 0.2)
    bucket, bins = unit % 64, bins_of(latency)
    counts = per_bucket(bucket, bins)
    s = clustered_histogram_mean(EDGES, counts)
    assert s.n == 64
    total = histogram_mean(EDGES, counts.sum(0))
    assert s.sum_num == pytest.approx(total.sum, rel=1e-12)
    assert s.sum_den == total.n
    mid = np.array([histogram_mean(EDGES, np.eye(1, 1400, k)[0]).sum for k in range(1400)])
    value = mid[bins]  # each request at its bin's midpoint, as rows
    assert s.sum_num / s.sum_den == pytest.approx(value.mean(), rel=1e-12)
    assert ratio_variance(s) == pytest.approx(cluster_variance(value, bucket), rel=1e-9)
