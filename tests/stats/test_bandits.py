"""Thompson weights against quadrature and Monte Carlo oracles; the regret simulator seeded."""

import math

import numpy as np
import pytest
from scipy import integrate, stats

from champion.stats.bandits import (
    RegretSimulation,
    bernoulli_weights,
    gaussian_weights,
    simulate_regret,
    thompson_weights,
)

MC_DRAWS = 2_000_000
SEED_RATES = (0.031, 0.038)  # the seed article's bandit race: model A 3.1%, model B 3.8%


def quad_p_second_beats_first(a1, b1, a2, b2):
    """P(X2 > X1) = ∫_0^1 F_1(F_2^-1(u)) du with scipy quad."""
    f = lambda u: stats.beta.cdf(stats.beta.ppf(u, a2, b2), a1, b1)  # noqa: E731
    return integrate.quad(f, 0, 1, epsabs=1e-13, limit=400)[0]


@pytest.mark.parametrize(
    ("successes", "trials"),
    [([31, 38], [1000, 1000]), ([0, 3], [20, 25]), ([300, 310], [1e4, 9e3])],
)
def test_two_arm_weights_match_quadrature(successes, trials):
    w = thompson_weights(successes, trials)
    (s1, s2), (n1, n2) = successes, trials
    oracle = quad_p_second_beats_first(1 + s1, 1 + n1 - s1, 1 + s2, 1 + n2 - s2)
    assert w[1] == pytest.approx(oracle, abs=1e-8)
    assert w.sum() == pytest.approx(1.0, abs=1e-12)


def test_three_arm_weights_match_big_monte_carlo():
    successes, trials = np.array([12, 20, 15]), np.array([400, 420, 380])
    rng = np.random.default_rng(42)
    draws = rng.beta(1 + successes, 1 + trials - successes, size=(MC_DRAWS, 3))
    oracle = np.bincount(draws.argmax(axis=1), minlength=3) / MC_DRAWS
    se = np.sqrt(oracle * (1 - oracle) / MC_DRAWS)
    assert np.all(np.abs(thompson_weights(successes, trials) - oracle) < 5 * se)


def test_gaussian_weights_match_closed_form_for_two_arms_and_monte_carlo_for_three():
    w2 = thompson_weights([10.0, 10.4], [4.0, 9.0], [100, 120], reward="gaussian")
    sd = math.sqrt(4.0 / 100 + 9.0 / 120)
    assert w2[1] == pytest.approx(stats.norm.sf(0, 0.4, sd), abs=1e-9)
    means, variances, counts = np.array([5.0, 5.2, 5.1]), np.array([4.0, 9.0, 1.0]), [80, 60, 50]
    se = np.sqrt(variances / counts)
    rng = np.random.default_rng(8)
    draws = rng.normal(means, se, size=(MC_DRAWS, 3))
    oracle = np.bincount(draws.argmax(axis=1), minlength=3) / MC_DRAWS
    w3 = thompson_weights(means, variances, counts, reward="gaussian")
    assert np.all(np.abs(w3 - oracle) < 5 * np.sqrt(oracle * (1 - oracle) / MC_DRAWS))


def test_min_share_floors_each_arm_and_splits_the_rest_by_chance_of_being_best():
    # A hopeless arm keeps 5%; the other 90% follows P(best), here from quadrature for K=2.
    successes, trials = [2, 60], [1000, 1000]
    oracle = quad_p_second_beats_first(3, 999, 61, 941)
    w = thompson_weights(successes, trials, min_share=0.05)
    assert w == pytest.approx([0.05 + 0.9 * (1 - oracle), 0.05 + 0.9 * oracle], abs=1e-8)
    assert w.min() >= 0.05
    assert w.sum() == pytest.approx(1.0, abs=1e-12)


def test_min_share_at_its_limit_gives_a_uniform_split():
    np.testing.assert_allclose(bernoulli_weights([0, 9, 90], [100] * 3, min_share=1 / 3), 1 / 3)


def test_weights_are_vectorised_over_runs():
    s = np.array([[31, 38], [0, 0], [5, 1]])
    n = np.array([[1000, 1000], [10, 10], [40, 50]])
    rows = np.stack([thompson_weights(s[i], n[i], min_share=0.01) for i in range(3)])
    np.testing.assert_allclose(thompson_weights(s, n, min_share=0.01), rows, rtol=1e-12)
    np.testing.assert_allclose(rows[1], [0.5, 0.5], rtol=1e-12)  # no data: the prior's split


def test_gaussian_weights_stay_uniform_until_every_arm_has_two_observations():
    w = gaussian_weights(
        [[3.0, math.nan], [3.0, 1.0]], [[1.0, math.nan], [1.0, 1.0]], [[50, 0]] * 2
    )
    np.testing.assert_array_equal(w, [[0.5, 0.5], [0.5, 0.5]])
    ready = gaussian_weights([3.0, 1.0], [1.0, 1.0], [50, 2])
    assert ready[0] == pytest.approx(stats.norm.cdf(2.0 / math.sqrt(1 / 50 + 1 / 2)), abs=1e-9)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: thompson_weights([1, 2, 3], [9, 9, 9], min_share=0.4),
            r"min_share=0.4 .*<= 0.3333",
        ),
        (lambda: thompson_weights([1, 2], [9, 9], min_share=-0.1), r"min_share=-0.1 .*>= 0"),
        (lambda: thompson_weights([1, 2], [9, 9], reward="poisson"), r"reward='poisson' .*one of"),
        (lambda: thompson_weights([1, 2], reward="bernoulli"), r"takes \(successes, trials\)"),
        (lambda: thompson_weights([1.0], [1.0], reward="gaussian"), r"takes \(means, variances"),
        (lambda: thompson_weights([1, 2], [1, 1], [5, 5], reward="gaussian", prior=(0, 1)), "flat"),
        (lambda: thompson_weights([5, 2], [4, 9]), r"0 <= successes <= trials"),
        (lambda: gaussian_weights([1.0, 2.0], [-1.0, 1.0], [5, 5]), r"variances=.* >= 0"),
        (lambda: gaussian_weights([math.nan, 2.0], [1.0, 1.0], [5, 5]), r"means=.* must be finite"),
    ],
)
def test_bad_arguments_raise_by_name(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.fixture(scope="module")
def seed_race():
    # The seed's race, 10,000 requests re-weighted every 100, 1,000 runs per policy.
    return (
        simulate_regret(SEED_RATES, policy="fixed", n_runs=1000, seed=1),
        simulate_regret(SEED_RATES, policy="thompson", n_runs=1000, seed=2),
    )


def test_fixed_split_regret_matches_its_expectation(seed_race):
    fixed, _ = seed_race
    # E = 10,000 x 0.5 x 0.007 = 35; per run, requests to the worse arm ~ Binomial(10,000, 1/2),
    # so the regret's SD is 0.007 x 50 = 0.35 and the mean's SE 0.35 / sqrt(1000).
    assert fixed.mean_regret == pytest.approx(35.0, abs=4 * 0.35 / math.sqrt(1000))
    assert fixed.regret_se == pytest.approx(0.35 / math.sqrt(1000), rel=0.1)


def test_thompson_regret_is_well_below_the_fixed_split(seed_race):
    fixed, thompson = seed_race
    # Seen with these seeds: Thompson 15.7 ± 0.4 against 35.0 for the fixed split.
    assert thompson.mean_regret + 4 * thompson.regret_se < 0.6 * fixed.mean_regret
    assert np.all(np.diff(thompson.regret_curve) >= 0)


def test_thompson_sends_most_late_traffic_to_the_better_arm(seed_race):
    fixed, thompson = seed_race
    # Last 2,000 requests: seen 0.865 to model B under Thompson, 0.500 under the fixed split.
    assert thompson.traffic_share(after=8000)[1] > 0.8
    assert fixed.traffic_share(after=8000)[1] == pytest.approx(0.5, abs=0.01)
    assert thompson.traffic.sum(axis=1).tolist() == [10_000] * 1000


def test_simulated_batches_follow_the_thompson_weights():
    # Given each run's first batch, the second batch's expected traffic is 100 x the floored
    # Thompson weights; summed over 4,000 runs the counts must match within 5 SE.
    sim = simulate_regret(SEED_RATES, n_requests=200, batch_size=100, min_share=0.1, n_runs=4000)
    first_s, first_n = sim.successes[:, 0], sim.allocation[:, 0]
    w = thompson_weights(first_s, first_n, min_share=0.1)
    expected = 100 * w[:, 1]
    sd = math.sqrt(np.sum(100 * w[:, 1] * (1 - w[:, 1])))
    assert sim.allocation[:, 1, 1].sum() == pytest.approx(expected.sum(), abs=5 * sd)


def test_first_batch_is_split_evenly_by_a_symmetric_prior():
    sim = simulate_regret(SEED_RATES, n_requests=100, n_runs=2000, seed=3)
    share = sim.traffic_share()[1]
    assert share == pytest.approx(0.5, abs=5 * math.sqrt(0.25 / 200_000))


def test_simulation_is_reproducible_from_its_seed():
    a = simulate_regret(SEED_RATES, n_requests=500, n_runs=50, seed=7)
    b = simulate_regret(SEED_RATES, n_requests=500, n_runs=50, seed=7)
    c = simulate_regret(SEED_RATES, n_requests=500, n_runs=50, seed=8)
    assert isinstance(a, RegretSimulation)
    np.testing.assert_array_equal(a.allocation, b.allocation)
    assert not np.array_equal(a.allocation, c.allocation)


def test_last_batch_may_be_partial():
    sim = simulate_regret(SEED_RATES, n_requests=250, batch_size=100, n_runs=3)
    np.testing.assert_array_equal(sim.batch_ends, [100, 200, 250])
    np.testing.assert_array_equal(sim.allocation.sum(axis=2)[:, -1], [50, 50, 50])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"true_rates": [0.5]}, r"true_rates=\[0.5\] is invalid: must list at least two"),
        ({"true_rates": [0.5, 1.5]}, r"true_rates=1.5 is invalid: must be a proportion"),
        ({"policy": "greedy"}, r"policy='greedy' is invalid: must be one of thompson, fixed"),
        ({"batch_size": 0}, r"batch_size=0 is invalid: must be an integer >= 1"),
        ({"n_runs": 2.5}, r"n_runs=2.5 is invalid"),
        ({"min_share": 0.6}, r"min_share=0.6 is invalid"),
    ],
)
def test_bad_simulation_arguments_raise_by_name(kwargs, match):
    args = {"true_rates": SEED_RATES, **kwargs}
    with pytest.raises(ValueError, match=match):
        simulate_regret(args.pop("true_rates"), **args)
