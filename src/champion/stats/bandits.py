"""Bandit allocation: Thompson-sampling weights and a regret simulator.

A challenger that is clearly worse should not keep half the traffic. Thompson sampling gives each
arm the posterior probability that it is the best (randomized probability matching), so traffic
drifts to the winner as evidence accumulates. A real system re-weights once per batch (the
monitor recomputes the weights, the registry publishes them), so the weights here are a batch
update, computed by deterministic quadrature (no sampling, no seed).

Caveat: adaptive allocation biases naive estimates (an arm that got lucky early gets more
traffic, an unlucky one is starved and its estimate stays low). Every exposure must log the
probability with which the unit got its arm, so the analysis can re-weight (inverse propensity).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from champion.errors import InvalidArgument
from champion.stats._checks import check_rate
from champion.stats.bayes import (
    DEFAULT_BETA_PRIOR,
    check_beta_prior,
    prob_best_beta,
    prob_best_normal,
)

__all__ = [
    "POLICIES",
    "REWARDS",
    "RegretSimulation",
    "bernoulli_weights",
    "gaussian_weights",
    "simulate_regret",
    "thompson_weights",
]

REWARDS = ("bernoulli", "gaussian")
POLICIES = ("thompson", "fixed")
_CHUNK_DRAWS = 1 << 21  # posterior draws held in memory at once by the simulator


def _check_min_share(min_share: float, arms: int) -> float:
    if not (isinstance(min_share, int | float | np.floating) and 0 <= min_share < math.inf):
        raise InvalidArgument("min_share", min_share, "must be a number >= 0")
    if min_share * arms > 1 + 1e-12:
        rule = f"min_share * arms must be <= 1 (with {arms} arms: min_share <= {1 / arms:.4g})"
        raise InvalidArgument("min_share", min_share, rule)
    return float(min_share)


def _floor(p_best: np.ndarray, min_share: float) -> np.ndarray:
    """Every arm gets ``min_share``; the remaining 1 - K min_share follows P(best)."""
    arms = p_best.shape[-1]
    shares: np.ndarray = min_share + (1 - arms * _check_min_share(min_share, arms)) * p_best
    return shares


def bernoulli_weights(
    successes: ArrayLike,
    trials: ArrayLike,
    *,
    prior: tuple[float, float] = DEFAULT_BETA_PRIOR,
    min_share: float = 0.0,
) -> np.ndarray:
    """Weights for 0/1 rewards: P(arm is best) under Beta(a + s, b + n - s) posteriors."""
    return _floor(prob_best_beta(successes, trials, prior=prior), min_share)


def gaussian_weights(
    means: ArrayLike, variances: ArrayLike, counts: ArrayLike, *, min_share: float = 0.0
) -> np.ndarray:
    """Weights for real-valued rewards: P(arm is best) with arm means ~ N(mean, variance / n).

    The prior is flat, so an arm needs two observations for a posterior; until every arm of a
    row has them the row stays uniform (values of arms with fewer are ignored, NaN allowed).
    """
    n = np.asarray(counts, dtype=float)
    if n.ndim < 1 or n.shape[-1] < 2 or not np.all(np.isfinite(n)) or np.any(n < 0):
        raise InvalidArgument("counts", counts, "must be finite numbers >= 0 for two or more arms")
    m, v = np.asarray(means, dtype=float), np.asarray(variances, dtype=float)
    for name, arr in (("means", m), ("variances", v)):
        if arr.shape != n.shape:
            raise InvalidArgument(name, arr.tolist(), f"must have the shape of counts {n.shape}")
    known = n >= 2
    m, v = np.where(known, m, 0.0), np.where(known, v, 0.0)
    if not np.all(np.isfinite(m)):
        raise InvalidArgument("means", means, "must be finite for arms with two or more counts")
    if not np.all(np.isfinite(v)) or np.any(v < 0):
        raise InvalidArgument("variances", variances, "must be finite numbers >= 0")
    p = prob_best_normal(m, np.sqrt(v / np.where(known, n, 1.0)))
    p = np.where(np.all(known, axis=-1, keepdims=True), p, 1.0 / n.shape[-1])
    return _floor(p, min_share)


def thompson_weights(
    *stats: ArrayLike,
    reward: str = "bernoulli",
    prior: tuple[float, float] | None = None,
    min_share: float = 0.0,
) -> np.ndarray:
    """Thompson-sampling allocation: the probability that each arm is best, floored.

    ``reward="bernoulli"``: ``thompson_weights(successes, trials, prior=(a, b))`` (default
    Beta(1, 1)); ``reward="gaussian"``: ``thompson_weights(means, variances, counts)`` (flat
    prior). Arms on the last axis, leading axes vectorised; rows sum to 1 and every arm keeps
    at least ``min_share``.

    >>> thompson_weights([31, 38], [1000, 1000], min_share=0.05).round(3)
    array([0.228, 0.772])
    """
    if reward not in REWARDS:
        raise InvalidArgument("reward", reward, f"must be one of {', '.join(REWARDS)}")
    if reward == "bernoulli":
        if len(stats) != 2:
            raise InvalidArgument("stats", len(stats), "bernoulli takes (successes, trials)")
        successes, trials = stats
        prior = DEFAULT_BETA_PRIOR if prior is None else prior
        return bernoulli_weights(successes, trials, prior=prior, min_share=min_share)
    if len(stats) != 3:
        raise InvalidArgument("stats", len(stats), "gaussian takes (means, variances, counts)")
    if prior is not None:
        raise InvalidArgument("prior", prior, "gaussian rewards use a flat prior: pass None")
    means, variances, counts = stats
    return gaussian_weights(means, variances, counts, min_share=min_share)


@dataclass(frozen=True, slots=True, eq=False)
class RegretSimulation:
    """Simulated runs of one policy: requests and conversions per run, batch and arm.

    Regret is the pseudo-regret: for each request, best rate - rate of the arm it went to.
    """

    policy: str
    true_rates: tuple[float, ...]
    batch_ends: np.ndarray  # requests served once each batch is done, (n_batches,)
    allocation: np.ndarray  # requests, (n_runs, n_batches, arms)
    successes: np.ndarray  # conversions, (n_runs, n_batches, arms)

    @property
    def traffic(self) -> np.ndarray:
        """Requests per run and arm, (n_runs, arms)."""
        traffic: np.ndarray = self.allocation.sum(axis=1)
        return traffic

    @property
    def regret(self) -> np.ndarray:
        """Cumulative regret after each batch, (n_runs, n_batches)."""
        rates = np.asarray(self.true_rates)
        regret: np.ndarray = np.cumsum(self.allocation @ (rates.max() - rates), axis=1)
        return regret

    @property
    def regret_curve(self) -> np.ndarray:
        """Mean cumulative regret over runs after each batch, (n_batches,)."""
        curve: np.ndarray = self.regret.mean(axis=0)
        return curve

    @property
    def final_regret(self) -> np.ndarray:
        return self.regret[:, -1]

    @property
    def mean_regret(self) -> float:
        return float(self.final_regret.mean())

    @property
    def regret_se(self) -> float:
        """Monte Carlo standard error of ``mean_regret``."""
        final = self.final_regret
        return float(final.std(ddof=1) / math.sqrt(final.size)) if final.size > 1 else math.nan

    def traffic_share(self, after: int = 0) -> np.ndarray:
        """Share of each arm among requests of the batches that start at or after ``after``."""
        starts = np.concatenate([[0], self.batch_ends[:-1]])
        counts = self.allocation[:, starts >= after].sum(axis=(0, 1))
        total = counts.sum()
        return counts / total if total > 0 else np.full(counts.shape, math.nan)


def _check_int(value: int, name: str, minimum: int = 1) -> int:
    if not (isinstance(value, int | np.integer) and value >= minimum):
        raise InvalidArgument(name, value, f"must be an integer >= {minimum}")
    return int(value)


def _thompson_batch(
    rng: np.random.Generator, a: np.ndarray, b: np.ndarray, size: int, min_share: float
) -> np.ndarray:
    """Requests per arm in one batch: each request takes the arm of the largest posterior draw
    (so arm k is chosen with probability P(k best)), or, with probability K min_share, a uniform
    arm: together the floored Thompson weights."""
    runs, arms = a.shape
    counts = np.zeros((runs, arms), dtype=np.int64)
    step = max(1, _CHUNK_DRAWS // (runs * arms))
    for done in range(0, size, step):
        chunk = min(step, size - done)
        choice = rng.beta(a[:, None, :], b[:, None, :], size=(runs, chunk, arms)).argmax(axis=-1)
        if min_share > 0:
            explore = rng.random((runs, chunk)) < arms * min_share
            choice = np.where(explore, rng.integers(0, arms, (runs, chunk)), choice)
        counts += (choice[..., None] == np.arange(arms)).sum(axis=1)
    return counts


def simulate_regret(
    true_rates: ArrayLike,
    *,
    n_requests: int = 10_000,
    policy: str = "thompson",
    batch_size: int = 100,
    min_share: float = 0.0,
    prior: tuple[float, float] = DEFAULT_BETA_PRIOR,
    n_runs: int = 1000,
    seed: int = 0,
) -> RegretSimulation:
    """Simulate ``n_runs`` independent experiments of ``policy`` on Bernoulli arms at once.

    ``"fixed"`` splits every batch equally at random; ``"thompson"`` re-weights after every
    ``batch_size`` requests from the conversions seen so far (Beta ``prior``), like a system
    that publishes new weights once per batch. Memory: 8 bytes per run, batch and arm.

    >>> sim = simulate_regret([0.031, 0.038], policy="fixed", n_runs=200, seed=1)
    >>> round(sim.mean_regret)
    35
    """
    rates = np.asarray(true_rates, dtype=float)
    if rates.ndim != 1 or rates.size < 2:
        raise InvalidArgument("true_rates", true_rates, "must list at least two rates")
    for rate in rates:
        check_rate(float(rate), "true_rates")
    if policy not in POLICIES:
        raise InvalidArgument("policy", policy, f"must be one of {', '.join(POLICIES)}")
    n_requests = _check_int(n_requests, "n_requests")
    batch_size = _check_int(batch_size, "batch_size")
    n_runs = _check_int(n_runs, "n_runs")
    min_share = _check_min_share(min_share, rates.size)
    a0, b0 = check_beta_prior(prior)
    rng = np.random.default_rng(seed)
    batch_ends = np.minimum(np.arange(batch_size, n_requests + batch_size, batch_size), n_requests)
    sizes = np.diff(batch_ends, prepend=0)
    shape = (n_runs, sizes.size, rates.size)
    allocation, successes = np.zeros(shape, np.int32), np.zeros(shape, np.int32)
    seen_s, seen_n = np.zeros((n_runs, rates.size)), np.zeros((n_runs, rates.size))
    for i, size in enumerate(sizes):
        if policy == "fixed":
            counts = rng.multinomial(size, np.full(rates.size, 1 / rates.size), size=n_runs)
        else:
            counts = _thompson_batch(rng, a0 + seen_s, b0 + seen_n - seen_s, int(size), min_share)
        wins = rng.binomial(counts, rates)
        allocation[:, i], successes[:, i] = counts, wins
        seen_s += wins
        seen_n += counts
    return RegretSimulation(policy, tuple(rates.tolist()), batch_ends, allocation, successes)
