"""Power and sample size against statsmodels, the seeds' worked examples and simulations."""

import math

import numpy as np
import pytest
from statsmodels.stats.power import NormalIndPower, TTestIndPower, normal_sample_size_one_tail

from champion.stats.frequentist import proportion_test, welch_test
from champion.stats.power import (
    days_needed,
    mde_mean,
    mde_proportion,
    optimal_ratio_proportion,
    power_mean,
    power_proportion,
    sample_size_mean,
    sample_size_proportion,
)
from champion.stats.results import SampleSize

Z = 1.959963984540054  # z_{0.975}


@pytest.mark.parametrize(
    ("mde", "per_group"),
    [(0.005, 31_231), (0.01, 8_155), (0.015, 3_778), (0.02, 2_210), (0.03, 1_057), (0.05, 432)],
)
def test_seed_trade_off_table_for_five_percent_baseline(mde, per_group):
    # Seed 002's MDE trade-off table (unpooled formula, alpha 0.05 two-sided, power 0.8).
    size = sample_size_proportion(0.05, mde)
    assert size.n_control == size.n_treatment == per_group
    assert size.total == 2 * per_group


@pytest.mark.parametrize("baseline", [0.02, 0.12, 0.5])
@pytest.mark.parametrize("pooled", [False, True])
def test_proportion_size_matches_statsmodels_normal_sample_size(baseline, pooled):
    p1, p2, ratio = baseline, baseline + 0.02, 0.25
    p_bar = (p1 + ratio * p2) / (1 + ratio)
    std_alt = math.sqrt(p1 * (1 - p1) + p2 * (1 - p2) / ratio)
    std_null = math.sqrt(p_bar * (1 - p_bar) * (1 + 1 / ratio)) if pooled else std_alt
    oracle = normal_sample_size_one_tail(
        0.02, 0.8, 0.025, std_null=std_null, std_alternative=std_alt
    )
    ours = sample_size_proportion(baseline, 0.02, ratio=ratio, pooled=pooled)
    assert ours.n_control == math.ceil(oracle)
    assert ours.n_treatment == math.ceil(oracle * ratio)


def test_seed_story_sample_size_is_not_1800():
    # Seed 000 prints "about 1800" per group for baseline 12%, MDE 2 points. Its own code
    # (TTestIndPower on d / sqrt(p q)) returns 4,146; the unpooled z-test needs 4,435.
    seed_code = TTestIndPower().solve_power(
        effect_size=0.02 / math.sqrt(0.12 * 0.88), nobs1=None, alpha=0.05, power=0.8
    )
    assert math.ceil(seed_code) == 4146
    assert sample_size_proportion(0.12, 0.02).n_control == 4435
    assert sample_size_proportion(0.12, 0.02, pooled=True).n_control == 4438


def test_fraud_example_95_5_allocation():
    # Seed 003: baseline 0.15, detect a 10% relative lift, 5% of traffic to the challenger.
    size = sample_size_proportion(0.15, 0.10, relative=True, ratio=0.05 / 0.95)
    assert (size.n_control, size.n_treatment) == (95_765, 5_041)
    balanced = sample_size_proportion(0.15, 0.10, relative=True)
    assert balanced.n_control == 9_254
    # An unequal split costs units: 100,806 in all against 18,508 at 50/50.
    assert size.total > 5 * balanced.total


def test_optimal_ratio_minimises_the_total_on_a_grid():
    best = optimal_ratio_proportion(0.05, 0.03)
    grid = np.linspace(0.5, 2.0, 3001)
    exact = [
        (0.05 * 0.95 + 0.08 * 0.92 / r) * (1 + r) for r in grid
    ]  # total units up to the constant (z_a + z_b)^2 / d^2
    assert best == pytest.approx(grid[int(np.argmin(exact))], abs=1e-3)


def test_several_challengers_split_alpha_by_bonferroni():
    assert sample_size_proportion(0.1, 0.01, n_challengers=3) == sample_size_proportion(
        0.1, 0.01, alpha=0.05 / 3
    )


def test_one_sided_needs_fewer_units():
    one = sample_size_proportion(0.1, 0.01, alternative="larger")
    oracle = normal_sample_size_one_tail(0.01, 0.8, 0.05, std_null=math.sqrt(0.09 + 0.11 * 0.89))
    assert one.n_control == math.ceil(oracle)
    assert one.n_control < sample_size_proportion(0.1, 0.01).n_control


@pytest.mark.parametrize("ratio", [1.0, 0.5, 3.0])
def test_mean_size_matches_statsmodels_normal_ind_power(ratio):
    ours = sample_size_mean(12.0, 1.5, ratio=ratio)
    oracle = NormalIndPower().solve_power(
        effect_size=1.5 / 12.0, nobs1=None, alpha=0.05, power=0.8, ratio=ratio
    )
    # statsmodels counts the far tail too; the difference is far below one unit.
    assert ours.n_control == math.ceil(oracle)


def test_relative_mean_mde_uses_baseline_mean():
    assert sample_size_mean(10.0, 0.05, relative=True, baseline_mean=20.0) == sample_size_mean(
        10.0, 1.0
    )


@pytest.mark.parametrize("n", [500, 5_000, 20_000])
def test_power_proportion_matches_statsmodels_normal_ind_power(n):
    p1, p2 = 0.05, 0.06
    es = (p2 - p1) / math.sqrt((p1 * (1 - p1) + p2 * (1 - p2)) / 2)
    oracle = NormalIndPower().power(effect_size=es, nobs1=n, alpha=0.05, ratio=1.0)
    assert power_proportion(0.05, 0.01, n) == pytest.approx(oracle, rel=1e-10)


def test_power_mean_matches_statsmodels():
    oracle = NormalIndPower().power(effect_size=0.1, nobs1=900, alpha=0.05, ratio=2.0)
    assert power_mean(10.0, 1.0, 900, ratio=2.0) == pytest.approx(oracle, rel=1e-10)


def test_mde_inverts_sample_size():
    d = mde_proportion(0.05, 8155)
    assert sample_size_proportion(0.05, d).n_control == 8155
    assert mde_proportion(0.05, 8155, relative=True) == pytest.approx(d / 0.05)
    m = mde_mean(12.0, 1000, ratio=0.5)
    assert sample_size_mean(12.0, m, ratio=0.5).n_control == 1000


def test_mde_is_nan_when_nothing_below_one_is_detectable():
    assert math.isnan(mde_proportion(0.9, 3))


def test_days_needed_follows_traffic_shares():
    size = sample_size_proportion(0.15, 0.10, relative=True, ratio=0.05 / 0.95)
    # 5,041 challenger units at 5% of 20,000 a day = 1,000 a day: 6 days.
    assert days_needed(size, 20_000, shares=(0.95, 0.05)) == 6
    assert days_needed(SampleSize(8155, 8155), 1000) == 17


def test_simulated_power_of_pooled_z_at_planned_n_is_planned_power():
    rng = np.random.default_rng(42)
    size = sample_size_proportion(0.05, 0.01)
    sims = 20_000
    x_c = rng.binomial(size.n_control, 0.05, sims)
    x_t = rng.binomial(size.n_treatment, 0.06, sims)
    hits = np.mean(
        [
            proportion_test(a, size.n_control, b, size.n_treatment).p_value < 0.05
            for a, b in zip(x_c, x_t, strict=True)
        ]
    )
    # Monte Carlo SE at 20,000 runs is 0.003; the design promises 0.80 +- 2 points.
    assert hits == pytest.approx(0.80, abs=0.02)


def test_simulated_power_with_95_5_allocation_is_planned_power():
    rng = np.random.default_rng(43)
    size = sample_size_proportion(0.15, 0.10, relative=True, ratio=0.05 / 0.95)
    x_c = rng.binomial(size.n_control, 0.15, 20_000)
    x_t = rng.binomial(size.n_treatment, 0.165, 20_000)
    hits = np.mean(
        [
            proportion_test(a, size.n_control, b, size.n_treatment, pooled=False).p_value < 0.05
            for a, b in zip(x_c, x_t, strict=True)
        ]
    )
    assert hits == pytest.approx(0.80, abs=0.02)


def test_simulated_power_of_welch_at_planned_n_is_planned_power():
    rng = np.random.default_rng(44)
    size = sample_size_mean(5.0, 0.5)
    n, sims = size.n_control, 20_000
    # Sufficient statistics of normal samples drawn directly: mean ~ N, (n-1) s^2 / sigma^2 ~ chi2.
    m_c = rng.normal(20.0, 5.0 / math.sqrt(n), sims)
    m_t = rng.normal(20.5, 5.0 / math.sqrt(n), sims)
    v_c = 25.0 * rng.chisquare(n - 1, sims) / (n - 1)
    v_t = 25.0 * rng.chisquare(n - 1, sims) / (n - 1)
    hits = np.mean(
        [
            welch_test(a, b, n, c, d, n).p_value < 0.05
            for a, b, c, d in zip(m_c, v_c, m_t, v_t, strict=True)
        ]
    )
    assert hits == pytest.approx(0.80, abs=0.02)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"baseline": 1.5, "mde": 0.01}, r"baseline=1.5.* proportion in \[0, 1\]"),
        ({"baseline": 0.05, "mde": 0.0}, r"mde=0.0.* non-zero"),
        ({"baseline": 0.95, "mde": 0.1}, r"mde=0.1.* outside \(0, 1\)"),
        ({"baseline": 0.05, "mde": 0.01, "alpha": 0.0}, r"alpha=0.0.* strictly between 0 and 1"),
        ({"baseline": 0.05, "mde": 0.01, "power": 1.0}, r"power=1.0.* strictly between 0 and 1"),
        ({"baseline": 0.05, "mde": 0.01, "ratio": -1}, r"ratio=-1.* must be > 0"),
    ],
)
def test_bad_planner_input_names_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        sample_size_proportion(**kwargs)


def test_days_needed_rejects_zero_traffic():
    with pytest.raises(ValueError, match=r"daily_units=0.* must be > 0"):
        days_needed(SampleSize(10, 10), 0)
