"""Quantiles from histograms against numpy on the raw rows, scipy's binomial and simulations."""

import math

import numpy as np
import pytest
from scipy import stats

from champion.stats.quantile import (
    histogram_mean,
    histogram_quantile,
    histogram_quantile_arrays,
    order_statistic_ranks,
    quantile_difference,
)
from champion.stats.results import Status

EDGES = 10.0 ** (np.arange(-400, 1001) / 200)  # 0.01 ms .. 100 s, ~1.2 % wide bins
MU, SIGMA = math.log(40.0), 0.5  # lognormal latencies around 40 ms


def binned(values: np.ndarray) -> np.ndarray:
    """Counts per bin over the last axis, end bins open like the SQL layer's."""
    bins = EDGES.size - 1
    # The edges are 10^(k/200): the bin index is a floor, no search needed.
    index = np.clip(np.floor(200 * np.log10(values)).astype(int) + 400, 0, bins - 1)
    if values.ndim == 1:
        return np.bincount(index, minlength=bins)
    flat = (index + bins * np.arange(values.shape[0])[:, None]).ravel()
    return np.bincount(flat, minlength=bins * values.shape[0]).reshape(-1, bins)


def true_quantile(q: float, shift: float = 1.0) -> float:
    return shift * math.exp(MU + SIGMA * stats.norm.ppf(q))


@pytest.mark.parametrize("q", [0.5, 0.95, 0.99])
def test_estimate_is_within_one_bin_of_numpy_percentile_on_the_rows(q):
    rows = np.random.default_rng(1).lognormal(MU, SIGMA, 50_000)
    r = histogram_quantile(EDGES, binned(rows), q)
    exact = np.percentile(rows, 100 * q)
    assert r.status is Status.OK
    assert abs(r.estimate - exact) <= exact * (10 ** (1 / 200) - 1)  # one bin's width


def test_ranks_for_the_median_of_100_match_the_published_table():
    # Campbell & Gardner (1988), "Calculating confidence intervals for some non-parametric
    # analyses", BMJ 296:1454-1456, Table 1: n = 100, 95 % interval from the 40th to the
    # 61st observation.
    lower, upper = order_statistic_ranks(100, 0.5)
    assert (int(lower), int(upper)) == (40, 61)


@pytest.mark.parametrize(("n", "q", "alpha"), [(50, 0.5, 0.05), (1000, 0.95, 0.05), (37, 0.9, 0.1)])
def test_ranks_bracket_the_quantile_with_each_tail_at_most_half_alpha(n, q, alpha):
    lower, upper = (int(v) for v in order_statistic_ranks(n, q, alpha))
    binom = stats.binom(n, q)
    assert binom.cdf(lower - 1) <= alpha / 2  # P(B < l)
    assert binom.sf(upper - 1) <= alpha / 2  # P(B >= u)
    # And they are the tightest such ranks: one step inward breaks a tail.
    assert binom.cdf(lower) > alpha / 2
    assert binom.sf(upper - 2) > alpha / 2


def test_interval_contains_the_exact_order_statistic_interval_of_the_rows_and_one_bin_more():
    rows = np.sort(np.random.default_rng(2).lognormal(MU, SIGMA, 20_000))
    r = histogram_quantile(EDGES, binned(rows), 0.95)
    lower_rank = int(stats.binom.ppf(0.025, rows.size, 0.95))
    upper_rank = int(stats.binom.ppf(0.975, rows.size, 0.95)) + 1
    exact = rows[lower_rank - 1], rows[upper_rank - 1]
    width = 10 ** (1 / 200)
    assert r.ci[0] <= exact[0] <= r.ci[0] * width
    assert r.ci[1] / width <= exact[1] <= r.ci[1]


def test_per_arm_interval_covers_the_true_quantile_at_least_nominally():
    rng = np.random.default_rng(3)
    sims, n = 4000, 300
    out = histogram_quantile_arrays(EDGES, binned(rng.lognormal(MU, SIGMA, (sims, n))), 0.95)
    truth = true_quantile(0.95)
    coverage = np.mean((out["lower"] <= truth) & (truth <= out["upper"]))
    # Exact binomial ranks are conservative and widening to bin edges adds a little more;
    # 4000 runs give a standard error of ~0.0034 on the coverage.
    assert 0.945 <= coverage <= 0.985


def test_difference_interval_covers_the_true_difference_about_nominally():
    rng = np.random.default_rng(4)
    sims, n, shift = 2500, 1500, 1.1
    control = binned(rng.lognormal(MU, SIGMA, (sims, n)))
    treatment = binned(rng.lognormal(MU + math.log(shift), SIGMA, (sims, n)))
    c = histogram_quantile_arrays(EDGES, control, 0.95)
    t = histogram_quantile_arrays(EDGES, treatment, 0.95)
    se = np.sqrt(c["se"] ** 2 + t["se"] ** 2)
    diff = t["estimate"] - c["estimate"]
    truth = true_quantile(0.95, shift) - true_quantile(0.95)
    coverage = np.mean(np.abs(diff - truth) <= stats.norm.ppf(0.975) * se)
    assert 0.93 <= coverage <= 0.97  # normal approximation: nominal within ~4 standard errors
    # quantile_difference is that same normal comparison, on one of the simulated pairs.
    r = quantile_difference(EDGES, control[0], treatment[0], 0.95)
    assert r.diff == pytest.approx(diff[0])
    assert r.diff_ci[1] - r.diff_ci[0] == pytest.approx(2 * stats.norm.ppf(0.975) * se[0])


def test_difference_p_value_is_the_normal_tail_of_the_estimates_over_their_standard_errors():
    rng = np.random.default_rng(5)
    c_counts = binned(rng.lognormal(MU, SIGMA, 5000))
    t_counts = binned(rng.lognormal(MU + 0.03, SIGMA, 5000))
    c = histogram_quantile(EDGES, c_counts, 0.99)
    t = histogram_quantile(EDGES, t_counts, 0.99)
    z = (t.estimate - c.estimate) / math.hypot(c.se, t.se)
    r = quantile_difference(EDGES, c_counts, t_counts, 0.99)
    assert r.p_value == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-9)
    larger = quantile_difference(EDGES, c_counts, t_counts, 0.99, alternative="larger")
    assert larger.p_value == pytest.approx(stats.norm.sf(z), rel=1e-9)
    assert larger.diff_ci[1] == math.inf
    assert r.rel_lift == pytest.approx(t.estimate / c.estimate - 1)


def test_a_shifted_arm_is_detected_and_an_identical_one_is_not():
    rng = np.random.default_rng(6)
    base = binned(rng.lognormal(MU, SIGMA, 20_000))
    same = binned(rng.lognormal(MU, SIGMA, 20_000))
    slower = binned(rng.lognormal(MU + math.log(1.2), SIGMA, 20_000))
    assert quantile_difference(EDGES, base, slower, 0.95).p_value < 1e-6
    assert quantile_difference(EDGES, base, same, 0.95).p_value > 0.01


def test_a_quantile_in_the_open_last_bin_has_an_infinite_upper_end():
    counts = np.zeros(EDGES.size - 1)
    counts[500], counts[-1] = 90, 10  # 10 % of the calls beyond 100 s (timeouts)
    r = histogram_quantile(EDGES, counts, 0.95)
    assert r.ci[1] == math.inf
    assert r.estimate >= EDGES[-2]


def test_too_few_values_leave_an_end_open_and_say_so():
    counts = np.zeros(EDGES.size - 1)
    counts[600] = 20  # 20 values: p99 cannot be bounded above
    r = histogram_quantile(EDGES, counts, 0.99)
    assert r.status is Status.TOO_FEW
    assert r.ci[1] == math.inf
    assert math.isnan(r.se)
    d = quantile_difference(EDGES, counts, counts, 0.99)
    assert d.status is Status.TOO_FEW
    assert math.isnan(d.p_value)


def test_an_empty_arm_is_a_status_not_an_error():
    counts = np.zeros(EDGES.size - 1)
    assert histogram_quantile(EDGES, counts, 0.5).status is Status.EMPTY_ARM
    full = counts.copy()
    full[600] = 1000
    d = quantile_difference(EDGES, counts, full, 0.5)
    assert d.status is Status.EMPTY_ARM
    assert math.isnan(d.control)


def test_histogram_mean_is_within_half_a_bin_of_the_mean_of_the_rows():
    rows = np.random.default_rng(7).lognormal(MU, SIGMA, 100_000)
    m = histogram_mean(EDGES, binned(rows))
    assert m.n == rows.size
    assert m.mean == pytest.approx(rows.mean(), rel=0.003)
    assert m.variance == pytest.approx(rows.var(ddof=1), rel=0.01)


@pytest.mark.parametrize("q", [0.0, 1.0, 95])
def test_a_quantile_outside_zero_one_is_refused(q):
    with pytest.raises(ValueError, match=r"q=.* must lie strictly between 0 and 1"):
        histogram_quantile(EDGES, np.ones(EDGES.size - 1), q)


def test_counts_that_do_not_fit_the_edges_are_refused():
    with pytest.raises(ValueError, match=r"one count per bin: len\(edges\) - 1 = 1400"):
        histogram_quantile(EDGES, np.ones(EDGES.size), 0.5)


def test_negative_counts_and_unsorted_edges_are_refused():
    with pytest.raises(ValueError, match="counts must be finite and >= 0"):
        histogram_quantile([0, 1, 2], [1, -1], 0.5)
    with pytest.raises(ValueError, match=r"edges=.* must be >= 2 increasing finite numbers"):
        histogram_quantile([0, 2, 1], [1, 1], 0.5)
