"""The parts a served bandit is made of: its spec block, its holdout in assignment, its
weights in the registry and the update that computes them."""

from __future__ import annotations

import textwrap
from collections import Counter

import numpy as np
import pytest
from scipy import stats as scipy_stats

from champion.assign import Assigner
from champion.bandit.rewards import UnitRewards
from champion.bandit.update import policy_weights
from champion.errors import InvalidArgument, InvalidTransition, SpecError
from champion.registry import Registry
from champion.spec import parse_spec


def _spec(bandit: str, *, extra: str = "", challengers: str = "[b]") -> str:
    return (
        textwrap.dedent(f"""\
        name: race
        models:
          a: {{kind: python, target: "m:a"}}
          b: {{kind: python, target: "m:b"}}
          c: {{kind: python, target: "m:c"}}
        champion: a
        challengers: {challengers}
        allocation: {{a: 0.5, b: 0.5}}
        metrics:
          primary: {{name: converted, kind: proportion}}
          secondary:
            - {{name: latency_q, kind: quantile, quantile: 0.9}}
        bandit: {bandit}
        """)
        + extra
    )


def test_a_bandit_block_parses_with_its_defaults():
    spec = parse_spec(_spec("{reward: converted, update_every: 90s}"))
    assert spec.bandit is not None
    assert (spec.bandit.min_share, spec.bandit.holdout) == (0.05, 0.1)
    assert spec.bandit.update_seconds == 90.0


@pytest.mark.parametrize(
    ("bandit", "extra", "problem"),
    [
        ("{reward: revenue}", "", "'revenue' is not a metric of this spec"),
        ("{reward: latency_q}", "", "a bandit's reward must be a proportion or a mean"),
        ("{reward: converted, min_share: 0.6}", "", "more than all the traffic"),
        ("{reward: converted, update_every: soon}", "", "update_every"),
        ("{reward: converted, holdout: 0.7}", "", "holdout"),
        ("{reward: converted}", "rollout: {stages: [10, 100]}\n", "remove 'rollout'"),
    ],
)
def test_a_bad_bandit_block_is_refused_with_the_field_and_the_fix(bandit, extra, problem):
    with pytest.raises(SpecError, match=problem):
        parse_spec(_spec(bandit, extra=extra))


def test_the_holdout_gets_a_uniform_split_whatever_the_weights_and_the_rest_the_weights():
    """100,000 units with weights 0.9/0.1 and a 20% holdout: the holdout splits 50/50 and
    the policy units 90/10, each within a chi-square test at 0.1%; the logged probability
    is the split's share; batch assignment agrees with one-by-one."""
    spec = parse_spec(_spec("{reward: converted, holdout: 0.2}"))
    assigner = Assigner.from_spec(spec, allocation={"a": 0.9, "b": 0.1}, version=3)
    units = [f"u{i}" for i in range(100_000)]
    results = [assigner.assign(u) for u in units]
    held = [r for r in results if r.reason == "bandit_holdout"]
    policy = [r for r in results if r.reason == "hash"]
    assert len(held) + len(policy) == len(units)
    assert abs(len(held) / len(units) - 0.2) < 0.01
    for group, shares in ((held, {"a": 0.5, "b": 0.5}), (policy, {"a": 0.9, "b": 0.1})):
        counts = Counter(r.variant for r in group)
        observed = [counts[v] for v in ("a", "b")]
        expected = [shares[v] * len(group) for v in ("a", "b")]
        assert scipy_stats.chisquare(observed, expected).pvalue > 0.001
        for r in group:
            assert r.probability == pytest.approx(shares[r.variant], abs=1e-3)
            assert r.exposed
    names, _ = assigner.assign_batch(units)
    assert list(names) == [r.variant for r in results]


def test_a_holdout_unit_stays_in_the_holdout_and_on_its_arm_when_the_weights_change():
    spec = parse_spec(_spec("{reward: converted, holdout: 0.2}"))
    before = Assigner.from_spec(spec, allocation={"a": 0.5, "b": 0.5}, version=1)
    after = Assigner.from_spec(spec, allocation={"a": 0.05, "b": 0.95}, version=2)
    for u in (f"u{i}" for i in range(5_000)):
        x, y = before.assign(u), after.assign(u)
        assert (x.reason == "bandit_holdout") == (y.reason == "bandit_holdout")
        if x.reason == "bandit_holdout":
            assert x.variant == y.variant


def test_a_request_keyed_bandit_draws_every_request_afresh_at_the_current_weights():
    """``unit: request``: one user's 40,000 requests are 40,000 units, so they follow the
    weights (0.8/0.2) and the holdout (10%, split 50/50) as fresh draws would, each within a
    chi-square test at 0.1%, and each logs its own arm's probability."""
    spec = parse_spec(_spec("{reward: converted, holdout: 0.1}", extra="unit: request\n"))
    assigner = Assigner.from_spec(spec, allocation={"a": 0.8, "b": 0.2}, version=2)
    ids = [f"req-{i}" for i in range(40_000)]
    results = [assigner.assign_request(user_id="same-user", request_id=r) for r in ids]
    assert [r.unit_id for r in results] == ids
    held = [r for r in results if r.reason == "bandit_holdout"]
    policy = [r for r in results if r.reason == "hash"]
    assert len(held) + len(policy) == len(results)
    assert scipy_stats.binomtest(len(held), len(results), 0.1).pvalue > 0.001
    for group, shares in ((held, {"a": 0.5, "b": 0.5}), (policy, {"a": 0.8, "b": 0.2})):
        counts = Counter(r.variant for r in group)
        observed = [counts[v] for v in ("a", "b")]
        expected = [shares[v] * len(group) for v in ("a", "b")]
        assert scipy_stats.chisquare(observed, expected).pvalue > 0.001
        assert all(r.probability == pytest.approx(shares[r.variant], abs=1e-3) for r in group)


def test_the_registry_publishes_a_bandits_weights_as_a_new_version(tmp_path):
    spec = parse_spec(_spec("{reward: converted}"))
    with Registry(f"sqlite:///{tmp_path / 'r.db'}") as registry:
        registry.create(spec, by="t")
        with pytest.raises(InvalidTransition):  # a draft does not serve weights
            registry.reweight("race", {"a": 0.2, "b": 0.8}, by="t")
        registry.start("race", by="t")
        before = registry.get("race").version
        state = registry.reweight("race", {"a": 0.2, "b": 0.8}, by="t", reason="update")
        assert state.version == before + 1
        assert state.allocation == {"a": 0.2, "b": 0.8}
        assert registry.history("race")[-1].action == "reweight"
        with pytest.raises(InvalidArgument, match="give a weight to each"):
            registry.reweight("race", {"a": 1.0}, by="t")


def test_a_spec_without_a_bandit_block_cannot_be_reweighted(tmp_path):
    spec = parse_spec(_spec("{reward: converted}").replace("bandit: {reward: converted}\n", ""))
    with Registry(f"sqlite:///{tmp_path / 'r.db'}") as registry:
        registry.create(spec, by="t")
        registry.start("race", by="t")
        with pytest.raises(InvalidArgument, match="not a bandit"):
            registry.reweight("race", {"a": 0.2, "b": 0.8}, by="t")


def _units(arms: int, arm: list[int], reward: list[float], holdout: list[bool]) -> UnitRewards:
    n = len(arm)
    return UnitRewards(
        arms=tuple("abc"[:arms]), unit_id=np.arange(n).astype(object), arm=np.array(arm),
        probability=np.full(n, 1 / arms), version=np.ones(n, int), holdout=np.array(holdout),
        reward=np.array(reward, float), closed=np.ones(n, bool),
    )  # fmt: skip


def test_the_policy_learns_from_its_own_units_only():
    """Holdout units with the opposite rewards do not move the weights: the weights equal
    the Beta-Bernoulli probability that each arm is best, by Monte Carlo (1M draws)."""
    spec = parse_spec(_spec("{reward: converted, min_share: 0.0}"))
    arm = [0] * 50 + [1] * 50 + [0] * 40 + [1] * 40
    reward = [1.0] * 5 + [0.0] * 45 + [1.0] * 15 + [0.0] * 35 + [1.0] * 40 + [0.0] * 40
    holdout = [False] * 100 + [True] * 80
    weights = policy_weights(spec, _units(2, arm, reward, holdout))
    rng = np.random.default_rng(5)
    draws_a = rng.beta(1 + 5, 1 + 45, 1_000_000)
    draws_b = rng.beta(1 + 15, 1 + 35, 1_000_000)
    assert weights["b"] == pytest.approx((draws_b > draws_a).mean(), abs=0.003)
    assert weights["a"] + weights["b"] == pytest.approx(1.0)
