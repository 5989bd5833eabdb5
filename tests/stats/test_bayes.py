"""Bayesian read-outs against closed forms, scipy quadrature and seeded Monte Carlo."""

import math

import numpy as np
import pytest
from scipy import integrate, special, stats

from champion.stats.bayes import (
    APPROXIMATION_FROM,
    BayesResult,
    bayes_compare,
    chance_to_beat,
    chance_to_beat_mean,
    prob_best_beta,
    prob_best_normal,
)
from champion.stats.results import Status
from champion.stats.sufficient import MeanStats, ProportionStats

MC_DRAWS = 2_000_000


def evan_miller(a_c, b_c, a_t, b_t):
    """P(p_t > p_c) for integer a_t (Evan Miller, "Formulas for Bayesian A/B Testing", 2015):
    sum_{i < a_t} B(a_c + i, b_c + b_t) / ((b_t + i) B(1 + i, b_t) B(a_c, b_c))."""
    i = np.arange(int(a_t))
    log_terms = (
        special.betaln(a_c + i, b_c + b_t)
        - np.log(b_t + i)
        - special.betaln(1 + i, b_t)
        - special.betaln(a_c, b_c)
    )
    return float(np.exp(log_terms).sum())


def quad_chance(a_c, b_c, a_t, b_t):
    """P(C < T) = ∫_0^1 F_C(F_T^-1(u)) du: a bounded integrand on the unit interval."""
    f = lambda u: stats.beta.cdf(stats.beta.ppf(u, a_t, b_t), a_c, b_c)  # noqa: E731
    return integrate.quad(f, 0, 1, epsabs=1e-13, limit=400)[0]


def quad_loss_treatment(a_c, b_c, a_t, b_t):
    """E[max(C - T, 0)] = ∫_0^1 h(F_T^-1(u)) du with h(t) = E[max(C - t, 0)]
    = E[C] P(Beta(a_c + 1, b_c) > t) - t P(C > t)."""
    mean_c = a_c / (a_c + b_c)

    def h(u):
        t = stats.beta.ppf(u, a_t, b_t)
        return mean_c * stats.beta.sf(t, a_c + 1, b_c) - t * stats.beta.sf(t, a_c, b_c)

    return integrate.quad(h, 0, 1, epsabs=1e-15, epsrel=1e-10, limit=400)[0]


def posterior_params(x_c, n_c, x_t, n_t, prior=(1.0, 1.0)):
    a, b = prior
    return a + x_c, b + n_c - x_c, a + x_t, b + n_t - x_t


SMALL = [(31, 1000, 38, 1000), (0, 50, 2, 50), (3, 48, 6, 45), (1, 10, 3, 10), (5, 1e6, 10, 1e6)]


@pytest.mark.parametrize("counts", SMALL)
def test_chance_to_beat_matches_evan_miller_closed_form(counts):
    r = chance_to_beat(*counts)
    assert r.method == "beta-binomial, quadrature"
    assert r.chance_to_beat == pytest.approx(evan_miller(*posterior_params(*counts)), abs=1e-8)


def test_chance_to_beat_matches_quad_for_a_jeffreys_prior():
    # Non-integer parameters: Evan Miller's sum does not apply, scipy's quad does.
    for counts in [(0, 10, 0, 10_000), (2, 40, 7, 35), (12, 300, 30, 900)]:
        r = chance_to_beat(*counts, prior=(0.5, 0.5))
        oracle = quad_chance(*posterior_params(*counts, prior=(0.5, 0.5)))
        assert r.chance_to_beat == pytest.approx(oracle, abs=1e-8)


@pytest.mark.parametrize("counts", [*SMALL, (310, 10_000, 380, 10_000)])
def test_expected_losses_match_quad(counts):
    r = chance_to_beat(*counts)
    a_c, b_c, a_t, b_t = posterior_params(*counts)
    loss_t = quad_loss_treatment(a_c, b_c, a_t, b_t)
    loss_c = quad_loss_treatment(a_t, b_t, a_c, b_c)  # E[max(T - C, 0)]: roles swapped
    sd = math.sqrt(stats.beta.var(a_c, b_c) + stats.beta.var(a_t, b_t))
    # Quadrature: relative 1e-6; Edgeworth (the last case): 1e-4 of the posterior sd of T - C.
    tol = 1e-6 * max(loss_t, loss_c) if r.method.endswith("quadrature") else 1e-4 * sd
    assert r.expected_loss_treatment == pytest.approx(loss_t, abs=tol)
    assert r.expected_loss_control == pytest.approx(loss_c, abs=tol)


@pytest.mark.parametrize(
    ("counts", "tail_error"),
    [
        ((31, 1000, 38, 1000), 0.001),
        ((0, 50, 2, 50), 0.006),  # no conversions in one arm: measured 2.99% in the lower tail
        ((310, 10_000, 380, 10_000), 0.001),
        ((40, 400, 12, 90), 0.001),
    ],
)
def test_every_field_agrees_with_seeded_monte_carlo(counts, tail_error):
    a_c, b_c, a_t, b_t = posterior_params(*counts)
    rng = np.random.default_rng(20240611)
    c, t = rng.beta(a_c, b_c, MC_DRAWS), rng.beta(a_t, b_t, MC_DRAWS)
    r = chance_to_beat(*counts)
    # 5 Monte Carlo standard errors for each mean-like quantity.
    se = lambda v: 5 * v.std() / math.sqrt(MC_DRAWS)  # noqa: E731
    assert r.chance_to_beat == pytest.approx(np.mean(t > c), abs=se(t > c))
    loss_t, loss_c = np.maximum(c - t, 0), np.maximum(t - c, 0)
    assert r.expected_loss_treatment == pytest.approx(loss_t.mean(), abs=se(loss_t))
    assert r.expected_loss_control == pytest.approx(loss_c.mean(), abs=se(loss_c))
    # Interval ends (Cornish-Fisher): each tail holds alpha/2 = 2.5% within the expansion's
    # error (0.1 points with a few conversions per arm, 0.6 with none) plus 5 Monte Carlo SE.
    tail_tol = tail_error + 5 * math.sqrt(0.025 * 0.975 / MC_DRAWS)
    for draws, (lo, hi) in ((t - c, r.diff_ci), (t / c - 1, r.rel_lift_ci)):
        assert np.mean(draws < lo) == pytest.approx(0.025, abs=tail_tol)
        assert np.mean(draws > hi) == pytest.approx(0.025, abs=tail_tol)


def test_credible_intervals_are_within_half_a_percent_of_width_once_arms_have_counts():
    # 20+ conversions per arm: the Cornish-Fisher ends sit within 0.5% of the interval width of
    # the Monte Carlo quantiles (MC quantile error ~0.1% of the width at 2e6 draws).
    a_c, b_c, a_t, b_t = posterior_params(20, 1000, 30, 1000)
    rng = np.random.default_rng(11)
    c, t = rng.beta(a_c, b_c, MC_DRAWS), rng.beta(a_t, b_t, MC_DRAWS)
    r = chance_to_beat(20, 1000, 30, 1000)
    for draws, ci in ((t - c, r.diff_ci), (t / c - 1, r.rel_lift_ci)):
        q = np.quantile(draws, [0.025, 0.975])
        assert ci == pytest.approx(tuple(q), abs=0.005 * (q[1] - q[0]))


def test_identical_arms_give_one_half_and_equal_losses():
    for counts in [(7, 100, 7, 100), (300, 10_000, 300, 10_000)]:
        r = chance_to_beat(*counts)
        assert r.chance_to_beat == pytest.approx(0.5, abs=1e-8)
        assert r.expected_loss_treatment == pytest.approx(r.expected_loss_control, rel=1e-8)
        assert r.diff == 0.0
        assert r.diff_ci[0] == pytest.approx(-r.diff_ci[1], rel=1e-12)


def test_edgeworth_approximation_agrees_with_closed_form_at_the_switch():
    # Smallest Beta parameter exactly at the switch, in 50/50 and 5/95 splits, rare and common
    # rates, lifts of -30%..+30%: the approximation is within 2e-4 of Evan Miller's exact sum
    # (largest error seen: 1.4e-4, rare events in a 95/5 split).
    worst = 0.0
    for rate in (0.005, 0.03, 0.5):
        for lift in (-0.3, 0.0, 0.1, 0.3):
            for share_t in (0.5, 0.05, 0.95):
                n = APPROXIMATION_FROM / (rate * min(share_t, 1 - share_t)) * 1.02
                n_c, n_t = round(n * (1 - share_t)), round(n * share_t)
                x_c, x_t = round(rate * n_c), round(rate * (1 + lift) * n_t)
                r = chance_to_beat(x_c, n_c, x_t, n_t)
                if r.method.endswith("quadrature"):
                    continue
                exact = evan_miller(*posterior_params(x_c, n_c, x_t, n_t))
                worst = max(worst, abs(r.chance_to_beat - exact))
    assert 0 < worst < 2e-4


def test_switch_to_the_approximation_happens_at_the_documented_count():
    below = chance_to_beat(APPROXIMATION_FROM - 2, 1000, 100, 1000)  # a_c = 49 with Beta(1, 1)
    at = chance_to_beat(APPROXIMATION_FROM - 1, 1000, 100, 1000)  # a_c = 50
    assert below.method == "beta-binomial, quadrature"
    assert at.method == "beta-binomial, edgeworth"
    assert below.chance_to_beat > at.chance_to_beat  # one more control success: less chance


def test_empty_arm_returns_nan_with_status():
    r = chance_to_beat(0, 0, 3, 100)
    assert r.status == Status.EMPTY_ARM
    assert math.isnan(r.chance_to_beat)
    assert math.isnan(r.expected_loss_treatment)
    assert all(math.isnan(v) for v in (*r.diff_ci, *r.rel_lift_ci))


def test_no_conversions_returns_the_posterior_with_zero_variance_status():
    # 0/10 vs 0/10,000: Beta(1, 11) vs Beta(1, 10,001); the big arm is surely lower.
    r = chance_to_beat(0, 10, 0, 10_000)
    assert r.status == Status.ZERO_VARIANCE
    assert r.chance_to_beat == pytest.approx(evan_miller(1, 11, 1, 10_001), abs=1e-10)
    assert r.control == pytest.approx(1 / 12)


def test_weakly_informative_prior_shrinks_towards_its_mean():
    flat = chance_to_beat(3, 20, 8, 20)
    shrunk = chance_to_beat(3, 20, 8, 20, prior=(3, 97))  # prior mean 3%, worth 100 units
    assert shrunk.treatment == pytest.approx(11 / 120)
    assert shrunk.chance_to_beat == pytest.approx(evan_miller(6, 114, 11, 109), abs=1e-8)
    assert shrunk.chance_to_beat < flat.chance_to_beat


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"x_control": 11, "n_control": 10}, r"x_control=11.* must be <= n_control"),
        ({"n_treatment": -1}, r"n_treatment=-1 is invalid: must be >= 0"),
        ({"prior": (0, 1)}, r"prior=\(0, 1\) is invalid: must be two finite numbers"),
        ({"prior": "flat"}, r"prior='flat' is invalid"),
        ({"alpha": 1.5}, r"alpha=1.5 is invalid: must lie strictly between 0 and 1"),
    ],
)
def test_bad_proportion_arguments_raise_by_name(kwargs, match):
    args = {"x_control": 1, "n_control": 10, "x_treatment": 2, "n_treatment": 10, **kwargs}
    with pytest.raises(ValueError, match=match):
        chance_to_beat(
            args.pop("x_control"), args.pop("n_control"),
            args.pop("x_treatment"), args.pop("n_treatment"), **args,
        )  # fmt: skip


def test_mean_model_with_flat_prior_matches_scipy_normal():
    r = chance_to_beat_mean(10.0, 4.0, 100, 10.3, 9.0, 120)
    sd = math.sqrt(4.0 / 100 + 9.0 / 120)
    post = stats.norm(0.3, sd)
    assert r.chance_to_beat == pytest.approx(post.sf(0), rel=1e-12)
    loss_t = integrate.quad(lambda d: -d * post.pdf(d), -np.inf, 0)[0]
    loss_c = integrate.quad(lambda d: d * post.pdf(d), 0, np.inf)[0]
    assert r.expected_loss_treatment == pytest.approx(loss_t, rel=1e-8)
    assert r.expected_loss_control == pytest.approx(loss_c, rel=1e-8)
    assert r.diff_ci == pytest.approx(post.ppf([0.025, 0.975]), rel=1e-12)


def test_mean_model_relative_lift_interval_matches_monte_carlo_ratio():
    # Delta method on T / C: with 2% relative standard errors its ends sit within 2% of the
    # interval width of the ratio's Monte Carlo quantiles.
    r = chance_to_beat_mean(50.0, 400.0, 1000, 52.0, 450.0, 1000)
    rng = np.random.default_rng(5)
    c = rng.normal(50.0, math.sqrt(0.4), MC_DRAWS)
    t = rng.normal(52.0, math.sqrt(0.45), MC_DRAWS)
    q = np.quantile(t / c - 1, [0.025, 0.975])
    assert r.rel_lift_ci == pytest.approx(tuple(q), abs=0.02 * (q[1] - q[0]))


def test_mean_model_normal_prior_matches_numerical_posterior():
    # Posterior of each mean ∝ N(ybar | mu, s²/n) N(mu | m0, v0), integrated numerically.
    m0, v0 = 10.0, 0.25
    r = chance_to_beat_mean(12.0, 25.0, 20, 9.0, 16.0, 30, prior=(m0, v0))

    def posterior_mean(ybar, se2):
        def weight(mu):
            return stats.norm.pdf(ybar, mu, math.sqrt(se2)) * stats.norm.pdf(mu, m0, math.sqrt(v0))

        z = integrate.quad(weight, -np.inf, np.inf)[0]
        return integrate.quad(lambda mu: mu * weight(mu), -np.inf, np.inf)[0] / z

    assert r.control == pytest.approx(posterior_mean(12.0, 25.0 / 20), rel=1e-8)
    assert r.treatment == pytest.approx(posterior_mean(9.0, 16.0 / 30), rel=1e-8)
    assert r.method == "normal, normal prior"


@pytest.mark.parametrize(
    ("args", "status"),
    [
        ((10.0, 4.0, 0, 11.0, 9.0, 50), Status.EMPTY_ARM),
        ((10.0, 4.0, 1, 11.0, 9.0, 50), Status.TOO_FEW),
        ((10.0, 0.0, 40, 11.0, 0.0, 50), Status.ZERO_VARIANCE),
    ],
)
def test_mean_model_degenerate_inputs_return_nan_with_status(args, status):
    r = chance_to_beat_mean(*args)
    assert r.status == status
    assert math.isnan(r.chance_to_beat)
    assert math.isnan(r.diff_ci[0])


def test_mean_model_far_apart_arms_give_certainty_without_overflow():
    r = chance_to_beat_mean(0.0, 1e-300, 100, 1.0, 1e-300, 100)
    assert r.chance_to_beat == 1.0
    assert r.expected_loss_treatment == 0.0
    assert r.expected_loss_control == 1.0


def test_mean_model_zero_control_mean_flags_zero_baseline_but_keeps_chance():
    r = chance_to_beat_mean(0.0, 4.0, 100, 0.5, 4.0, 100)
    assert r.status == Status.ZERO_BASELINE
    assert math.isnan(r.rel_lift)
    assert r.chance_to_beat == pytest.approx(stats.norm.sf(0, 0.5, math.sqrt(0.08)), rel=1e-12)


def test_mean_model_bad_prior_variance_raises():
    with pytest.raises(
        ValueError, match=r"prior=\(0.0, 0.0\) is invalid: must be \(mean, variance > 0\)"
    ):
        chance_to_beat_mean(1.0, 1.0, 10, 1.0, 1.0, 10, prior=(0.0, 0.0))


def test_prob_best_beta_two_arms_matches_evan_miller():
    p = prob_best_beta([31, 38], [1000, 1000])
    assert p[1] == pytest.approx(evan_miller(32, 970, 39, 963), abs=1e-8)
    assert p.sum() == pytest.approx(1.0, abs=1e-12)


def test_prob_best_beta_three_arms_matches_big_monte_carlo():
    successes, trials = np.array([31, 38, 35]), np.array([1000, 1000, 900])
    rng = np.random.default_rng(3)
    draws = rng.beta(1 + successes, 1 + trials - successes, size=(MC_DRAWS, 3))
    oracle = np.bincount(draws.argmax(axis=1), minlength=3) / MC_DRAWS
    se = np.sqrt(oracle * (1 - oracle) / MC_DRAWS)
    assert np.all(np.abs(prob_best_beta(successes, trials) - oracle) < 5 * se)


def test_prob_best_is_vectorised_over_leading_axes():
    s = np.array([[31, 38, 35], [0, 2, 1], [300, 290, 310]])
    n = np.array([[1000, 1000, 900], [10, 10, 10], [9000, 9000, 9000]])
    batch = prob_best_beta(s, n)
    rows = np.stack([prob_best_beta(s[i], n[i]) for i in range(3)])
    np.testing.assert_allclose(batch, rows, rtol=1e-12)


def test_prob_best_of_identical_arms_is_uniform():
    np.testing.assert_allclose(prob_best_beta([5] * 4, [50] * 4), 0.25, rtol=1e-12)
    np.testing.assert_allclose(prob_best_normal([2.0] * 3, [0.5] * 3), 1 / 3, rtol=1e-12)


def test_prob_best_normal_matches_quad_for_two_arms_and_monte_carlo_for_three():
    p2 = prob_best_normal([0.0, 0.1], [0.2, 0.05])
    assert p2[1] == pytest.approx(stats.norm.sf(0, 0.1, math.sqrt(0.04 + 0.0025)), abs=1e-9)
    means, ses = np.array([1.0, 1.1, 1.05]), np.array([0.1, 0.02, 0.3])
    rng = np.random.default_rng(9)
    oracle = np.bincount(rng.normal(means, ses, (MC_DRAWS, 3)).argmax(1), minlength=3) / MC_DRAWS
    se = np.sqrt(oracle * (1 - oracle) / MC_DRAWS)
    assert np.all(np.abs(prob_best_normal(means, ses) - oracle) < 5 * se)


def test_prob_best_normal_with_zero_errors_picks_the_larger_mean():
    np.testing.assert_allclose(prob_best_normal([1.0, 2.0], [0.0, 0.0]), [0.0, 1.0], atol=1e-12)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: prob_best_beta([1], [10]), r"successes=\[1\] is invalid: must hold at least two"),
        (lambda: prob_best_beta([1, 12], [10, 10]), r"must satisfy 0 <= successes <= trials"),
        (lambda: prob_best_beta([1, 2], [10, 10, 10]), r"trials=.* must have the shape"),
        (lambda: prob_best_normal([1.0, 2.0], [0.1, -0.1]), r"std_errors=.* must be >= 0"),
    ],
)
def test_bad_multi_arm_arguments_raise_by_name(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_bayes_compare_dispatches_on_sufficient_statistics():
    props = bayes_compare(ProportionStats(1000, 31), ProportionStats(1000, 38))
    assert props == chance_to_beat(31, 1000, 38, 1000)
    c, t = MeanStats(100, 1000.0, 10_396.0), MeanStats(120, 1320.0, 15_591.0)
    means = bayes_compare(c, t)
    assert means == chance_to_beat_mean(c.mean, c.variance, 100, t.mean, t.variance, 120)
    assert bayes_compare(MeanStats(0, 0.0, 0.0), t).status == Status.EMPTY_ARM
    with pytest.raises(ValueError, match=r"must both be ProportionStats or both be MeanStats"):
        bayes_compare(ProportionStats(10, 1), t)


def test_result_is_frozen_and_reports_its_credible_level():
    r = chance_to_beat(31, 1000, 38, 1000, alpha=0.1)
    assert isinstance(r, BayesResult)
    assert r.credible_level == pytest.approx(0.9)
    with pytest.raises(AttributeError):
        r.chance_to_beat = 1.0  # type: ignore[misc]
