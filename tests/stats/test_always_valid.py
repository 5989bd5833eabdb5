"""Always-valid inference against numerical integration, scipy distributions, the closed forms
of the papers and seeded simulations of experiments monitored after every batch."""

import math

import numpy as np
import pytest
from scipy import integrate, optimize, stats

from champion.stats.always_valid import (
    DEFAULT_TUNING_N,
    confidence_sequence,
    confidence_sequence_path,
    mixing_variance,
    msprt,
    msprt_path,
    sequential_srm,
    sequential_srm_path,
)
from champion.stats.results import Status

ALPHA = 0.05
N_SIMS, LOOKS, BATCH = 10_000, 200, 50
# Monte Carlo tolerance on a rejection rate of at most 5% from 10,000 runs: 3 SE = 0.0065.
TOLERANCE = 3 * math.sqrt(ALPHA * (1 - ALPHA) / N_SIMS)


def _mean_paths(effect, seed, variance=1.0):
    """Running difference estimates of N_SIMS experiments checked after every batch of units."""
    rng = np.random.default_rng(seed)
    n = np.arange(1, LOOKS + 1) * BATCH
    sums = np.cumsum(rng.standard_normal((N_SIMS, LOOKS)) * math.sqrt(variance * BATCH), axis=1)
    return sums / n + effect, n


def _multinomial_paths(probabilities, batch, seed):
    """Cumulative arm counts of N_SIMS experiments, by sequential binomial splitting."""
    rng = np.random.default_rng(seed)
    remaining = np.full((N_SIMS, LOOKS), batch)
    counts, left = [], 1.0
    for p in probabilities[:-1]:
        draw = rng.binomial(remaining, min(p / left, 1.0))
        counts.append(draw)
        remaining, left = remaining - draw, left - p
    counts.append(remaining)
    return np.cumsum(np.stack(counts, axis=-1), axis=1)


# --- mSPRT -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("diff", "variance", "n", "tau2", "theta0"),
    [(0.02, 0.5, 20_000, 1e-4, 0.0), (-0.3, 4.0, 150, 0.05, 0.0), (1.2, 2.0, 40, 0.5, 1.0)],
)
def test_msprt_likelihood_ratio_matches_numerical_mixture(diff, variance, n, tau2, theta0):
    # Λ = ∫ N(diff; θ, V) / N(diff; θ0, V) dN(θ; θ0, τ²), integrated by quadrature.
    v = variance / n

    def integrand(theta):
        ratio = math.exp(((diff - theta0) ** 2 - (diff - theta) ** 2) / (2 * v))
        return ratio * stats.norm.pdf(theta, theta0, math.sqrt(tau2))

    lo, hi = theta0 - 12 * math.sqrt(tau2), theta0 + 12 * math.sqrt(tau2)
    oracle = integrate.quad(integrand, lo, hi, points=[diff], limit=400, epsabs=0, epsrel=1e-10)[0]
    r = msprt(diff, variance, n, tau2=tau2, theta0=theta0)
    assert r.likelihood_ratio == pytest.approx(oracle, rel=1e-7)
    assert r.p_value == pytest.approx(min(1.0, 1.0 / oracle), rel=1e-7)


def test_default_mixing_variance_is_tuned_to_the_tuning_n():
    r = msprt(0.01, 0.7, 3_000)
    assert r.tau2 == pytest.approx(mixing_variance(0.7, DEFAULT_TUNING_N))


def test_mixing_variance_minimises_the_interval_width():
    # Brute-force minimisation of the half-width over τ² at the target n.
    def width(log_tau2):
        return confidence_sequence(0.0, 2.0, 5_000, tau2=math.exp(log_tau2)).half_width

    best = optimize.minimize_scalar(
        width, bounds=(-20, 5), method="bounded", options={"xatol": 1e-9}
    )
    assert mixing_variance(2.0, 5_000) == pytest.approx(math.exp(best.x), rel=1e-4)


def test_msprt_path_is_the_running_minimum_of_single_looks():
    d, v, n = [0.05, 0.04, 0.025, 0.01], [0.6, 0.5, 0.5, 0.45], [400, 2_000, 9_000, 30_000]
    path = msprt_path(d, v, n)
    single = [msprt(*args).p_value for args in zip(d, v, n, strict=True)]
    np.testing.assert_allclose(path.p_value, np.minimum.accumulate(single), rtol=1e-12)
    assert path.p_value[-1] < single[-1]  # evidence seen earlier is kept


def test_msprt_degenerate_inputs_are_statuses():
    empty, flat = msprt(0.1, 1.0, 0), msprt(0.1, 0.0, 100)
    assert empty.status is Status.EMPTY_ARM
    assert flat.status is Status.ZERO_VARIANCE
    assert math.isnan(empty.p_value)
    assert math.isnan(flat.likelihood_ratio)
    assert not flat.reject()


def test_msprt_path_skips_degenerate_looks():
    path = msprt_path([0.0, 0.3, 0.3], [1.0, 1.0, 1.0], [0, 100, 200], tau2=0.1)
    assert path.status.tolist() == ["empty_arm", "ok", "ok"]
    assert math.isnan(path.log_likelihood_ratio[0])
    assert path.p_value[0] == 1.0
    assert path.p_value[2] == pytest.approx(msprt(0.3, 1.0, 200, tau2=0.1).p_value)


def test_msprt_holds_alpha_under_continuous_monitoring():
    d, n = _mean_paths(0.0, seed=1)
    rate = (msprt_path(d, 1.0, n).p_value[:, -1] <= ALPHA).mean()
    assert rate <= ALPHA + TOLERANCE


def test_msprt_with_plug_in_proportion_variance_holds_alpha():
    # Conversion rate 10% in both arms, 100 units per arm per look, variance estimated each look.
    rng = np.random.default_rng(5)
    n = np.arange(1, LOOKS + 1) * 100
    pc = np.cumsum(rng.binomial(100, 0.1, (N_SIMS, LOOKS)), axis=1) / n
    pt = np.cumsum(rng.binomial(100, 0.1, (N_SIMS, LOOKS)), axis=1) / n
    p = msprt_path(pt - pc, pc * (1 - pc) + pt * (1 - pt), n).p_value
    assert (p[:, -1] <= ALPHA).mean() <= ALPHA + TOLERANCE


def test_fixed_horizon_z_test_fails_under_continuous_monitoring():
    d, n = _mean_paths(0.0, seed=1)
    assert (np.abs(d * np.sqrt(n)) >= stats.norm.ppf(0.975)).any(axis=1).mean() > 0.3


def test_msprt_detects_a_real_effect():
    # Effect 0.04 with unit variance: z = 4 at the last look (n = 10,000).
    d, n = _mean_paths(0.04, seed=3)
    assert (msprt_path(d, 1.0, n).p_value[:, -1] <= ALPHA).mean() >= 0.85


# --- confidence sequences ------------------------------------------------------------------


def test_confidence_sequence_matches_the_normal_mixture_boundary():
    # Howard, Ramdas, McAuliffe & Sekhon (2021), two-sided normal mixture on the sum scale:
    # |S_n| <= sqrt((v + ρ) log((v + ρ) / (ρ α²))), v = n σ², with ρ = σ⁴ / τ².
    sigma2, n, tau2 = 0.8, 2_500, 3e-4
    v, rho = n * sigma2, sigma2**2 / tau2
    boundary = math.sqrt((v + rho) * math.log((v + rho) / (rho * ALPHA**2)))
    cs = confidence_sequence(0.1, sigma2, n, tau2=tau2)
    assert cs.half_width == pytest.approx(boundary / n, rel=1e-12)
    assert cs.lower + cs.upper == pytest.approx(0.2)


@pytest.mark.parametrize("estimate", [0.0, 0.01, 0.0239, 0.0241, -0.0241, 0.03, -0.05])
def test_confidence_sequence_excludes_zero_exactly_when_msprt_rejects(estimate):
    cs = confidence_sequence(estimate, 0.5, 8_000, alpha=ALPHA)
    assert (not cs.contains(0.0)) == msprt(estimate, 0.5, 8_000).reject(ALPHA)


def test_confidence_sequence_is_wider_than_the_fixed_horizon_interval():
    cs = confidence_sequence(0.0, 1.0, 10_000)
    assert cs.half_width > stats.norm.ppf(0.975) * 0.01


def test_confidence_sequence_covers_at_every_look():
    # True difference 0.3: a miss is any look whose interval excludes it.
    d, n = _mean_paths(0.3, seed=2)
    path = confidence_sequence_path(d, 1.0, n)
    missed = ((path.lower > 0.3) | (path.upper < 0.3)).any(axis=1)
    assert missed.mean() <= ALPHA + TOLERANCE
    running_missed = (path.running_lower > 0.3) | (path.running_upper < 0.3)
    np.testing.assert_array_equal(running_missed.any(axis=1), missed)


def test_degenerate_confidence_sequence_is_nan():
    cs = confidence_sequence(0.1, 0.0, 500)
    assert cs.status is Status.ZERO_VARIANCE
    assert math.isnan(cs.lower)


# --- sequential SRM ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("counts", "weights", "concentration"),
    [
        ([5200, 4800], [0.5, 0.5], 10_000.0),
        ([130, 410, 460], [0.1, 0.4, 0.5], 50.0),
        ([0, 7], [0.5, 0.5], 2.0),
    ],
)
def test_srm_bayes_factor_matches_dirichlet_multinomial(counts, weights, concentration):
    total = sum(counts)
    oracle = stats.dirichlet_multinomial.logpmf(
        counts, np.asarray(weights) * concentration, total
    ) - stats.multinomial.logpmf(counts, total, weights)
    r = sequential_srm(counts, weights, prior_concentration=concentration)
    assert r.statistic == pytest.approx(oracle, rel=1e-9, abs=1e-9)
    assert r.p_value == pytest.approx(min(1.0, math.exp(-oracle)), rel=1e-9)
    assert r.method == "sequential-dirichlet"


def test_srm_path_matches_single_looks():
    counts = [[50, 48], [260, 240], [1_300, 1_150], [2_700, 2_300]]
    path = sequential_srm_path(counts, [0.5, 0.5])
    single = [sequential_srm(c, [0.5, 0.5]) for c in counts]
    np.testing.assert_allclose(path.log_bayes_factor, [s.statistic for s in single], rtol=1e-12)
    np.testing.assert_allclose(path.p_value, np.minimum.accumulate([s.p_value for s in single]))


def test_srm_with_no_units_is_a_status():
    r = sequential_srm([0, 0], [0.5, 0.5])
    assert r.status is Status.EMPTY_ARM
    assert math.isnan(r.p_value)
    path = sequential_srm_path([[0, 0], [10, 12]], [0.5, 0.5])
    assert path.status.tolist() == ["empty_arm", "ok"]
    assert path.p_value[0] == 1.0


@pytest.mark.parametrize("weights", [[0.5, 0.5], [0.2, 0.3, 0.5]])
def test_sequential_srm_holds_alpha_under_continuous_monitoring(weights):
    counts = _multinomial_paths(weights, batch=100, seed=7)
    rate = (sequential_srm_path(counts, weights).p_value[:, -1] <= ALPHA).mean()
    assert rate <= ALPHA + TOLERANCE


def test_chi_square_srm_fails_under_continuous_monitoring():
    # Pearson's goodness-of-fit statistic, 1 degree of freedom, at every look.
    counts = _multinomial_paths([0.5, 0.5], batch=100, seed=7)
    expected = 0.5 * counts.sum(axis=-1, keepdims=True)
    statistic = np.sum((counts - expected) ** 2 / expected, axis=-1)
    rejected = statistic >= stats.chi2.isf(ALPHA, 1)  # same as p <= alpha, without 2M p-values
    assert rejected.any(axis=1).mean() > 0.3


def test_sequential_srm_detects_a_real_mismatch():
    # 52/48 instead of 50/50: z ≈ 5.7 after 20,000 units.
    counts = _multinomial_paths([0.52, 0.48], batch=100, seed=8)
    assert (sequential_srm_path(counts, [0.5, 0.5]).p_value[:, -1] <= ALPHA).mean() >= 0.9


# --- bad input --------------------------------------------------------------------------


def test_negative_variance_is_refused():
    with pytest.raises(ValueError, match=r"variance=-1\.0 is invalid: must be >= 0"):
        msprt(0.1, -1.0, 10)


def test_non_finite_diff_is_refused():
    with pytest.raises(ValueError, match=r"diff=nan is invalid: must be finite numbers"):
        msprt(float("nan"), 1.0, 10)


def test_non_positive_tau2_is_refused():
    with pytest.raises(ValueError, match=r"tau2=0\.0 is invalid: must be > 0"):
        msprt(0.1, 1.0, 10, tau2=0.0)


def test_srm_counts_must_match_weights():
    with pytest.raises(ValueError, match=r"counts=.* must give one count per weight \(3\)"):
        sequential_srm([10, 12], [0.2, 0.3, 0.5])


def test_srm_path_counts_must_be_cumulative():
    with pytest.raises(ValueError, match="must be cumulative: not decreasing over looks"):
        sequential_srm_path([[10, 12], [9, 15]], [0.5, 0.5])


def test_srm_prior_concentration_must_be_positive():
    with pytest.raises(ValueError, match=r"prior_concentration=0 is invalid: must be > 0"):
        sequential_srm([10, 12], [0.5, 0.5], prior_concentration=0)


def test_srm_weights_must_sum_to_one():
    with pytest.raises(ValueError, match=r"weights=.* must sum to 1"):
        sequential_srm([10, 12], [0.5, 0.6])


def test_single_look_functions_refuse_arrays():
    with pytest.raises(
        ValueError, match=r"diff=\[0\.1, 0\.2\] is invalid: must be one look's numbers"
    ):
        msprt([0.1, 0.2], 1.0, [10, 20])


def test_path_shapes_must_broadcast():
    with pytest.raises(ValueError, match=r"n=.* must broadcast with diff \(3,\)"):
        msprt_path([0.1, 0.2, 0.3], 1.0, [10, 20])


def test_given_tau2_is_kept_on_degenerate_looks():
    assert msprt(0.1, 1.0, 0, tau2=0.2).tau2 == 0.2
