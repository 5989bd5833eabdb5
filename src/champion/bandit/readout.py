"""A bandit's read-out: each number with what it is valid for (docs/bandits.md).

Units whose reward window has closed count; each is one "request" of the adaptive
statistics, in the stratum of its first exposure's allocation version (holdout units in
that version's holdout stratum) with the probability it had of its arm.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from champion.bandit.rewards import UnitRewards, read_unit_rewards
from champion.spec import Experiment
from champion.stats.adaptive import (
    VALID_FOR,
    AdaptiveStats,
    adaptive_stats,
    arm_values,
    gain_over_uniform,
)

__all__ = ["bandit_readout", "unit_stats"]

LAUNCH = (
    "For a launch decision use 'bandit_vs_holdout' (a randomised comparison): the per-arm "
    "'naive' means are biased by the adaptive allocation and decide nothing."
)


def unit_stats(data: UnitRewards) -> AdaptiveStats:
    """The adaptive statistics of the units whose window closed."""
    closed = data.closed
    versions = sorted(set(data.version[closed].tolist()))
    stratum = {v: i for i, v in enumerate(versions)}
    return adaptive_stats(
        [stratum[v] for v in data.version[closed].tolist()],
        data.arm[closed],
        data.probability[closed],
        data.reward[closed],
        holdout=data.holdout[closed],
        arms=len(data.arms),
    )


def bandit_readout(
    events: str | os.PathLike[str], spec: Experiment, *, as_of: datetime, alpha: float = 0.05
) -> dict[str, Any]:
    """The bandit's labelled estimates as plain JSON-ready values."""
    data = read_unit_rewards(events, spec, as_of=as_of)
    closed = int(data.closed.sum())
    out: dict[str, Any] = {
        "arms": list(data.arms),
        "units": len(data),
        "units_with_reward": closed,
        "holdout_units": int(data.holdout[data.closed].sum()),
        "launch_decision": LAUNCH,
    }
    if closed == 0:
        out["status"] = "empty"
        return out
    stats = unit_stats(data)
    gain = gain_over_uniform(stats, alpha=alpha)
    out["status"] = "ok"
    out["bandit_vs_holdout"] = gain.to_dict()
    out["arm_values"] = arm_values(stats, alpha=alpha).to_dict()
    out["valid_for"] = dict(VALID_FOR)
    return out
