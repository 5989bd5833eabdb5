"""A bandit's arms are judged by the monitor like any challenger: one that breaks an SLO
rule is stopped, after the bandit's updates as before them."""

from __future__ import annotations

from datetime import timedelta

from champion.monitor.tick import tick
from champion.registry import Registry
from champion.spec.models import Experiment
from tests.monitor.test_tick import make_spec, opener, started, write


def test_a_bandit_arm_that_breaks_the_error_rule_is_stopped(tmp_path):
    db = f"sqlite:///{tmp_path / 'registry.db'}"
    data = make_spec().model_dump(exclude_none=True)
    data["bandit"] = {"reward": "converted", "holdout": 0.1}
    spec = Experiment.model_validate(data)
    state, t0 = started(db, spec)
    with Registry(db) as reg:
        state = reg.reweight("exp", {"a": 0.9, "b": 0.1}, by="bandit", reason="update")
    write(tmp_path / "ev", "exp", state.version, t0, 6, rate_b=0.08)
    with Registry(db) as reg:
        (result,) = tick(reg, opener(tmp_path / "ev"), now=t0 + timedelta(minutes=6, seconds=10))
        assert result.action == "stop"
        stopped = reg.get("exp")
        assert stopped.state.value == "stopped"
        assert stopped.allocation == {"a": 1.0, "b": 0.0}
        assert reg.history("exp")[-1].reason.startswith("guardrail stop: error_rate")
