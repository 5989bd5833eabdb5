"""proportion_test and welch_test against statsmodels/scipy, plus seeded A/A simulations."""

import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats import proportion as sm_proportion

from champion.stats.frequentist import proportion_test, welch_test
from champion.stats.results import Status

CASES = [(180, 1800, 210, 1800), (31, 1000, 38, 1000), (950, 95000, 60, 5000), (0, 10, 3, 12)]


@pytest.mark.parametrize(("x_c", "n_c", "x_t", "n_t"), CASES)
@pytest.mark.parametrize("alternative", ["two-sided", "larger", "smaller"])
def test_pooled_z_matches_statsmodels_proportions_ztest(x_c, n_c, x_t, n_t, alternative):
    ours = proportion_test(x_c, n_c, x_t, n_t, alternative=alternative)
    z, p = sm_proportion.proportions_ztest([x_t, x_c], [n_t, n_c], alternative=alternative)
    assert ours.statistic == pytest.approx(z, rel=1e-10)
    assert ours.p_value == pytest.approx(p, rel=1e-9)


@pytest.mark.parametrize(("x_c", "n_c", "x_t", "n_t"), CASES[:3])
def test_unpooled_z_and_wald_ci_match_statsmodels(x_c, n_c, x_t, n_t):
    ours = proportion_test(x_c, n_c, x_t, n_t, pooled=False)
    oracle = sm_proportion.test_proportions_2indep(
        x_t, n_t, x_c, n_c, method="wald", correction=False
    )
    low, high = sm_proportion.confint_proportions_2indep(
        x_t, n_t, x_c, n_c, method="wald", correction=False
    )
    assert ours.statistic == pytest.approx(oracle.statistic, rel=1e-10)
    assert ours.p_value == pytest.approx(oracle.pvalue, rel=1e-9)
    assert ours.diff_ci == pytest.approx((low, high), rel=1e-10)


def test_seed_story_chi_square_example_is_not_significant_by_z_either():
    # Seed 000 calls 180/1800 vs 210/1800 "statistically significant"; it is not (p = 0.108).
    r = proportion_test(180, 1800, 210, 1800)
    assert r.p_value == pytest.approx(0.10767, abs=1e-5)
    assert not r.significant


def test_one_sided_ci_has_an_infinite_end():
    r = proportion_test(100, 1000, 130, 1000, alternative="larger")
    assert r.diff_ci[1] == math.inf
    assert r.diff_ci[0] == pytest.approx(
        0.03 - stats.norm.ppf(0.95) * math.sqrt(0.1 * 0.9 / 1000 + 0.13 * 0.87 / 1000), rel=1e-10
    )


def test_relative_lift_ci_by_delta_method_covers_the_true_lift_95_percent():
    rng = np.random.default_rng(7)
    p_c, p_t, n = 0.10, 0.12, 20_000
    x_c = rng.binomial(n, p_c, 4000)
    x_t = rng.binomial(n, p_t, 4000)
    covered = [
        lo <= p_t / p_c - 1 <= hi
        for lo, hi in (
            proportion_test(a, n, b, n).rel_lift_ci for a, b in zip(x_c, x_t, strict=True)
        )
    ]
    # Monte Carlo SE of a 95% coverage over 4000 runs is 0.0034: allow 3 SE.
    assert np.mean(covered) == pytest.approx(0.95, abs=0.011)


def test_aa_proportion_z_rejects_five_percent():
    rng = np.random.default_rng(2024)
    sims, n, p = 10_000, 5_000, 0.05
    x_c, x_t = rng.binomial(n, p, sims), rng.binomial(n, p, sims)
    rejected = np.mean(
        [proportion_test(a, n, b, n).p_value < 0.05 for a, b in zip(x_c, x_t, strict=True)]
    )
    assert 0.04 <= rejected <= 0.06


def test_aa_unpooled_z_rejects_five_percent():
    rng = np.random.default_rng(2025)
    sims, n, p = 10_000, 5_000, 0.2
    x_c, x_t = rng.binomial(n, p, sims), rng.binomial(n, p, sims)
    rejected = np.mean(
        [
            proportion_test(a, n, b, n, pooled=False).p_value < 0.05
            for a, b in zip(x_c, x_t, strict=True)
        ]
    )
    assert 0.04 <= rejected <= 0.06


def test_no_conversions_in_either_arm_is_a_status_not_an_error():
    r = proportion_test(0, 500, 0, 700)
    assert r.status is Status.ZERO_VARIANCE
    assert math.isnan(r.p_value)
    assert math.isnan(r.statistic)
    assert r.diff == 0.0


def test_zero_control_rate_flags_relative_lift_undefined():
    r = proportion_test(0, 500, 5, 500)
    assert r.status is Status.ZERO_BASELINE
    assert math.isnan(r.rel_lift)
    assert r.p_value < 0.05


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((1, 0, 1, 10), {}, r"n_control=0.* must be >= 1"),
        ((11, 10, 1, 10), {}, r"x_control=11.* must be <= n_control"),
        ((1, 10, -1, 10), {}, r"x_treatment=-1.* must be >= 0"),
        ((1, 10, 1, 10), {"alpha": 1.5}, r"alpha=1.5.* strictly between 0 and 1"),
        ((1, 10, 1, 10), {"alternative": "bigger"}, r"alternative='bigger'.* two-sided"),
    ],
)
def test_bad_proportion_input_names_the_argument(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        proportion_test(*args, **kwargs)


@pytest.mark.parametrize("alternative", ["two-sided", "larger", "smaller"])
def test_welch_matches_scipy_ttest_ind_from_stats(alternative):
    ours = welch_test(10.0, 4.0, 100, 10.9, 9.0, 120, alternative=alternative)
    oracle = stats.ttest_ind_from_stats(
        10.9,
        3.0,
        120,
        10.0,
        2.0,
        100,
        equal_var=False,
        alternative={"two-sided": "two-sided", "larger": "greater", "smaller": "less"}[alternative],
    )
    assert ours.statistic == pytest.approx(oracle.statistic, rel=1e-10)
    assert ours.p_value == pytest.approx(oracle.pvalue, rel=1e-8)


def test_welch_ci_matches_scipy_on_the_rows():
    rng = np.random.default_rng(3)
    a, b = rng.normal(5, 2, 300), rng.normal(5.4, 3, 250)
    ours = welch_test(a.mean(), a.var(ddof=1), a.size, b.mean(), b.var(ddof=1), b.size)
    oracle = stats.ttest_ind(b, a, equal_var=False)
    ci = oracle.confidence_interval(0.95)
    assert ours.diff_ci == pytest.approx((ci.low, ci.high), rel=1e-9)
    assert ours.p_value == pytest.approx(oracle.pvalue, rel=1e-9)


def test_aa_welch_rejects_five_percent_on_skewed_revenue():
    rng = np.random.default_rng(11)
    sims, n = 10_000, 400
    a = rng.lognormal(0, 1, (sims, n))
    b = rng.lognormal(0, 1, (sims, n))
    ma, va, mb, vb = a.mean(1), a.var(1, ddof=1), b.mean(1), b.var(1, ddof=1)
    rejected = np.mean(
        [welch_test(*row[:2], n, *row[2:], n).p_value < 0.05 for row in np.c_[ma, va, mb, vb]]
    )
    assert 0.04 <= rejected <= 0.06


def test_welch_zero_variance_and_single_unit_are_statuses():
    assert welch_test(3.0, 0.0, 10, 3.0, 0.0, 10).status is Status.ZERO_VARIANCE
    r = welch_test(3.0, 0.0, 1, 4.0, 1.0, 10)
    assert r.status is Status.TOO_FEW
    assert math.isnan(r.p_value)


def test_welch_negative_variance_is_refused():
    with pytest.raises(ValueError, match=r"var_t=-1.0.* must be >= 0"):
        welch_test(1.0, 1.0, 10, 1.0, -1.0, 10)
