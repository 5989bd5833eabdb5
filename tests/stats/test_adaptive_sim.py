"""The bandit simulator: weights recomputed independently, the holdout kept out, draws seeded."""

import math

import numpy as np
import pytest

from champion.stats.adaptive_sim import simulate_adaptive
from champion.stats.bandits import bernoulli_weights


@pytest.fixture(scope="module")
def sim():
    return simulate_adaptive([0.05, 0.1], n_requests=2000, batch_size=200, n_runs=300, seed=5)


def test_policy_weights_are_thompson_weights_of_earlier_policy_batches_only(sim):
    s = sim.stats
    policy = ~s.holdout
    wins = np.cumsum(s.reward_sum[:, policy], axis=1)
    served = np.cumsum(s.served[:, policy], axis=1)
    for t in range(1, policy.sum()):
        expected = bernoulli_weights(wins[:, t - 1], served[:, t - 1], min_share=0.05)
        np.testing.assert_allclose(s.propensity[:, policy][:, t], expected, rtol=1e-12)
    np.testing.assert_array_equal(s.propensity[:, 0], 0.5)


def test_the_holdout_is_served_uniformly_and_takes_its_share(sim):
    s = sim.stats
    np.testing.assert_array_equal(s.propensity[:, s.holdout], 0.5)
    held = s.requests[:, s.holdout].sum()
    total = s.requests.sum()
    assert total == 300 * 2000
    assert held / total == pytest.approx(0.1, abs=5 * math.sqrt(0.09 / total))


def test_served_counts_follow_the_published_weights(sim):
    s = sim.stats
    n = s.requests[..., None]
    expected = (n * s.propensity)[..., 1].sum()
    sd = math.sqrt((n * s.propensity * (1 - s.propensity))[..., 1].sum())
    assert s.served[..., 1].sum() == pytest.approx(expected, abs=5 * sd)


def test_rewards_follow_the_true_rates(sim):
    s = sim.stats
    for k, rate in enumerate((0.05, 0.1)):
        n = s.served[..., k].sum()
        assert s.reward_sum[..., k].sum() / n == pytest.approx(
            rate, abs=5 * math.sqrt(rate * (1 - rate) / n)
        )


def test_targets_of_a_stationary_null_are_the_common_rate():
    sim = simulate_adaptive([0.2, 0.2], n_requests=1000, n_runs=10, seed=1)
    np.testing.assert_allclose(sim.arm_value, 0.2)
    np.testing.assert_allclose(sim.bandit_value, 0.2)
    np.testing.assert_allclose(sim.holdout_value, 0.2)
    np.testing.assert_allclose(sim.weighted_arm_value(), 0.2)


def test_a_drifting_reward_has_one_row_of_rates_per_batch():
    rates = np.linspace([0.1, 0.2], [0.3, 0.4], 4)
    sim = simulate_adaptive(rates, n_requests=1000, batch_size=250, n_runs=5, seed=2)
    np.testing.assert_allclose(sim.arm_value, [0.2, 0.3])
    assert sim.stats.batch.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]


def test_one_run_is_the_slice_of_the_arrays(sim):
    one = sim.run(7)
    np.testing.assert_array_equal(one.served, sim.stats.served[7])
    np.testing.assert_array_equal(one.propensity, sim.stats.propensity[7])


def test_the_same_seed_gives_the_same_runs():
    a = simulate_adaptive([0.1, 0.2], n_requests=500, n_runs=4, seed=9)
    b = simulate_adaptive([0.1, 0.2], n_requests=500, n_runs=4, seed=9)
    np.testing.assert_array_equal(a.stats.reward_sum, b.stats.reward_sum)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"holdout": 1.0}, r"holdout=1.0 is invalid: must be a share in \[0, 1\)"),
        ({"true_rates": [0.1]}, r"true_rates=\(1, 1\) is invalid: must be K >= 2 rates"),
        ({"true_rates": [0.1, 1.2]}, r"true_rates=1.2 is invalid: must be a proportion"),
        ({"n_runs": 0}, r"n_runs=0 is invalid: must be an integer >= 1"),
        ({"min_share": 0.6}, r"min_share=0.6 is invalid: min_share \* arms must be <= 1"),
    ],
)
def test_bad_arguments_are_refused_by_name(kwargs, match):
    args = {"true_rates": [0.1, 0.2], "n_requests": 100, "n_runs": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        simulate_adaptive(**args)
