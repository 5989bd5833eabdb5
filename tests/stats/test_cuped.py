"""cuped against OLS (statsmodels), Welch's t on adjusted rows (scipy) and seeded simulations."""

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from champion.stats.cuped import cuped
from champion.stats.results import Status
from champion.stats.sufficient import CovariateStats


def covariate_stats(x: np.ndarray, y: np.ndarray) -> list[CovariateStats] | CovariateStats:
    """Sums over the last axis: one CovariateStats per row of a (sims, n) matrix, or one."""
    sums = (x.shape[-1], y.sum(-1), (y * y).sum(-1), x.sum(-1), (x * x).sum(-1), (x * y).sum(-1))
    if x.ndim == 1:
        return CovariateStats(*sums)
    n = np.full(x.shape[0], x.shape[-1])
    return [CovariateStats(*row) for row in zip(n, *sums[1:], strict=True)]


def correlated(rng: np.random.Generator, shape, rho: float, mean_x=10.0, mean_y=20.0, sd_y=3.0):
    """x ~ N(mean_x, 2²) and y with correlation rho to x."""
    z_x, z_e = rng.standard_normal(shape), rng.standard_normal(shape)
    x = mean_x + 2.0 * z_x
    y = mean_y + sd_y * (rho * z_x + math.sqrt(1 - rho * rho) * z_e)
    return x, y


def se_of(result) -> float:
    return result.diff / result.statistic


DESIGNS = [  # n_c, n_t, sd_y of the treatment arm (heteroskedastic when != 3)
    (20_000, 20_000, 3.0),
    (10_000, 30_000, 4.5),
]


def ols_fit(x_c, y_c, x_t, y_t, cov_type):
    x, y = np.r_[x_c, x_t], np.r_[y_c, y_t]
    arm = np.r_[np.zeros(x_c.size), np.ones(x_t.size)]
    design = np.column_stack([np.ones_like(x), arm, x - x.mean()])
    return sm.OLS(y, design).fit(cov_type=cov_type)


@pytest.mark.parametrize(("n_c", "n_t", "sd_t"), DESIGNS)
def test_diff_and_theta_equal_the_ols_coefficients_of_treatment_and_covariate(n_c, n_t, sd_t):
    rng = np.random.default_rng(11)
    x_c, y_c = correlated(rng, n_c, 0.6)
    x_t, y_t = correlated(rng, n_t, 0.6, mean_y=20.3, sd_y=sd_t)
    r = cuped(covariate_stats(x_c, y_c), covariate_stats(x_t, y_t))
    fit = ols_fit(x_c, y_c, x_t, y_t, "nonrobust")
    # Theta pooled within arms is the ANCOVA slope: identical up to rounding of the sums.
    assert r.theta == pytest.approx(fit.params[2], rel=1e-9)
    assert r.test.diff == pytest.approx(fit.params[1], rel=1e-9)


@pytest.mark.parametrize(("n_c", "n_t", "sd_t"), DESIGNS)
def test_se_agrees_with_the_ols_hc2_robust_se(n_c, n_t, sd_t):
    # Per-arm variances make the SE heteroskedasticity-robust, like HC2 (for a treatment dummy
    # alone HC2 is Welch exactly); with the covariate they agree to O(1/n). Measured: 1e-5-1e-4.
    rng = np.random.default_rng(12)
    x_c, y_c = correlated(rng, n_c, 0.6)
    x_t, y_t = correlated(rng, n_t, 0.6, mean_y=20.3, sd_y=sd_t)
    r = cuped(covariate_stats(x_c, y_c), covariate_stats(x_t, y_t))
    fit = ols_fit(x_c, y_c, x_t, y_t, "HC2")
    assert se_of(r.test) == pytest.approx(fit.bse[1], rel=1e-3)


def test_se_agrees_with_the_classical_ols_se_for_equal_arms():
    rng = np.random.default_rng(13)
    x_c, y_c = correlated(rng, 20_000, 0.8)
    x_t, y_t = correlated(rng, 20_000, 0.8, mean_y=20.1)
    r = cuped(covariate_stats(x_c, y_c), covariate_stats(x_t, y_t))
    fit = ols_fit(x_c, y_c, x_t, y_t, "nonrobust")
    assert se_of(r.test) == pytest.approx(fit.bse[1], rel=1e-3)


@pytest.mark.parametrize("alternative", ["two-sided", "larger", "smaller"])
def test_sums_give_welch_t_on_the_adjusted_rows(alternative):
    # Direct computation on rows: theta from arm-demeaned columns (pandas), the adjusted
    # outcome per row, then scipy's Welch t-test on those rows.
    rng = np.random.default_rng(14)
    x_c, y_c = correlated(rng, 300, 0.7)
    x_t, y_t = correlated(rng, 450, 0.7, mean_y=20.4, sd_y=3.5)
    rows = pd.DataFrame(
        {"arm": ["c"] * 300 + ["t"] * 450, "x": np.r_[x_c, x_t], "y": np.r_[y_c, y_t]}
    )
    centred = rows[["x", "y"]] - rows.groupby("arm")[["x", "y"]].transform("mean")
    theta = (centred.x * centred.y).sum() / (centred.x**2).sum()
    rows["adj"] = rows.y - theta * (rows.x - rows.x.mean())
    adj_t, adj_c = rows.adj[rows.arm == "t"], rows.adj[rows.arm == "c"]
    scipy_alt = {"two-sided": "two-sided", "larger": "greater", "smaller": "less"}[alternative]
    welch = stats.ttest_ind(adj_t, adj_c, equal_var=False, alternative=scipy_alt)

    r = cuped(covariate_stats(x_c, y_c), covariate_stats(x_t, y_t), alternative=alternative)
    assert r.theta == pytest.approx(theta, rel=1e-9)
    assert (r.test.control, r.test.treatment) == pytest.approx((adj_c.mean(), adj_t.mean()))
    assert r.test.statistic == pytest.approx(welch.statistic, rel=1e-9)
    assert r.test.p_value == pytest.approx(welch.pvalue, rel=1e-8)
    low, high = welch.confidence_interval(0.95)
    assert r.test.diff_ci == pytest.approx((low, high), rel=1e-9)


def test_unadjusted_is_welch_t_on_the_raw_rows():
    rng = np.random.default_rng(15)
    x_c, y_c = correlated(rng, 300, 0.7)
    x_t, y_t = correlated(rng, 450, 0.7, mean_y=20.4)
    r = cuped(covariate_stats(x_c, y_c), covariate_stats(x_t, y_t))
    welch = stats.ttest_ind(y_t, y_c, equal_var=False)
    assert r.unadjusted.diff == pytest.approx(y_t.mean() - y_c.mean(), rel=1e-12)
    assert r.unadjusted.statistic == pytest.approx(welch.statistic, rel=1e-9)
    assert r.unadjusted.p_value == pytest.approx(welch.pvalue, rel=1e-8)


@pytest.mark.parametrize("rho", [0.3, 0.6, 0.9])
def test_variance_reduction_is_about_rho_squared(rho):
    # 100k rows per arm: the sample rho² has an SE below 0.002; allow 0.01.
    rng = np.random.default_rng(16)
    x_c, y_c = correlated(rng, 100_000, rho)
    x_t, y_t = correlated(rng, 100_000, rho, mean_y=20.5)
    r = cuped(covariate_stats(x_c, y_c), covariate_stats(x_t, y_t))
    assert r.variance_reduction == pytest.approx(rho**2, abs=0.01)


@pytest.fixture(scope="module")
def aa_experiments():
    """10,000 seeded A/A experiments, 200 units per arm, rho = 0.7."""
    rng = np.random.default_rng(2013)
    sims, n = 10_000, 200
    x_c, y_c = correlated(rng, (sims, n), 0.7)
    x_t, y_t = correlated(rng, (sims, n), 0.7)
    return covariate_stats(x_c, y_c), covariate_stats(x_t, y_t)


@pytest.mark.parametrize("alternative", ["two-sided", "larger"])
def test_aa_rejects_five_percent(aa_experiments, alternative):
    # Binomial SE of a 5% rate over 10,000 runs is 0.0022: 0.04-0.06 is 4.5 SE.
    results = [cuped(c, t, alternative=alternative) for c, t in zip(*aa_experiments, strict=True)]
    rejected = np.mean([r.test.p_value < 0.05 for r in results])
    assert 0.04 <= rejected <= 0.06


def test_adjusted_diff_varies_less_across_experiments_by_one_minus_rho_squared(aa_experiments):
    results = [cuped(c, t) for c, t in zip(*aa_experiments, strict=True)]
    adjusted = np.var([r.test.diff for r in results])
    plain = np.var([r.unadjusted.diff for r in results])
    # Over 10,000 runs each variance has a relative SE of 1.4%; allow 5% on the ratio.
    assert adjusted / plain == pytest.approx(1 - 0.7**2, rel=0.05)
    # The reported SE is the spread of the estimator across experiments.
    reported = np.mean([se_of(r.test) ** 2 for r in results])
    assert reported == pytest.approx(adjusted, rel=0.05)


def test_relative_lift_ci_covers_the_true_lift_95_percent():
    rng = np.random.default_rng(17)
    sims, n, lift = 4000, 500, 0.02
    x_c, y_c = correlated(rng, (sims, n), 0.8)
    x_t, y_t = correlated(rng, (sims, n), 0.8, mean_y=20.0 * (1 + lift))
    cis = [
        cuped(c, t).test.rel_lift_ci
        for c, t in zip(covariate_stats(x_c, y_c), covariate_stats(x_t, y_t), strict=True)
    ]
    covered = np.mean([low <= lift <= high for low, high in cis])
    # Monte Carlo SE of 95% over 4000 runs is 0.0034: allow 3 SE.
    assert covered == pytest.approx(0.95, abs=0.011)


def test_relative_lift_is_adjusted_treatment_over_adjusted_control():
    rng = np.random.default_rng(18)
    x_c, y_c = correlated(rng, 500, 0.5)
    x_t, y_t = correlated(rng, 500, 0.5, mean_y=21.0)
    r = cuped(covariate_stats(x_c, y_c), covariate_stats(x_t, y_t))
    x_bar = np.r_[x_c, x_t].mean()
    adj_c = y_c.mean() - r.theta * (x_c.mean() - x_bar)
    adj_t = y_t.mean() - r.theta * (x_t.mean() - x_bar)
    assert r.test.rel_lift == pytest.approx(adj_t / adj_c - 1, rel=1e-10)


def test_constant_covariate_gives_theta_zero_and_repeats_the_unadjusted_test():
    rng = np.random.default_rng(19)
    y_c, y_t = rng.normal(5, 1, 50), rng.normal(5.5, 1, 60)
    r = cuped(covariate_stats(np.full(50, 3.0), y_c), covariate_stats(np.full(60, 3.0), y_t))
    assert r.status == Status.ZERO_VARIANCE
    assert r.theta == 0.0
    assert r.variance_reduction == pytest.approx(0.0, abs=1e-12)
    assert r.test.p_value == pytest.approx(stats.ttest_ind(y_t, y_c, equal_var=False).pvalue)
    assert r.test.status == Status.OK


def test_outcome_exactly_linear_in_covariate_is_zero_variance_with_the_exact_diff():
    x_c, x_t = np.array([1.0, 2.0, 4.0, 7.0]), np.array([2.0, 3.0, 5.0])
    r = cuped(covariate_stats(x_c, 0.1 + 3 * x_c), covariate_stats(x_t, 0.6 + 3 * x_t))
    assert r.theta == pytest.approx(3.0, rel=1e-12)
    assert r.test.diff == pytest.approx(0.5, rel=1e-12)
    assert r.status == Status.ZERO_VARIANCE
    assert math.isnan(r.test.p_value)


def test_zero_adjusted_control_mean_is_zero_baseline():
    x = np.array([1.0, 2.0, 3.0])  # same covariate mean in both arms: adj_c = mean(y_c) = 0
    r = cuped(covariate_stats(x, np.zeros(3)), covariate_stats(x, np.array([1.0, 3.0, 2.0])))
    assert r.status == Status.ZERO_BASELINE
    assert r.test.diff == pytest.approx(2.0)
    assert math.isnan(r.test.rel_lift)
    # theta = S_xy / S_xx = 1 / 4 by hand; Welch on the adjusted rows y - theta (x - 2).
    welch = stats.ttest_ind([1.25, 3.0, 1.75], [0.25, 0.0, -0.25], equal_var=False)
    assert r.theta == pytest.approx(0.25)
    assert r.test.p_value == pytest.approx(welch.pvalue, rel=1e-9)


@pytest.mark.parametrize(("n", "status"), [(0, Status.EMPTY_ARM), (1, Status.TOO_FEW)])
def test_arm_below_two_units_gives_nan_and_a_status(n, status):
    x, y = np.arange(n, dtype=float), np.ones(n)
    r = cuped(covariate_stats(x, y), covariate_stats(np.arange(5.0), np.arange(5.0)))
    assert r.status == status
    assert r.test.status == status
    assert math.isnan(r.test.p_value)
    assert math.isnan(r.theta)
    assert math.isnan(r.variance_reduction)


def test_numpy_integer_sums_are_accepted():
    c = CovariateStats(np.int64(4), np.int64(10), np.int64(30), np.int64(8), np.int64(18), 23)
    t = CovariateStats(4, 12, 40, 9, 23, 29)
    assert cuped(c, t).theta == pytest.approx(cuped(CovariateStats(4, 10, 30, 8, 18, 23), t).theta)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"alpha": 1.5}, r"alpha=1\.5 is invalid: must lie strictly between 0 and 1"),
        ({"alternative": "greater"}, r"alternative='greater' is invalid: must be one of"),
        ({"control": (4, 10, 30, 8, 18, 23)}, r"control=\(4, .* must be a CovariateStats"),
        ({"treatment": CovariateStats(-1, 0, 0, 0, 0, 0)}, r"treatment\.n=-1 is invalid"),
        (
            {"control": CovariateStats(4, 10, 30, 8, 18, float("nan"))},
            r"control\.sum_xy=nan is invalid: must be a finite number",
        ),
        (
            {"control": CovariateStats(4, 10, -30, 8, 18, 23)},
            r"control\.sum_y_sq=-30\.0 is invalid: must be >= 0",
        ),
    ],
)
def test_bad_arguments_raise_naming_the_argument(kwargs, message):
    args = {"control": CovariateStats(4, 10, 30, 8, 18, 23)}
    args |= {"treatment": CovariateStats(4, 12, 40, 9, 23, 29)} | kwargs
    with pytest.raises(ValueError, match=message):
        cuped(**args)
