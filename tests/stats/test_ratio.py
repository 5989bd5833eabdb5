"""ratio_test and ratio_variance against row-level computations and seeded simulations."""

import math

import numpy as np
import pytest
from scipy import stats

from champion.stats.ratio import ratio_test, ratio_variance
from champion.stats.results import Status
from champion.stats.sufficient import RatioStats


def ratio_stats(num: np.ndarray, den: np.ndarray) -> list[RatioStats] | RatioStats:
    """Sums over the last axis: one RatioStats per row of a (sims, n) matrix, or one."""
    sums = (
        num.sum(-1),
        (num * num).sum(-1),
        den.sum(-1),
        (den * den).sum(-1),
        (num * den).sum(-1),
    )
    if num.ndim == 1:
        return RatioStats(num.size, *sums)
    n = np.full(num.shape[0], num.shape[-1])
    return [RatioStats(*row) for row in zip(n, *sums, strict=True)]


def sessions(rng: np.random.Generator, shape, rate: float = 1.0):
    """Revenue and sessions per user; a user's sessions share a per-user spend rate.

    Sessions are 1 + Poisson(2); the rate is Gamma with mean ``rate`` (CV 0.7), so the true
    revenue per session is ``rate`` and sessions of one user are correlated.
    """
    den = 1.0 + rng.poisson(2.0, shape)
    user_rate = rng.gamma(2.0, rate / 2.0, shape)
    num = user_rate * den + rng.normal(0.0, 0.5, shape) * np.sqrt(den)
    return num, den


def se_of(result) -> float:
    return result.diff / result.statistic


def linearised(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """Per-unit R + (num - R den) / mean(den): its mean is R, its variance the delta method's."""
    ratio = num.sum() / den.sum()
    return ratio + (num - ratio * den) / den.mean()


@pytest.fixture(scope="module")
def aa():
    """20,000 seeded A/A experiments with 200 users per arm."""
    rng = np.random.default_rng(2018)
    control = ratio_stats(*sessions(rng, (20_000, 200)))
    treatment = ratio_stats(*sessions(rng, (20_000, 200)))
    return control, treatment, [ratio_test(c, t) for c, t in zip(control, treatment, strict=True)]


def test_delta_se_matches_the_spread_of_the_difference_across_experiments(aa):
    *_, results = aa
    spread = np.std([r.diff for r in results])
    reported = math.sqrt(np.mean([se_of(r) ** 2 for r in results]))
    # The SD over 20,000 runs has a relative SE of 0.5%; allow 3%.
    assert reported == pytest.approx(spread, rel=0.03)


def test_ratio_variance_matches_the_spread_of_one_arms_ratio(aa):
    control, *_ = aa
    spread = np.std([c.ratio for c in control])
    # The variance at population moments: pooled over all runs, rescaled to 200 users.
    pooled = sum(control[1:], control[0])
    at_n = math.sqrt(ratio_variance(pooled) * pooled.n / 200)
    assert at_n == pytest.approx(spread, rel=0.03)


def test_aa_rejects_five_percent(aa):
    *_, results = aa
    # Binomial SE of a 5% rate over 20,000 runs is 0.0015: 0.04-0.06 is 6.5 SE.
    rejected = np.mean([r.p_value < 0.05 for r in results])
    assert 0.04 <= rejected <= 0.06


def test_aa_one_sided_rejects_five_percent(aa):
    control, treatment, _ = aa
    results = [
        ratio_test(c, t, alternative="larger") for c, t in zip(control, treatment, strict=True)
    ]
    rejected = np.mean([r.p_value < 0.05 for r in results])
    assert 0.04 <= rejected <= 0.06


def test_relative_lift_ci_covers_the_true_lift_95_percent():
    rng = np.random.default_rng(19)
    sims, n, lift = 10_000, 300, 0.05
    control = ratio_stats(*sessions(rng, (sims, n)))
    treatment = ratio_stats(*sessions(rng, (sims, n), rate=1 + lift))
    cis = [ratio_test(c, t).rel_lift_ci for c, t in zip(control, treatment, strict=True)]
    covered = np.mean([low <= lift <= high for low, high in cis])
    # Monte Carlo SE of 95% over 10,000 runs is 0.0022: allow 4 SE.
    assert covered == pytest.approx(0.95, abs=0.009)


@pytest.mark.parametrize("alternative", ["two-sided", "larger", "smaller"])
def test_sums_give_welch_t_on_the_linearised_rows(alternative):
    rng = np.random.default_rng(20)
    num_c, den_c = sessions(rng, 400)
    num_t, den_t = sessions(rng, 550, rate=1.08)
    r = ratio_test(ratio_stats(num_c, den_c), ratio_stats(num_t, den_t), alternative=alternative)
    scipy_alt = {"two-sided": "two-sided", "larger": "greater", "smaller": "less"}[alternative]
    welch = stats.ttest_ind(
        linearised(num_t, den_t), linearised(num_c, den_c), equal_var=False, alternative=scipy_alt
    )
    assert r.control == pytest.approx(num_c.sum() / den_c.sum(), rel=1e-12)
    assert r.treatment == pytest.approx(num_t.sum() / den_t.sum(), rel=1e-12)
    assert r.statistic == pytest.approx(welch.statistic, rel=1e-9)
    assert r.p_value == pytest.approx(welch.pvalue, rel=1e-8)
    assert r.method == "delta-ratio"


def test_ratio_variance_is_the_linearised_variance_over_n():
    rng = np.random.default_rng(21)
    num, den = sessions(rng, 1000)
    expected = np.var(linearised(num, den), ddof=1) / 1000
    assert ratio_variance(ratio_stats(num, den)) == pytest.approx(expected, rel=1e-9)


def test_ratio_variance_matches_the_delta_formula_by_hand():
    # n = 4, R = 10/8, mu_d = 2, s_nn = 5/3, s_nd = 1, s_dd = 2/3 (ddof = 1):
    # (5/3 - 2 * 1.25 * 1 + 1.25² * 2/3) / (4 * 2²) = (5/24) / 16.
    assert ratio_variance(RatioStats(4, 10.0, 30.0, 8.0, 18.0, 23.0)) == pytest.approx(5 / 384)


def test_unit_denominators_reduce_to_welch_on_the_numerator():
    rng = np.random.default_rng(22)
    num_c, num_t = rng.exponential(2.0, 80), rng.exponential(2.5, 90)
    ones_c, ones_t = np.ones(80), np.ones(90)
    r = ratio_test(ratio_stats(num_c, ones_c), ratio_stats(num_t, ones_t))
    welch = stats.ttest_ind(num_t, num_c, equal_var=False)
    assert r.statistic == pytest.approx(welch.statistic, rel=1e-9)
    assert r.p_value == pytest.approx(welch.pvalue, rel=1e-8)


def test_numerator_proportional_to_denominator_is_zero_variance_with_the_exact_diff():
    den_c, den_t = np.array([1.0, 3.0, 2.0, 5.0]), np.array([2.0, 4.0, 1.0])
    r = ratio_test(ratio_stats(0.3 * den_c, den_c), ratio_stats(0.4 * den_t, den_t))
    assert r.status == Status.ZERO_VARIANCE
    assert r.diff == pytest.approx(0.1, rel=1e-12)
    assert math.isnan(r.p_value)


def test_zero_numerator_in_control_is_zero_baseline():
    den = np.array([1.0, 2.0, 3.0])
    r = ratio_test(ratio_stats(np.zeros(3), den), ratio_stats(np.array([1.0, 1.0, 4.0]), den))
    assert r.status == Status.ZERO_BASELINE
    assert r.diff == pytest.approx(1.0)
    assert math.isnan(r.rel_lift)
    assert r.p_value == pytest.approx(
        stats.ttest_ind(
            linearised(np.array([1.0, 1.0, 4.0]), den), np.zeros(3), equal_var=False
        ).pvalue
    )


@pytest.mark.parametrize(
    ("control", "status"),
    [
        (RatioStats(0, 0.0, 0.0, 0.0, 0.0, 0.0), Status.EMPTY_ARM),
        (RatioStats(3, 0.0, 0.0, 0.0, 0.0, 0.0), Status.EMPTY_ARM),  # no sessions at all
        (RatioStats(1, 2.0, 4.0, 1.0, 1.0, 2.0), Status.TOO_FEW),
    ],
)
def test_arm_without_units_or_denominator_gives_nan_and_a_status(control, status):
    r = ratio_test(control, RatioStats(4, 10.0, 30.0, 8.0, 18.0, 23.0))
    assert r.status == status
    assert math.isnan(r.p_value)
    assert math.isnan(r.diff_ci[0])


def test_ratio_variance_below_two_units_is_nan():
    assert math.isnan(ratio_variance(RatioStats(1, 2.0, 4.0, 1.0, 1.0, 2.0)))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"alpha": 0}, r"alpha=0 is invalid: must lie strictly between 0 and 1"),
        ({"alternative": "less"}, r"alternative='less' is invalid: must be one of"),
        ({"control": {"n": 4}}, r"control=\{'n': 4\} is invalid: must be a RatioStats"),
        ({"treatment": RatioStats(-2, 0, 0, 0, 0, 0)}, r"treatment\.n=-2 is invalid: must be >= 0"),
        (
            {"control": RatioStats(4, 10.0, 30.0, math.inf, 18.0, 23.0)},
            r"control\.sum_den=inf is invalid: must be a finite number",
        ),
        (
            {"control": RatioStats(4, 10.0, 30.0, 8.0, -18.0, 23.0)},
            r"control\.sum_den_sq=-18\.0 is invalid: must be >= 0",
        ),
    ],
)
def test_bad_arguments_raise_naming_the_argument(kwargs, message):
    args = {"control": RatioStats(4, 10.0, 30.0, 8.0, 18.0, 23.0)}
    args |= {"treatment": RatioStats(5, 14.0, 50.0, 9.0, 21.0, 31.0)} | kwargs
    with pytest.raises(ValueError, match=message):
        ratio_test(**args)
