"""``champion.decide.apply_decision``, the one function behind ``champion decide apply``, the
admin API's decide route and the demo, on a real SQLite registry: each decision's registry
change, the stage held ``min_stage_hours`` unless forced with a reason, and a plan made for
a version the experiment has left refused."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from champion.analysis.decision import Decision
from champion.decide import apply_decision
from champion.errors import InvalidArgument, StageHeldTooBriefly, StaleVersion
from champion.registry import Registry
from tests.analysis._events import make_spec

NAME = "checkout-v2"
MODELS = {v: {"kind": "python", "target": "models:score"} for v in ("v1", "v2", "v3")}


@dataclass(frozen=True)
class Readout:
    """What apply_decision reads of a report: its decision."""

    decision: Decision


def _running(tmp_path, hours: float = 0.0) -> Registry:
    spec = make_spec(models=MODELS, challengers=["v2", "v3"],
                     allocation={"v1": 0.8, "v2": 0.1, "v3": 0.1},
                     rollout={"stages": [10, 50, 100], "min_stage_hours": hours})  # fmt: skip
    registry = Registry(f"sqlite:///{tmp_path / 'champion.db'}")
    registry.create(spec, reason="test")
    registry.start(NAME, reason="test")
    return registry


def _say(decision: str, variant: str | None = "v3") -> Readout:
    return Readout(Decision(decision, ("because the test says so",), variant))


def test_rollout_moves_the_named_challenger_stage_by_stage_and_the_last_promotes(tmp_path):
    with _running(tmp_path) as registry:
        first = apply_decision(registry, NAME, _say("rollout_gradual"), by="t")
        assert first.state is not None
        assert first.state.allocation == pytest.approx({"v1": 0.4, "v2": 0.1, "v3": 0.5})
        last = apply_decision(registry, NAME, _say("rollout_full"), by="t")
        assert (last.plan.action, last.plan.to_percent) == ("promote", 100.0)
        state = registry.get(NAME)
        assert state.allocation == {"v1": 0.0, "v2": 0.0, "v3": 1.0}
        assert [e.action for e in registry.history(NAME)][-2:] == ["ramp", "promote"]


@pytest.mark.parametrize(
    ("decision", "action", "state"),
    [("rollback", "rollback", "rolled_back"), ("keep", "stop", "stopped"),
     ("extend", "none", "running")],
)  # fmt: skip
def test_each_decision_makes_its_change(tmp_path, decision, action, state):
    with _running(tmp_path) as registry:
        done = apply_decision(registry, NAME, _say(decision), by="t")
        assert done.plan.action == action
        assert done.applied == (action != "none")
        assert registry.get(NAME).state.value == state


def test_a_stage_is_held_unless_forced_with_a_reason(tmp_path):
    with _running(tmp_path, hours=24) as registry:
        with pytest.raises(StageHeldTooBriefly, match=r"served 0\.0 h .* holds each stage 24 h"):
            apply_decision(registry, NAME, _say("rollout_full"))
        with pytest.raises(InvalidArgument, match="force needs a reason"):
            apply_decision(registry, NAME, _say("rollout_full"), force=True, reason="  ")
        assert registry.get(NAME).version == 2
        later = datetime.now(UTC) + timedelta(hours=25)  # the clock the plan is made on
        done = apply_decision(registry, NAME, _say("rollout_full"), now=later)
        assert done.applied
        assert "forced" not in registry.history(NAME)[-1].reason


def test_a_plan_for_a_version_the_experiment_left_is_refused(tmp_path):
    with _running(tmp_path) as registry:
        with pytest.raises(StaleVersion):
            apply_decision(registry, NAME, _say("rollout_full"), expected_version=1)
        assert registry.get(NAME).version == 2
