"""The two-arm bandit spec the bandit tests share (arms a and b, reward ``converted``)."""

from __future__ import annotations

from typing import Any

from champion.spec.models import Experiment


def bandit_spec(**bandit: Any) -> Experiment:
    """Arms ``a`` (champion) and ``b``, a 1-day ``converted`` reward; ``bandit`` fields override."""
    return Experiment.model_validate({
        "name": "race",
        "models": {v: {"kind": "python", "target": f"m:{v}"} for v in ("a", "b")},
        "champion": "a", "challengers": ["b"], "allocation": {"a": 0.5, "b": 0.5},
        "metrics": {"primary": {"name": "converted", "window_days": 1}},
        "bandit": {"reward": "converted", **bandit},
    })  # fmt: skip
