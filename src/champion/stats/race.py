"""The bandit race: a fixed split against Thompson sampling on the same arms, summarised.

:func:`race` runs :func:`~champion.stats.bandits.simulate_regret` for each policy in chunks of
runs (so a caller can show progress and memory stays small) and keeps what a reader needs:
cumulative regret after every batch (mean and Monte-Carlo SE over runs), the share of each
batch's requests that went to the best arm, and the request from which that share first
exceeds 90%. Chunk ``c`` of policy ``p`` draws from seed ``(seed, POLICIES.index(p), c)``,
so a result depends only on the arguments (racing one policy or both gives the same curves).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from champion.errors import InvalidArgument
from champion.stats._checks import check_rate
from champion.stats.bandits import POLICIES, simulate_regret

__all__ = ["WINNER_SHARE", "PolicyRace", "Race", "race"]

WINNER_SHARE = 0.9  # "the bandit sends most traffic to the winner": more than this share
_CHUNK_RUNS = 50


@dataclass(frozen=True, slots=True, eq=False)
class PolicyRace:
    """One policy's runs, per batch: ``batch_ends`` (requests served once the batch is done),
    ``regret`` and ``regret_se`` (mean cumulative regret over runs and its Monte-Carlo SE),
    ``winner_share`` (share of the batch's requests, over all runs, that went to the best arm;
    NaN when the best rate is shared)."""

    policy: str
    runs: int
    batch_ends: np.ndarray
    regret: np.ndarray
    regret_se: np.ndarray
    winner_share: np.ndarray

    @property
    def final_regret(self) -> float:
        return float(self.regret[-1])

    @property
    def final_regret_se(self) -> float:
        return float(self.regret_se[-1])

    @property
    def first_over(self) -> int | None:
        """The request after which the best arm first gets > 90% of a batch: the first request
        of that batch (None if it never does, or no arm is best)."""
        over = np.flatnonzero(self.winner_share > WINNER_SHARE)
        if over.size == 0:
            return None
        starts = np.concatenate([[0], self.batch_ends[:-1]])
        return int(starts[over[0]]) + 1

    def share_between(self, start: int, end: int) -> float:
        """Share of requests start+1..end that went to the best arm (batch resolution)."""
        sizes = np.diff(self.batch_ends, prepend=0)
        mask = (self.batch_ends > start) & (self.batch_ends <= end)
        if not mask.any() or np.isnan(self.winner_share).all():
            return math.nan
        return float(np.average(self.winner_share[mask], weights=sizes[mask]))

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "runs": self.runs,
            "regret": self.final_regret,
            "regret_se": self.final_regret_se,
            "first_request_over_90pct_to_winner": self.first_over,
            "batch_ends": self.batch_ends.tolist(),
            "regret_curve": self.regret.tolist(),
            "regret_curve_se": self.regret_se.tolist(),
            "winner_share": [None if math.isnan(x) else x for x in self.winner_share.tolist()],
        }


@dataclass(frozen=True, slots=True, eq=False)
class Race:
    rates: tuple[float, ...]
    requests: int
    batch_size: int
    min_share: float
    seed: int
    policies: tuple[PolicyRace, ...]

    @property
    def winner(self) -> int | None:
        """Index of the best arm, None when the best rate is shared."""
        best = max(self.rates)
        return self.rates.index(best) if self.rates.count(best) == 1 else None

    def get(self, policy: str) -> PolicyRace | None:
        return next((p for p in self.policies if p.policy == policy), None)

    @property
    def saved(self) -> tuple[float, float] | None:
        """Regret of the fixed split minus Thompson's, and its SE (both policies raced)."""
        fixed, thompson = self.get("fixed"), self.get("thompson")
        if fixed is None or thompson is None:
            return None
        se = math.hypot(fixed.final_regret_se, thompson.final_regret_se)
        return fixed.final_regret - thompson.final_regret, se

    def to_dict(self) -> dict[str, Any]:
        saved = self.saved
        return {
            "rates": list(self.rates),
            "requests": self.requests,
            "batch_size": self.batch_size,
            "min_share": self.min_share,
            "seed": self.seed,
            "winner": self.winner,
            "regret_saved_by_thompson": None if saved is None else saved[0],
            "regret_saved_se": None if saved is None else saved[1],
            "policies": {p.policy: p.to_dict() for p in self.policies},
        }


def _positive_int(value: int, name: str) -> int:
    if not (isinstance(value, int | np.integer) and value >= 1):
        raise InvalidArgument(name, value, "must be an integer >= 1")
    return int(value)


def race(
    true_rates: ArrayLike,
    *,
    n_requests: int = 10_000,
    n_runs: int = 1000,
    policies: tuple[str, ...] = POLICIES,
    batch_size: int = 100,
    min_share: float = 0.0,
    seed: int = 0,
    progress: Callable[[str, int, int], None] | None = None,
) -> Race:
    """Race ``policies`` on Bernoulli arms with ``true_rates``; ``progress(policy, done, runs)``
    is called after every chunk of runs.

    >>> r = race([0.031, 0.038], n_runs=100, seed=1)
    >>> round(r.get("fixed").final_regret), r.get("thompson").final_regret < 25
    (35, True)
    """
    rates = np.asarray(true_rates, dtype=float)
    if rates.ndim != 1 or rates.size < 2:
        raise InvalidArgument("true_rates", true_rates, "must list at least two rates")
    for rate in rates:
        check_rate(float(rate), "true_rates")
    n_requests = _positive_int(n_requests, "n_requests")
    n_runs = _positive_int(n_runs, "n_runs")
    batch_size = _positive_int(batch_size, "batch_size")
    if not policies or any(p not in POLICIES for p in policies):
        raise InvalidArgument("policies", policies, f"must be some of {', '.join(POLICIES)}")
    if not (0 <= min_share <= 1 / rates.size):
        rule = f"must be in [0, 1 / arms] = [0, {1 / rates.size:.4g}]"
        raise InvalidArgument("min_share", min_share, rule)
    winner = int(rates.argmax()) if np.sum(rates == rates.max()) == 1 else None
    n_batches = -(-n_requests // batch_size)
    out = []
    for policy in policies:
        p_index = POLICIES.index(policy)
        total, sq = np.zeros(n_batches), np.zeros(n_batches)
        to_winner, served = np.zeros(n_batches), np.zeros(n_batches)
        ends = np.empty(0)
        for c, first in enumerate(range(0, n_runs, _CHUNK_RUNS)):
            size = min(_CHUNK_RUNS, n_runs - first)
            chunk_seed = int(np.random.SeedSequence([seed, p_index, c]).generate_state(1)[0])
            sim = simulate_regret(
                rates, n_requests=n_requests, policy=policy, batch_size=batch_size,
                min_share=min_share, n_runs=size, seed=chunk_seed,
            )  # fmt: skip
            regret = sim.regret
            counts = sim.allocation.sum(axis=0)  # (batches, arms)
            total += regret.sum(axis=0)
            sq += (regret * regret).sum(axis=0)
            served += counts.sum(axis=-1)
            if winner is not None:
                to_winner += counts[:, winner]
            ends = sim.batch_ends
            if progress is not None:
                progress(policy, first + size, n_runs)
        mean = total / n_runs
        var = np.maximum(sq - n_runs * mean * mean, 0) / max(n_runs - 1, 1)
        se = np.sqrt(var / n_runs) if n_runs > 1 else np.full(n_batches, math.nan)
        share = to_winner / served if winner is not None else np.full(n_batches, math.nan)
        out.append(PolicyRace(policy, n_runs, ends.copy(), mean, se, share))
    return Race(tuple(rates.tolist()), n_requests, batch_size, float(min_share), seed, tuple(out))
