"""The race summary against simulate_regret run by hand with the documented chunk seeds."""

import math

import numpy as np
import pytest

from champion.stats.bandits import simulate_regret
from champion.stats.race import PolicyRace, race

RATES = (0.031, 0.038)


def _by_hand(policy, p_index, runs, seed, **kw):
    sims = [
        simulate_regret(
            RATES, policy=policy, n_runs=min(50, runs - first),
            seed=int(np.random.SeedSequence([seed, p_index, c]).generate_state(1)[0]), **kw,
        )
        for c, first in enumerate(range(0, runs, 50))
    ]  # fmt: skip
    regret = np.concatenate([s.regret for s in sims])
    alloc = np.concatenate([s.allocation for s in sims])
    return regret, alloc


@pytest.mark.parametrize(("policy", "p_index"), [("thompson", 0), ("fixed", 1)])
def test_race_curves_are_the_mean_and_se_of_the_runs(policy, p_index):
    r = race(RATES, n_requests=2000, n_runs=120, policies=(policy,), seed=4, min_share=0.02)
    regret, alloc = _by_hand(policy, p_index, 120, 4, n_requests=2000, min_share=0.02)
    p = r.get(policy)
    np.testing.assert_allclose(p.regret, regret.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(p.regret_se, regret.std(axis=0, ddof=1) / math.sqrt(120), rtol=1e-9)
    share = alloc[..., 1].sum(axis=0) / alloc.sum(axis=(0, 2))
    np.testing.assert_allclose(p.winner_share, share, rtol=1e-12)
    assert p.final_regret == pytest.approx(regret[:, -1].mean(), rel=1e-12)


def test_racing_one_policy_or_both_gives_the_same_curves():
    both = race(RATES, n_requests=1000, n_runs=60, seed=2)
    alone = race(RATES, n_requests=1000, n_runs=60, seed=2, policies=("thompson",))
    np.testing.assert_array_equal(both.get("thompson").regret, alone.get("thompson").regret)
    assert both.saved[0] == pytest.approx(
        both.get("fixed").final_regret - both.get("thompson").final_regret
    )
    assert alone.saved is None


def test_first_over_is_the_first_request_of_the_first_batch_above_90_percent():
    ends = np.array([100, 200, 300, 400])
    p = PolicyRace("thompson", 1, ends, np.zeros(4), np.zeros(4), np.array([0.5, 0.95, 0.8, 0.99]))
    assert p.first_over == 101
    assert p.share_between(100, 300) == pytest.approx((0.95 + 0.8) / 2)
    never = PolicyRace("fixed", 1, ends, np.zeros(4), np.zeros(4), np.full(4, 0.5))
    assert never.first_over is None


def test_tied_best_rates_have_no_winner():
    r = race([0.05, 0.05], n_requests=300, n_runs=10)
    assert r.winner is None
    assert r.get("thompson").first_over is None
    assert np.isnan(r.get("thompson").winner_share).all()
    assert r.get("fixed").final_regret == 0


def test_progress_reports_every_chunk():
    seen = []
    race(RATES, n_requests=200, n_runs=120, policies=("fixed",), progress=lambda *a: seen.append(a))
    assert seen == [("fixed", 50, 120), ("fixed", 100, 120), ("fixed", 120, 120)]


def test_to_dict_is_plain_json():
    import json

    d = race(RATES, n_requests=300, n_runs=5).to_dict()
    assert json.loads(json.dumps(d, allow_nan=False))["policies"]["fixed"]["runs"] == 5


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"true_rates": [0.1]}, r"true_rates=\[0.1\] is invalid: must list at least two rates"),
        ({"policies": ("greedy",)}, r"policies=\('greedy',\) is invalid: must be some of"),
        ({"min_share": 0.7}, r"min_share=0.7 is invalid: must be in \[0, 1 / arms\]"),
        ({"n_runs": 0}, r"n_runs=0 is invalid: must be an integer >= 1"),
    ],
)
def test_bad_arguments_are_refused_by_name(kwargs, match):
    with pytest.raises(ValueError, match=match):
        race(**{"true_rates": RATES, "n_requests": 100, "n_runs": 2, **kwargs})
