"""A seeded simulator of a batched Thompson bandit with a floor and a uniform holdout.

Many experiments run at once (a leading run axis, numpy throughout). In each batch a share
``holdout`` of the requests is served a uniform split and never trains the policy; the rest is
served the floored Thompson weights computed from the policy's own earlier batches, exactly as
the monitor publishes an allocation version and the gateway logs its ``probability``. The result
is the :class:`~champion.stats.adaptive.AdaptiveStats` the estimators read, plus the true rates,
so the targets of every estimate can be computed (the oracle of the coverage harness).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from champion.errors import InvalidArgument
from champion.stats._checks import check_rate
from champion.stats.adaptive import AdaptiveStats
from champion.stats.bandits import bernoulli_weights
from champion.stats.bayes import DEFAULT_BETA_PRIOR, check_beta_prior

__all__ = ["AdaptiveSimulation", "simulate_adaptive"]


@dataclass(frozen=True, slots=True, eq=False)
class AdaptiveSimulation:
    """Simulated bandit runs: ``stats`` with a run axis and the true rate per batch and arm.

    Targets (what each estimate is compared with):

    - :attr:`arm_value`: the arm's mean rate over the experiment's requests, (K,);
    - :attr:`bandit_value`, :attr:`holdout_value`: per run, the expected reward per request of
      the bandit's requests (under the weights it actually served) and of the holdout's, (R,).
    """

    stats: AdaptiveStats
    rates: np.ndarray  # (n_batches, K)
    batch_sizes: np.ndarray  # (n_batches,)

    @property
    def runs(self) -> int:
        return int(self.stats.requests.shape[0])

    @property
    def arm_value(self) -> np.ndarray:
        value: np.ndarray = self.batch_sizes @ self.rates / self.batch_sizes.sum()
        return value

    def weighted_arm_value(self, weighting: str = "stablevar") -> np.ndarray:
        """Σ h μ / Σ h over requests, (R, K): the stable-var estimator's own target under drift."""
        s = self.stats
        mu = self.rates[s.batch]  # (S, K)
        h = np.sqrt(s.propensity) if weighting == "stablevar" else np.ones_like(s.propensity)
        w = s.requests[..., None] * h
        value: np.ndarray = (w * mu).sum(axis=-2) / w.sum(axis=-2)
        return value

    def _group_value(self, holdout: bool) -> np.ndarray:
        s = self.stats
        mask = s.holdout == holdout
        mu = self.rates[s.batch[mask]]  # (S', K)
        n = s.requests[:, mask]
        value: np.ndarray = (n * (s.propensity[:, mask] * mu).sum(axis=-1)).sum(axis=-1)
        out: np.ndarray = value / np.maximum(n.sum(axis=-1), 1)
        return out

    @property
    def bandit_value(self) -> np.ndarray:
        return self._group_value(False)

    @property
    def holdout_value(self) -> np.ndarray:
        return self._group_value(True)

    def run(self, i: int) -> AdaptiveStats:
        """The statistics of run ``i`` alone (what one experiment's analysis reads)."""
        s = self.stats
        return AdaptiveStats(
            s.batch, s.holdout, s.requests[i], s.propensity[i], s.served[i],
            s.reward_sum[i], s.reward_sq_sum[i], s.binary,
        )  # fmt: skip


def _check_int(value: int, name: str) -> int:
    if not (isinstance(value, int | np.integer) and value >= 1):
        raise InvalidArgument(name, value, "must be an integer >= 1")
    return int(value)


def _rates(true_rates: ArrayLike, n_batches: int) -> np.ndarray:
    rates = np.asarray(true_rates, dtype=float)
    if rates.ndim == 1:
        rates = np.broadcast_to(rates, (n_batches, rates.size))
    if rates.ndim != 2 or rates.shape[0] != n_batches or rates.shape[1] < 2:
        rule = f"must be K >= 2 rates, or one row of K rates per batch ({n_batches} batches)"
        raise InvalidArgument("true_rates", rates.shape, rule)
    for rate in rates.flat:
        check_rate(float(rate), "true_rates")
    return np.array(rates)


def simulate_adaptive(
    true_rates: ArrayLike,
    *,
    n_requests: int = 10_000,
    batch_size: int = 250,
    min_share: float = 0.05,
    holdout: float = 0.1,
    prior: tuple[float, float] = DEFAULT_BETA_PRIOR,
    n_runs: int = 1000,
    seed: int = 0,
) -> AdaptiveSimulation:
    """``n_runs`` bandit experiments on Bernoulli arms, all at once.

    ``true_rates`` is (K,) for a stationary reward or (n_batches, K) for one that drifts. The
    policy's weights for a batch are :func:`~champion.stats.bandits.bernoulli_weights` of the
    policy's earlier batches (Beta ``prior``, floor ``min_share``); each request goes to the
    holdout with probability ``holdout`` and is then served uniformly.

    >>> sim = simulate_adaptive([0.031, 0.038], n_requests=2000, n_runs=50, seed=3)
    >>> sim.stats.requests.shape, sim.stats.propensity[:, 0].tolist()[0]
    ((50, 16), [0.5, 0.5])
    """
    n_requests = _check_int(n_requests, "n_requests")
    batch_size = _check_int(batch_size, "batch_size")
    n_runs = _check_int(n_runs, "n_runs")
    ends = np.minimum(np.arange(batch_size, n_requests + batch_size, batch_size), n_requests)
    sizes = np.diff(ends, prepend=0)
    rates = _rates(true_rates, sizes.size)
    arms = rates.shape[1]
    if not (0 <= holdout < 1):
        raise InvalidArgument("holdout", holdout, "must be a share in [0, 1)")
    prior = check_beta_prior(prior)
    rng = np.random.default_rng(seed)
    n_batches = sizes.size
    shape = (n_runs, 2 * n_batches, arms)
    prop, served = np.empty(shape), np.zeros(shape, np.int64)
    wins = np.zeros(shape, np.int64)
    seen_s, seen_n = np.zeros((n_runs, arms)), np.zeros((n_runs, arms))
    uniform = np.full(arms, 1 / arms)
    for t, size in enumerate(sizes):
        weights = bernoulli_weights(seen_s, seen_n, prior=prior, min_share=min_share)
        n_hold = rng.binomial(size, holdout, n_runs)
        policy = _multinomial(rng, size - n_hold, weights)
        held = rng.multinomial(n_hold, uniform)
        for j, (p, counts) in enumerate(((weights, policy), (uniform, held))):
            prop[:, 2 * t + j] = p
            served[:, 2 * t + j] = counts
            wins[:, 2 * t + j] = rng.binomial(counts, rates[t])
        seen_s += wins[:, 2 * t]
        seen_n += policy
    stats = AdaptiveStats(
        batch=np.repeat(np.arange(n_batches), 2),
        holdout=np.tile([False, True], n_batches),
        requests=served.sum(axis=-1),
        propensity=prop,
        served=served,
        reward_sum=wins.astype(float),
        reward_sq_sum=wins.astype(float),  # 0/1 rewards: y² = y
        binary=True,
    )
    return AdaptiveSimulation(stats, rates, sizes.astype(float))


def _multinomial(rng: np.random.Generator, n: np.ndarray, p: np.ndarray) -> np.ndarray:
    """One multinomial draw per row (numpy's multinomial takes one p for all rows)."""
    out = np.zeros(p.shape, np.int64)
    left = n.astype(np.int64)
    rest = np.ones(p.shape[0])
    for k in range(p.shape[1] - 1):
        q = np.clip(p[:, k] / np.maximum(rest, 1e-300), 0, 1)
        out[:, k] = rng.binomial(left, q)
        left = left - out[:, k]
        rest = rest - p[:, k]
    out[:, -1] = left
    return out
