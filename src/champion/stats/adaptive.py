"""Estimates that stay valid when a bandit chose the traffic split.

A bandit gives more traffic to the arm that looks better, so an arm that got lucky early is
served more and an unlucky one is starved while its estimate is still low: the plain mean per
arm is biased (downwards for the arms that lose traffic), and its naive interval undercovers.
Each estimate here says what it is valid for:

- :func:`holdout_comparison`: the bandit's traffic against a held-out share served a fixed
  uniform split whose data never trains the policy. A plain difference in means with a Welch
  interval; valid for "does running the bandit beat the uniform split" because the holdout is a
  randomised split of the same requests. This is the number for a launch decision.
- :func:`gain_over_uniform`: the same comparison in rewards: how many more conversions the
  bandit's requests earned than the uniform split would have (negative: regret), so far.
- :func:`arm_values`: each arm's value (its mean reward if it were served to everyone) by
  adaptively weighted AIPW (Hadad, Hirshberg, Zhan, Wager & Athey 2021, "Confidence intervals
  for policy evaluation in adaptive experiments", PNAS 118(15)). Valid for a stationary reward
  (the arm's mean does not move during the experiment); with drift it estimates a
  weighted average of the arm's mean over the period (docs/bandits.md measures how close).
  The naive mean and the plain IPW estimate come beside it, so the bias is visible.

The estimators read sufficient statistics per *stratum*: the requests of one batch (one
allocation version) served by the policy, or that batch's holdout. :func:`adaptive_stats`
builds them from what the exposures log (version, arm, ``probability``, reward).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import special

from champion.errors import InvalidArgument
from champion.stats._checks import check_alpha
from champion.stats.frequentist import welch_test
from champion.stats.results import Status, TestResult

__all__ = [
    "INTERVALS",
    "VALID_FOR",
    "WEIGHTINGS",
    "AdaptiveStats",
    "ArmValues",
    "UniformGain",
    "adaptive_stats",
    "arm_values",
    "gain_over_uniform",
    "holdout_comparison",
]

WEIGHTINGS = ("stablevar", "uniform")
INTERVALS = ("auto", "score", "wald")
# What each number may be used for: a read-out prints these beside the numbers.
VALID_FOR = {
    "holdout_comparison": "valid for a launch decision: the bandit against a randomised "
    "uniform holdout",
    "gain_over_uniform": "valid: rewards gained over the uniform split, from the holdout",
    "arm_value": "valid for each arm's mean reward if the reward is stationary; under drift it "
    "estimates a weighted mean of the period, and its interval still covered the period's "
    "mean in simulation (docs/bandits.md)",
    "ipw": "unbiased point estimate; its interval is not guaranteed under adaptive allocation",
    "naive": "not valid under adaptive allocation (biased): shown to make the bias visible",
}
_PROPENSITY_TOL = 1e-9


@dataclass(frozen=True, slots=True, eq=False)
class AdaptiveStats:
    """Sums per stratum and arm; strata in time order, leading axes are independent runs.

    ``batch`` (S,) is the allocation version of each stratum (non-decreasing), ``holdout`` (S,)
    whether it is the held-out uniform share. ``requests`` (..., S) counts the stratum's
    requests; ``propensity``, ``served``, ``reward_sum`` and ``reward_sq_sum`` are (..., S, K):
    the probability each arm had, the requests it got, and the sum of their rewards and of the
    squared rewards. ``binary``: every reward is 0 or 1 (a proportion metric), which gives each
    arm's value a score interval (:func:`arm_values`).
    """

    batch: np.ndarray
    holdout: np.ndarray
    requests: np.ndarray
    propensity: np.ndarray
    served: np.ndarray
    reward_sum: np.ndarray
    reward_sq_sum: np.ndarray
    binary: bool = False

    def __post_init__(self) -> None:
        s = self.batch.shape
        if len(s) != 1 or self.holdout.shape != s or self.requests.shape[-1:] != s:
            raise InvalidArgument("batch", s, "batch, holdout and requests need one stratum axis")
        if s[0] and np.any(np.diff(self.batch) < 0):
            raise InvalidArgument("batch", self.batch.tolist(), "strata must be in time order")
        shape = (*self.requests.shape, self.propensity.shape[-1])
        for name in ("propensity", "served", "reward_sum", "reward_sq_sum"):
            if getattr(self, name).shape != shape:
                raise InvalidArgument(name, getattr(self, name).shape, f"must have shape {shape}")

    @property
    def arms(self) -> int:
        return int(self.propensity.shape[-1])

    def prior_means(self) -> np.ndarray:
        """m̂ per stratum and arm from strata of earlier batches only (a predictable model):
        the arm's mean so far, else the mean of every arm so far, else 0."""
        first = np.searchsorted(self.batch, self.batch, side="left")

        def before(x: np.ndarray) -> np.ndarray:
            pad = [(0, 0)] * x.ndim
            pad[-2] = (1, 0)
            out: np.ndarray = np.take(np.pad(np.cumsum(x, axis=-2), pad), first, axis=-2)
            return out

        n, y = before(self.served), before(self.reward_sum)
        pooled = y.sum(axis=-1, keepdims=True) / np.maximum(n.sum(axis=-1, keepdims=True), 1)
        m: np.ndarray = np.where(n > 0, y / np.maximum(n, 1), pooled)
        return m


def adaptive_stats(
    batch: ArrayLike,
    arm: ArrayLike,
    propensity: ArrayLike,
    reward: ArrayLike,
    *,
    holdout: ArrayLike | None = None,
    arms: int | None = None,
) -> AdaptiveStats:
    """Sum exposures (one row each: allocation version, arm index, probability, reward).

    Every exposure of one arm in one stratum must log the same probability. An arm nobody
    got in a stratum takes 1 minus the others' probabilities when it is the only one missing
    (two arms: always); otherwise the stratum is refused.

    >>> s = adaptive_stats([0, 0, 0, 1, 1], [0, 1, 1, 0, 1], [.5, .5, .5, .2, .8], [1, 0, 1, 0, 1])
    >>> s.propensity.tolist(), s.served.tolist()
    ([[0.5, 0.5], [0.2, 0.8]], [[1, 2], [1, 1]])
    """
    b = np.asarray(batch)
    a = np.asarray(arm)
    p = np.asarray(propensity, dtype=float)
    y = np.asarray(reward, dtype=float)
    h = np.zeros(b.shape, bool) if holdout is None else np.asarray(holdout, dtype=bool)
    for name, x in (("arm", a), ("propensity", p), ("reward", y), ("holdout", h)):
        if x.shape != b.shape or b.ndim != 1:
            raise InvalidArgument(name, x.shape, f"must be one value per exposure, {b.shape}")
    if b.size and not np.issubdtype(b.dtype, np.integer):
        raise InvalidArgument("batch", b[:3].tolist(), "must be integer allocation versions")
    if not np.issubdtype(a.dtype, np.integer) or (a.size and a.min() < 0):
        raise InvalidArgument("arm", a[:5].tolist(), "must be arm indices 0, 1, ...")
    bad = ~((p > 0) & (p <= 1))
    if np.any(bad):
        raise InvalidArgument("propensity", p[bad][:3].tolist(), "must be in (0, 1]")
    if not np.all(np.isfinite(y)):
        raise InvalidArgument("reward", y[~np.isfinite(y)][:3].tolist(), "must be finite")
    k = int(a.max()) + 1 if arms is None and a.size else int(arms or 0)
    if k < 2 or (a.size and a.max() >= k):
        raise InvalidArgument("arms", arms, "must be at least 2 and above every arm index")
    keys, stratum = np.unique(np.stack([b, h]).T if b.size else np.empty((0, 2)), axis=0,
                              return_inverse=True)  # fmt: skip
    stratum = stratum.reshape(-1)
    n_s = keys.shape[0]
    cell = stratum * k + a

    def total(w: np.ndarray) -> np.ndarray:
        return np.bincount(cell, weights=w, minlength=n_s * k).reshape(n_s, k)

    served = np.bincount(cell, minlength=n_s * k).reshape(n_s, k)
    prop = total(p) / np.maximum(served, 1)
    spread = np.zeros(n_s * k)
    np.maximum.at(spread, cell, np.abs(p - prop.reshape(-1)[cell]))
    if np.any(spread > _PROPENSITY_TOL):
        bad_version = keys[int(np.argmax(spread)) // k, 0]
        raise InvalidArgument(
            "propensity", f"version {bad_version}", "differs between exposures of one arm "
            "in one version: every exposure of a version logs that version's weights",
        )  # fmt: skip
    missing = served == 0
    if np.any(missing.sum(axis=1) > 1):
        unknown = keys[int(np.argmax(missing.sum(axis=1) > 1)), 0]
        raise InvalidArgument(
            "arm", f"version {unknown}", "two or more arms have no exposure in this "
            "version, so their probabilities are unknown",
        )  # fmt: skip
    rest = 1 - np.where(missing, 0, prop).sum(axis=1, keepdims=True)
    prop = np.where(missing, np.clip(rest, 0, 1), prop)
    return AdaptiveStats(
        batch=keys[:, 0],
        holdout=keys[:, 1].astype(bool),
        requests=served.sum(axis=1),
        propensity=prop,
        served=served,
        reward_sum=total(y),
        reward_sq_sum=total(y * y),
        binary=bool(np.all((y == 0) | (y == 1))),
    )


@dataclass(frozen=True, slots=True, eq=False)
class ArmValues:
    """Each arm's value three ways; arrays of shape (..., K), one entry per arm.

    ``estimate``/``std_error``/``ci``: adaptively weighted AIPW (valid with a stationary reward);
    ``naive``/``naive_se``: the arm's sample mean and its textbook standard error (biased under
    adaptive allocation: shown so the bias is visible, not for decisions); ``ipw``/``ipw_se``:
    inverse-propensity weighting (unbiased, but its interval is unreliable when the
    propensities do not settle). ``status`` per arm: ``ok``, ``empty_arm`` or ``zero_variance``.
    ``interval`` says how ``ci`` was built: ``score`` (0/1 rewards) or ``wald``.
    """

    estimate: np.ndarray
    std_error: np.ndarray
    ci: tuple[np.ndarray, np.ndarray]
    naive: np.ndarray
    naive_se: np.ndarray
    ipw: np.ndarray
    ipw_se: np.ndarray
    status: np.ndarray
    alpha: float = 0.05
    weighting: str = "stablevar"
    interval: str = "wald"

    @property
    def naive_bias(self) -> np.ndarray:
        """Naive mean minus the AIPW estimate: how far the plain per-arm mean is pulled."""
        out: np.ndarray = self.naive - self.estimate
        return out

    def to_dict(self) -> dict[str, Any]:
        """One experiment's values per arm (no run axis), NaN as None, each with its label."""
        if self.estimate.ndim != 1:
            raise InvalidArgument("estimate", self.estimate.shape, "to_dict needs a single run")

        def arms(x: np.ndarray) -> list[float | None]:
            return [None if math.isnan(v) else float(v) for v in x.tolist()]

        return {
            "alpha": self.alpha,
            "weighting": self.weighting,
            "interval": self.interval,
            "status": self.status.tolist(),
            "estimate": arms(self.estimate),
            "std_error": arms(self.std_error),
            "ci_lower": arms(self.ci[0]),
            "ci_upper": arms(self.ci[1]),
            "naive": arms(self.naive),
            "naive_se": arms(self.naive_se),
            "ipw": arms(self.ipw),
            "ipw_se": arms(self.ipw_se),
            "valid_for": {k: VALID_FOR[k] for k in ("arm_value", "naive", "ipw")},
        }


def _combine(
    s: AdaptiveStats, m: np.ndarray, h: np.ndarray, e: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Σ h Γ / Σ h and its variance Σ h² (Γ - Q)² / (Σ h)², summed per stratum in closed form.

    In a stratum of n requests with propensity e, the k served the arm score
    Γ = m + (y - m) / e and the others Γ = m.
    """
    n = s.requests[..., None].astype(float)
    k, sy, syy = s.served, s.reward_sum, s.reward_sq_sum
    inv = 1.0 / np.where(e > 0, e, 1.0)
    sum_g = n * m + (sy - k * m) * inv
    c = m * (1 - inv)
    sum_g2 = (n - k) * m * m + k * c * c + 2 * c * sy * inv + syy * inv * inv
    weight = (n * h).sum(axis=-2)
    with np.errstate(invalid="ignore", divide="ignore"):
        q = (h * sum_g).sum(axis=-2) / weight
        qq = q[..., None, :]
        ss = (h * h * (sum_g2 - 2 * qq * sum_g + n * qq * qq)).sum(axis=-2)
        var = np.maximum(ss, 0) / (weight * weight)
    return q, var


def _score_ci(
    s: AdaptiveStats, q: np.ndarray, m: np.ndarray, h: np.ndarray, e: np.ndarray, z: float
) -> tuple[np.ndarray, np.ndarray]:
    """The values v with W² (Q - v)² <= z² Σ h² n Var_v(Γ): a Wilson-type interval for 0/1 rewards.

    With an arm mean v, a request's score has variance v (1 - v) / e + (v - m)² (1 - e) / e,
    known once v is: the predictable variance of the weighted sum at v. Inverting the test of
    each v, rather than plugging in the variance seen, keeps a low estimate from also getting
    a small standard error (an arm starved of traffic has few, heavily weighted successes,
    and where they fell sets both). The inequality is quadratic in v; the interval is
    clipped to [0, 1], the range of a mean of 0/1 rewards.
    """
    n = s.requests[..., None].astype(float)
    h2n = h * h * n
    rare = h2n * np.where(e > 0, (1 - e) / np.where(e > 0, e, 1.0), 0.0)  # Σ h² n (1-e)/e
    w = (n * h).sum(axis=-2)
    g = h2n.sum(axis=-2)  # Σ h² n
    inv = g + rare.sum(axis=-2)  # Σ h² n / e
    d = (rare * m).sum(axis=-2)
    f = (rare * m * m).sum(axis=-2)
    with np.errstate(invalid="ignore", divide="ignore"):
        z2 = z * z / (w * w)
        a = 1 + z2 * g
        b = -(2 * q + z2 * (inv - 2 * d))
        c = q * q - z2 * f
        root = np.sqrt(b * b - 4 * a * c)  # NaN where no v passes: the caller falls back
        lo = np.clip((-b - root) / (2 * a), 0.0, 1.0)
        hi = np.clip((-b + root) / (2 * a), 0.0, 1.0)
    return lo, hi


def arm_values(
    stats: AdaptiveStats,
    *,
    alpha: float = 0.05,
    weighting: str = "stablevar",
    interval: str = "auto",
) -> ArmValues:
    """Each arm's mean reward, valid although the policy chose the split from earlier data.

    Per request t and arm a, the AIPW score is Γ_t = m̂(a) + 1{A_t = a} / e_t(a) (Y_t - m̂(a)),
    where e_t(a) is the probability the request had of getting a and m̂(a) the arm's mean from
    earlier batches only. ``weighting="stablevar"`` (Hadad et al. 2021) weights each score by
    h_t = sqrt(e_t(a)), which keeps the variance of h_t Γ_t stable while the policy moves, so
    Q = Σ h Γ / Σ h is asymptotically normal with variance Σ h² (Γ - Q)² / (Σ h)²;
    ``"uniform"`` (h = 1) is plain AIPW, unbiased for the period's mean even under drift but
    without that guarantee for its interval. ``interval="wald"`` is Q ± z SE; ``"score"``
    (what ``"auto"`` picks for 0/1 rewards) inverts the test of each value with the variance
    that value implies (:func:`_score_ci`), which covers better when an arm's successes are
    few: measured in docs/bandits.md. ``std_error`` is the plug-in SE either way.

    >>> s = adaptive_stats([0] * 4 + [1] * 4, [0, 1, 0, 1, 0, 1, 1, 1],
    ...                    [.5] * 4 + [.25, .75, .75, .75], [0, 1, 1, 0, 0, 1, 1, 0])
    >>> v = arm_values(s)
    >>> v.estimate.round(3).tolist(), v.naive.round(3).tolist()
    ([0.293, 0.592], [0.333, 0.6])
    """
    alpha = check_alpha(alpha)
    if weighting not in WEIGHTINGS:
        raise InvalidArgument("weighting", weighting, f"must be one of {', '.join(WEIGHTINGS)}")
    if interval not in INTERVALS:
        raise InvalidArgument("interval", interval, f"must be one of {', '.join(INTERVALS)}")
    if interval == "auto":
        interval = "score" if stats.binary else "wald"
    elif interval == "score" and not stats.binary:
        raise InvalidArgument("interval", "score", "needs 0/1 rewards; use 'wald' for a mean")
    e = stats.propensity
    bad = ~np.isfinite(e) | (e < 0) | (e > 1)
    if np.any(bad):
        raise InvalidArgument("propensity", e[bad][:3].tolist(), "must lie in [0, 1]")
    if np.any((e == 0) & (stats.served > 0)):
        rule = "an arm was served in a stratum where its probability is 0"
        raise InvalidArgument("propensity", 0.0, rule)
    h = np.sqrt(e) if weighting == "stablevar" else np.ones_like(e)
    with np.errstate(invalid="ignore", divide="ignore"):
        m = stats.prior_means()
        q, var = _combine(stats, m, h, e)
        q_ipw, var_ipw = _combine(stats, np.zeros_like(e), np.ones_like(e), e)
        no_overlap = np.any((e == 0) & (stats.requests[..., None] > 0), axis=-2)
        q_ipw, var_ipw = np.where(no_overlap, np.nan, q_ipw), np.where(no_overlap, np.nan, var_ipw)
        if weighting == "uniform":
            q, var = np.where(no_overlap, np.nan, q), np.where(no_overlap, np.nan, var)
        n = stats.served.sum(axis=-2).astype(float)
        sy, syy = stats.reward_sum.sum(axis=-2), stats.reward_sq_sum.sum(axis=-2)
        naive = sy / n
        naive_var = np.maximum(syy - n * naive * naive, 0) / (n - 1)
        naive_se = np.where(n > 1, np.sqrt(naive_var / n), np.nan)
    empty = n == 0
    q = np.where(empty, np.nan, q)
    status = np.where(empty, Status.EMPTY_ARM.value, Status.OK.value)
    status = np.where(~empty & (var == 0), Status.ZERO_VARIANCE.value, status)
    se = np.sqrt(np.where(empty, np.nan, var))
    z = float(special.ndtri(1 - alpha / 2))
    ci = (q - z * se, q + z * se)
    if interval == "score":
        lo, hi = _score_ci(stats, q, m, h, e, z)
        found = np.isfinite(lo) & np.isfinite(hi)
        ci = (np.where(found, lo, ci[0]), np.where(found, hi, ci[1]))
    return ArmValues(
        estimate=q,
        std_error=se,
        ci=ci,
        naive=naive,
        naive_se=naive_se,
        ipw=np.where(empty, np.nan, q_ipw),
        ipw_se=np.sqrt(np.where(empty, np.nan, var_ipw)),
        status=status,
        alpha=alpha,
        weighting=weighting,
        interval=interval,
    )


def _group(stats: AdaptiveStats, holdout: bool) -> tuple[float, float, float]:
    """(mean, sample variance, n) of the rewards of one group's requests (a single run)."""
    mask = stats.holdout == holdout
    n = float(stats.served[mask].sum())
    sy, syy = float(stats.reward_sum[mask].sum()), float(stats.reward_sq_sum[mask].sum())
    mean = sy / n if n > 0 else math.nan
    var = max(syy - n * mean * mean, 0.0) / (n - 1) if n > 1 else 0.0
    return mean, var, n


def _single_run(stats: AdaptiveStats) -> None:
    if stats.requests.ndim != 1:
        raise InvalidArgument("stats", stats.requests.shape, "must hold one run (no run axis)")


def holdout_comparison(stats: AdaptiveStats, *, alpha: float = 0.05) -> TestResult:
    """The bandit's requests (treatment) against the uniform holdout (control): Welch test.

    Valid for a launch decision ("serve the bandit rather than a uniform split"): the holdout
    is a fixed randomised share of the same traffic, so the two groups differ only by policy.
    An empty group gives status ``empty_arm``.

    >>> s = adaptive_stats([0, 0, 0, 0, 1, 1, 1, 1], [0, 1, 0, 1, 1, 1, 0, 1],
    ...                    [.5] * 4 + [.8, .8, .5, .5], [0, 1, 0, 1, 1, 1, 0, 0],
    ...                    holdout=[1, 1, 0, 0, 0, 0, 1, 1])
    >>> r = holdout_comparison(s)
    >>> r.control, r.treatment
    (0.25, 0.75)
    """
    _single_run(stats)
    mean_h, var_h, n_h = _group(stats, True)
    mean_b, var_b, n_b = _group(stats, False)
    if n_h == 0 or n_b == 0:
        nan = math.nan
        return TestResult(
            mean_h, mean_b, nan, (nan, nan), nan, (nan, nan), nan, nan,
            alpha, "two-sided", "welch", Status.EMPTY_ARM,
        )  # fmt: skip
    return welch_test(mean_h, var_h, n_h, mean_b, var_b, n_b, alpha=alpha)


@dataclass(frozen=True, slots=True)
class UniformGain:
    """Rewards the bandit's ``requests`` earned beyond what the uniform split would have
    earned on them (negative: the bandit's regret against uniform), with a 1 - alpha CI."""

    requests: int
    gain: float
    ci: tuple[float, float]
    per_request: TestResult

    @property
    def regret(self) -> float:
        return -self.gain

    def to_dict(self) -> dict[str, Any]:
        r = self.per_request

        def num(x: float) -> float | None:
            return None if math.isnan(x) else float(x)

        return {
            "requests": self.requests,
            "gain": num(self.gain),
            "ci": [num(self.ci[0]), num(self.ci[1])],
            "bandit_mean": num(r.treatment),
            "holdout_mean": num(r.control),
            "diff": num(r.diff),
            "diff_ci": [num(r.diff_ci[0]), num(r.diff_ci[1])],
            "p_value": num(r.p_value),
            "status": str(r.status),
            "valid_for": VALID_FOR["holdout_comparison"],
        }


def gain_over_uniform(stats: AdaptiveStats, *, alpha: float = 0.05) -> UniformGain:
    """:func:`holdout_comparison` scaled to the bandit's requests: n (ȳ_bandit - ȳ_holdout).

    Valid like the comparison it scales (the holdout estimates what uniform would have earned).
    """
    r = holdout_comparison(stats, alpha=alpha)
    n = int(stats.served[~stats.holdout].sum())
    lo, hi = r.diff_ci
    return UniformGain(n, n * r.diff, (n * lo, n * hi), r)
