"""Non-inferiority tests against statsmodels (shifted null) and a seeded simulation."""

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats import proportion as sm_proportion

from champion.stats.noninferiority import noninferiority_mean, noninferiority_proportion
from champion.stats.results import Status


def test_lower_is_better_proportion_matches_statsmodels_wald_with_margin():
    # False positives: challenger may not exceed the champion by more than 0.005.
    ours = noninferiority_proportion(300, 10_000, 310, 10_000, margin=0.005, direction="lower")
    oracle = sm_proportion.test_proportions_2indep(
        310,
        10_000,
        300,
        10_000,
        value=0.005,
        method="wald",
        alternative="smaller",
        correction=False,
    )
    assert ours.statistic == pytest.approx(oracle.statistic, rel=1e-10)
    assert ours.p_value == pytest.approx(oracle.pvalue, rel=1e-9)


def test_higher_is_better_proportion_matches_statsmodels_wald_with_margin():
    ours = noninferiority_proportion(1500, 10_000, 1480, 10_000, margin=0.02)
    oracle = sm_proportion.test_proportions_2indep(
        1480,
        10_000,
        1500,
        10_000,
        value=-0.02,
        method="wald",
        alternative="larger",
        correction=False,
    )
    assert ours.p_value == pytest.approx(oracle.pvalue, rel=1e-9)
    assert ours.noninferior


def test_mean_noninferiority_equals_welch_on_shifted_treatment():
    ours = noninferiority_mean(12.0, 16.0, 400, 12.3, 20.0, 380, margin=0.5, direction="lower")
    oracle = stats.ttest_ind_from_stats(
        12.3 - 0.5, 20.0**0.5, 380, 12.0, 16.0**0.5, 400, equal_var=False, alternative="less"
    )
    assert ours.p_value == pytest.approx(oracle.pvalue, rel=1e-8)


def test_bound_and_p_value_agree_on_the_decision():
    r = noninferiority_proportion(300, 10_000, 330, 10_000, margin=0.005, direction="lower")
    assert r.noninferior == (r.bound < r.margin)


def test_at_the_margin_the_test_rejects_alpha_of_the_time():
    rng = np.random.default_rng(9)
    n, p_c, margin = 20_000, 0.03, 0.005
    x_c = rng.binomial(n, p_c, 10_000)
    x_t = rng.binomial(n, p_c + margin, 10_000)
    rate = np.mean(
        [
            noninferiority_proportion(a, n, b, n, margin=margin, direction="lower").noninferior
            for a, b in zip(x_c, x_t, strict=True)
        ]
    )
    assert 0.04 <= rate <= 0.06


def test_zero_variance_is_a_status():
    assert noninferiority_proportion(0, 100, 0, 100, margin=0.01).status is Status.ZERO_VARIANCE


def test_bad_direction_is_refused():
    with pytest.raises(ValueError, match=r"direction='up'.* 'higher' or 'lower'"):
        noninferiority_proportion(1, 10, 1, 10, margin=0.1, direction="up")
