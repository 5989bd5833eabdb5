"""The policy's update: Thompson weights from the rewards so far, published as a version.

Only units outside the holdout train the policy. A proportion reward uses the Beta-Bernoulli
posterior (prior Beta(1, 1)); a mean uses the normal approximation of each arm's mean, and
the weights stay uniform until every arm has two units. Every arm keeps at least
``min_share``. The weights are written through the registry (action ``reweight``), so every
gateway worker serves the same allocation version once it polls, and the audit log keeps
the counts they came from.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from champion.bandit.rewards import UnitRewards, read_unit_rewards
from champion.errors import InvalidArgument
from champion.spec import Experiment
from champion.stats import thompson_weights

__all__ = ["BanditUpdate", "policy_weights", "update_weights"]


@dataclass(frozen=True, slots=True)
class BanditUpdate:
    """What an update computed and (unless a dry run) published."""

    experiment: str
    weights: dict[str, float]
    units: dict[str, int]
    rewards: dict[str, float]
    holdout_units: int
    version: int | None  # the allocation version published (None: a dry run)

    def to_dict(self) -> dict[str, Any]:
        return {
            "experiment": self.experiment, "weights": self.weights, "units": self.units,
            "rewards": self.rewards, "holdout_units": self.holdout_units,
            "version": self.version,
        }  # fmt: skip


def policy_weights(spec: Experiment, data: UnitRewards) -> dict[str, float]:
    """The Thompson weights the policy's units give (see the module)."""
    assert spec.bandit is not None
    total, squares, n = data.policy_counts()
    floor = spec.bandit.min_share
    metric_kind = next(
        m.kind for m in [spec.metrics.primary, *spec.metrics.secondary]
        if m.name == spec.bandit.reward
    )  # fmt: skip
    if metric_kind == "proportion":
        weights = thompson_weights(total, n, min_share=floor)
    else:  # an arm with fewer than two units keeps the row uniform (gaussian_weights)
        with np.errstate(invalid="ignore", divide="ignore"):
            means = total / n
            variances = np.maximum((squares - n * means**2) / (n - 1), 1e-12)
        weights = thompson_weights(means, variances, n, reward="gaussian", min_share=floor)
    return {arm: float(w) for arm, w in zip(data.arms, weights, strict=True)}


def update_weights(
    registry: Any, events: str | os.PathLike[str], name: str, *, dry_run: bool = False,
    by: str | None = None, as_of: datetime | None = None,
) -> BanditUpdate:  # fmt: skip
    """Recompute ``name``'s weights from ``events`` and publish them (unless ``dry_run``)."""
    spec = registry.spec(name)
    if spec.bandit is None:
        raise InvalidArgument("name", name, "is not a bandit: its spec has no 'bandit' block")
    data = read_unit_rewards(events, spec, as_of=as_of or datetime.now(UTC))
    weights = policy_weights(spec, data)
    total, _, n = data.policy_counts()
    units = {arm: int(c) for arm, c in zip(data.arms, n, strict=True)}
    rewards = {arm: float(t) for arm, t in zip(data.arms, total, strict=True)}
    version = None
    if not dry_run:
        state = registry.reweight(
            name, weights, by=by,
            reason=f"bandit update from {int(n.sum()):,} policy units",
            evidence={"units": units, "rewards": rewards, "weights": weights},
        )  # fmt: skip
        version = state.version
    return BanditUpdate(name, weights, units, rewards, int(data.holdout.sum()), version)
