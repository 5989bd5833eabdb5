"""proportion_ci, paired_proportion_test, psi: against statsmodels, numpy rows, closed forms."""

import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.proportion import proportion_confint

from champion.stats.drift import (
    paired_proportion_test,
    proportion_ci,
    psi,
    psi_reading,
)
from champion.stats.frequentist import proportion_test
from champion.stats.results import Status


@pytest.mark.parametrize(("x", "n"), [(81, 100), (0, 20), (20, 20), (3, 7), (4_321, 100_000)])
@pytest.mark.parametrize("alpha", [0.05, 0.1])
def test_wilson_interval_matches_statsmodels(x, n, alpha):
    ours = proportion_ci(x, n, alpha=alpha)
    assert ours.ci == pytest.approx(proportion_confint(x, n, alpha=alpha, method="wilson"))
    assert ours.rate == x / n


@pytest.mark.parametrize(("x", "n"), [(81, 100), (1, 50), (0, 20)])
def test_wald_interval_matches_statsmodels_normal_clipped(x, n):
    ours = proportion_ci(x, n, method="wald")
    assert ours.ci == pytest.approx(proportion_confint(x, n, method="normal"))


def test_wilson_interval_is_not_a_point_at_zero_events():
    assert proportion_ci(0, 50).ci[1] > 0.05  # Wald would say (0, 0)


def test_rate_of_no_trials_is_nan_with_empty_status():
    r = proportion_ci(0, 0)
    assert r.status is Status.EMPTY_ARM
    assert math.isnan(r.rate)
    assert all(math.isnan(v) for v in r.ci)


def test_successes_above_n_are_refused():
    with pytest.raises(ValueError, match=r"successes=11\.0 is invalid: must be <= n \(10\)"):
        proportion_ci(11, 10)


def test_unknown_interval_method_is_refused():
    with pytest.raises(ValueError, match="method='exact' is invalid: must be 'wilson' or 'wald'"):
        proportion_ci(1, 10, method="exact")


def _paired_rows(rng, n, p_c, p_t, rho):
    """Correlated binary pairs from thresholded correlated normals."""
    cov = [[1.0, rho], [rho, 1.0]]
    z = rng.multivariate_normal([0.0, 0.0], cov, size=n)
    return (z[:, 0] < stats.norm.ppf(p_c)).astype(int), (z[:, 1] < stats.norm.ppf(p_t)).astype(int)


def test_paired_difference_ci_is_the_mean_difference_of_the_rows():
    rng = np.random.default_rng(11)
    c, t = _paired_rows(rng, 5_000, 0.05, 0.08, 0.6)
    r = paired_proportion_test(c.sum(), t.sum(), (c & t).sum(), c.size)
    d = t - c
    se = d.std(ddof=0) / math.sqrt(d.size)
    z = stats.norm.ppf(0.975)
    assert r.diff == pytest.approx(d.mean(), abs=1e-15)
    assert r.diff_ci == pytest.approx((d.mean() - z * se, d.mean() + z * se), rel=1e-12)
    assert (r.control, r.treatment) == (c.mean(), t.mean())


@pytest.mark.parametrize(("b", "c"), [(25, 10), (3, 9), (40, 41)])
def test_paired_statistic_is_mcnemar_without_correction(b, c):
    both, neither = 17, 900
    r = paired_proportion_test(c + both, b + both, both, b + c + both + neither)
    oracle = mcnemar([[neither, c], [b, both]], exact=False, correction=False)
    assert r.statistic**2 == pytest.approx(oracle.statistic, rel=1e-12)
    assert r.p_value == pytest.approx(oracle.pvalue, rel=1e-10)
    assert math.copysign(1, r.statistic) == math.copysign(1, b - c)


def test_paired_relative_lift_ci_equals_independent_one_when_uncorrelated():
    # x_both = x_c x_t / n makes the sample covariance of the two rates zero: the delta
    # method then reduces to the independent-samples one of proportion_test.
    n, x_c, x_t = 1000, 40, 50
    r = paired_proportion_test(x_c, x_t, x_c * x_t / n, n)
    independent = proportion_test(x_c, n, x_t, n)
    assert r.rel_lift == pytest.approx(independent.rel_lift)
    assert r.rel_lift_ci == pytest.approx(independent.rel_lift_ci, rel=1e-12)


@pytest.mark.slow
def test_paired_ci_covers_the_true_difference_95_percent_of_the_time():
    # 4,000 seeded experiments of 2,000 correlated pairs; the binomial SE of the coverage
    # is 0.0034, so 0.95 ± 0.012 is a 3.5-SE band.
    rng = np.random.default_rng(2024)
    runs, n, p_c, p_t, rho = 4_000, 2_000, 0.04, 0.06, 0.5
    z1 = rng.standard_normal((runs, n), dtype=np.float32)
    z2 = rho * z1 + math.sqrt(1 - rho**2) * rng.standard_normal((runs, n), dtype=np.float32)
    c = z1 < stats.norm.ppf(p_c)
    t = z2 < stats.norm.ppf(p_t)
    x_c, x_t, x_b = c.sum(1), t.sum(1), (c & t).sum(1)
    b, cc = x_t - x_b, x_c - x_b
    diff = (b - cc) / n
    se = np.sqrt(b + cc - (b - cc) ** 2 / n) / n
    covered = np.abs(diff - (p_t - p_c)) <= stats.norm.ppf(0.975) * se
    assert covered.mean() == pytest.approx(0.95, abs=0.012)
    # and the function gives those same intervals (a few runs checked one by one)
    for i in range(3):
        r = paired_proportion_test(x_c[i], x_t[i], x_b[i], n)
        half = stats.norm.ppf(0.975) * se[i]
        assert r.diff_ci == pytest.approx((diff[i] - half, diff[i] + half), rel=1e-12)


def test_paired_ci_is_narrower_than_the_independent_one_for_correlated_rows():
    # 40 and 55 events among 1,000 pairs, 35 shared: b = 20, c = 5. Closed form of the
    # width ratio: sqrt(((b + c)/n - d²) / (p_c q_c + p_t q_t)) = sqrt(0.024775/0.090375).
    r = paired_proportion_test(40, 55, 35, 1000)
    independent = proportion_test(40, 1000, 55, 1000)
    assert r.diff == pytest.approx(independent.diff)
    ratio = (r.diff_ci[1] - r.diff_ci[0]) / (independent.diff_ci[1] - independent.diff_ci[0])
    assert ratio == pytest.approx(math.sqrt(0.024775 / 0.090375), rel=1e-12)
    assert ratio < 0.53


def test_no_discordant_pair_is_zero_variance():
    r = paired_proportion_test(7, 7, 7, 100)
    assert r.status is Status.ZERO_VARIANCE
    assert r.diff == 0.0
    assert math.isnan(r.p_value)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((5, 5, 6, 100), r"x_both=6\.0 is invalid: must be <= both x_control and x_treatment"),
        ((60, 60, 10, 100), r"x_both=10\.0 is invalid: is too small"),
        ((101, 5, 0, 100), r"x_control=101\.0 is invalid: must be <= n \(100\)"),
        ((0, 0, 0, 0), r"n=0 is invalid: must be >= 1"),
    ],
)
def test_inconsistent_paired_counts_are_refused(args, message):
    with pytest.raises(ValueError, match=message):
        paired_proportion_test(*args)


def test_psi_is_the_direct_sum_over_bins():
    e = np.array([120, 95, 101, 88, 96])
    a = np.array([80, 90, 110, 100, 120])
    pe, pa = e / e.sum(), a / a.sum()
    oracle = np.sum((pa - pe) * np.log(pa / pe))
    r = psi(e, a)
    assert r.value == pytest.approx(oracle, rel=1e-12)
    assert r.expected == pytest.approx(tuple(pe))
    assert r.bins == 5


def test_psi_is_symmetric_and_zero_for_the_same_shares():
    e, a = [10, 20, 30, 40], [25, 25, 25, 25]
    assert psi(e, a).value == pytest.approx(psi(a, e).value, rel=1e-12)
    assert psi([1, 2, 3], [100, 200, 300]).value == 0.0


def test_psi_empty_bin_counts_as_epsilon():
    r = psi([50, 50, 0], [40, 40, 20], epsilon=1e-4)
    pe = np.array([0.5, 0.5, 1e-4])
    pa = np.array([0.4, 0.4, 0.2])
    assert r.value == pytest.approx(np.sum((pa - pe) * np.log(pa / pe)), rel=1e-12)
    assert r.value > 0.25
    assert r.expected[2] == 0.0  # reported shares are the real ones


def test_psi_of_an_empty_side_is_nan_with_status():
    r = psi([0, 0], [3, 4])
    assert r.status is Status.EMPTY_ARM
    assert math.isnan(r.value)
    assert r.reading == "n/a"


@pytest.mark.parametrize(
    ("value", "reading"),
    [(0.0, "stable"), (0.0999, "stable"), (0.1, "moderate shift"), (0.25, "moderate shift"),
     (0.2501, "large shift"), (float("nan"), "n/a")],
)  # fmt: skip
def test_psi_reading_uses_the_usual_cut_points(value, reading):
    assert psi_reading(value) == reading


@pytest.mark.parametrize(
    ("expected", "actual", "message"),
    [
        ([1], [1], r"expected=\[1\] is invalid: must list the counts of at least two bins"),
        ([1, 2], [1, 2, 3], r"must have as many bins as expected \(2\)"),
        ([1, -2], [1, 2], r"counts must be finite and >= 0"),
    ],
)
def test_psi_bad_counts_are_refused(expected, actual, message):
    with pytest.raises(ValueError, match=message):
        psi(expected, actual)


def test_psi_epsilon_out_of_range_is_refused():
    with pytest.raises(ValueError, match=r"epsilon=0 is invalid: must lie strictly between 0"):
        psi([1, 2], [2, 1], epsilon=0)
