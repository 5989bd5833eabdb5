"""Always-valid inference: p-values and intervals that stay valid however often you look.

Each test statistic here is a nonnegative martingale under the null with mean 1 (a mixture
likelihood ratio or a Bayes factor), so Ville's inequality gives
``P(sup_n Λ_n >= 1/α) <= α``: a dashboard may check after every batch and stop at will.
The price against a single fixed-horizon test is width, not validity.

Path functions take cumulative statistics with the looks along the last axis (counts: the
looks on the second-to-last axis, arms on the last), so a whole table of simulated or
per-metric paths is one call.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special

from champion.errors import InvalidArgument
from champion.stats._checks import check_alpha, check_positive, check_weights
from champion.stats.results import SRMResult, Status

__all__ = [
    "DEFAULT_PRIOR_CONCENTRATION",
    "DEFAULT_TUNING_N",
    "ConfidenceSequence",
    "ConfidenceSequencePath",
    "MSPRTPath",
    "MSPRTResult",
    "SRMPath",
    "confidence_sequence",
    "confidence_sequence_path",
    "mixing_variance",
    "msprt",
    "msprt_path",
    "sequential_srm",
    "sequential_srm_path",
]

DEFAULT_TUNING_N = 10_000  # the default mixing variance makes intervals tightest at this n
DEFAULT_PRIOR_CONCENTRATION = 10_000.0  # Dirichlet prior of the sequential SRM test
_NAN = float("nan")


def _optimal_ratio(alpha: float) -> float:
    """x = τ²/V minimising the interval width at V: the root of x = log(1 + x) + 2 log(1/α)."""
    x = 2.0 * math.log(1.0 / alpha)
    for _ in range(60):  # a contraction (slope 1/(1+x) < 1/3), converged long before 60
        x = math.log1p(x) + 2.0 * math.log(1.0 / alpha)
    return x


_DEFAULT_RATIO = _optimal_ratio(0.05) / DEFAULT_TUNING_N  # ≈ 8.21e-4


def mixing_variance(variance: float, n: float, *, alpha: float = 0.05) -> float:
    """The τ² that makes the level-``alpha`` confidence sequence narrowest at ``n``.

    τ² = x · variance / n with x solving ``x = log(1 + x) + 2 log(1/α)`` (x ≈ 8.21 at
    α = 0.05), the exact optimum of the normal-mixture boundary of Howard et al. (2021).

    >>> round(mixing_variance(1.0, 10_000), 7)
    0.0008212
    """
    variance, n = check_positive(variance, "variance"), check_positive(n, "n")
    return _optimal_ratio(check_alpha(alpha)) * variance / n


@dataclass(frozen=True, slots=True)
class MSPRTResult:
    """Mixture SPRT at one look: ``p_value = min(1, 1/Λ)`` is valid at any stopping time."""

    diff: float
    variance: float
    n: float
    tau2: float
    theta0: float
    log_likelihood_ratio: float
    p_value: float
    status: Status = Status.OK

    @property
    def likelihood_ratio(self) -> float:
        llr = self.log_likelihood_ratio
        return math.inf if llr > 709.0 else math.exp(llr)  # NaN passes through

    def reject(self, alpha: float = 0.05) -> bool:
        return bool(self.p_value <= alpha) if not math.isnan(self.p_value) else False


@dataclass(frozen=True, slots=True)
class MSPRTPath:
    """mSPRT along looks (last axis); ``p_value`` is the running minimum, never increasing."""

    log_likelihood_ratio: np.ndarray
    p_value: np.ndarray
    tau2: np.ndarray
    status: np.ndarray  # Status values ("ok", "empty_arm", "zero_variance") per look


@dataclass(frozen=True, slots=True)
class ConfidenceSequence:
    """Interval for the difference that covers it at every look at once with prob. >= 1 - alpha."""

    estimate: float
    lower: float
    upper: float
    alpha: float
    tau2: float
    status: Status = Status.OK

    @property
    def half_width(self) -> float:
        return 0.5 * (self.upper - self.lower)

    def contains(self, value: float) -> bool:
        return bool(self.lower <= value <= self.upper)


@dataclass(frozen=True, slots=True)
class ConfidenceSequencePath:
    """Intervals per look; the running intersection (``running_*``) is valid too and tighter."""

    lower: np.ndarray
    upper: np.ndarray
    running_lower: np.ndarray
    running_upper: np.ndarray
    status: np.ndarray


@dataclass(frozen=True, slots=True)
class SRMPath:
    """Sequential SRM along looks: log Bayes factors and the running always-valid p-value."""

    log_bayes_factor: np.ndarray
    p_value: np.ndarray
    status: np.ndarray


def _finite(value: object, name: str, minimum: float | None = None) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(arr)):
        raise InvalidArgument(name, arr.tolist(), "must be finite numbers")
    if minimum is not None and np.any(arr < minimum):
        raise InvalidArgument(name, arr.tolist(), f"must be >= {minimum}")
    return arr


def _normal_inputs(
    diff: object, variance: object, n: object, tau2: float | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Broadcast inputs, mark degenerate looks and fill in the default mixing variance."""
    d, var, n = _finite(diff, "diff"), _finite(variance, "variance", 0.0), _finite(n, "n", 0.0)
    try:
        d, var, n = np.broadcast_arrays(d, var, n)
    except ValueError:
        raise InvalidArgument("n", n.tolist(), f"must broadcast with diff {d.shape}") from None
    status = np.where(n <= 0, Status.EMPTY_ARM.value, Status.OK.value)
    status = np.where((n > 0) & (var <= 0), Status.ZERO_VARIANCE.value, status)
    ok = status == Status.OK.value
    v = np.where(ok, var, 1.0) / np.where(ok, n, 1.0)  # variance of the estimate, guarded
    if tau2 is None:
        t2 = np.where(ok, _DEFAULT_RATIO * var, _NAN)
    else:
        t2 = np.broadcast_to(check_positive(tau2, "tau2"), d.shape).astype(float)
    return d, v, t2, ok, status


def _log_lr(
    d: np.ndarray, v: np.ndarray, t2: np.ndarray, ok: np.ndarray, theta0: float
) -> np.ndarray:
    safe_t2 = np.where(ok, t2, 1.0)
    llr = -0.5 * np.log1p(safe_t2 / v) + safe_t2 * (d - theta0) ** 2 / (2.0 * v * (v + safe_t2))
    return np.where(ok, llr, _NAN)


def _p_from_log(llr: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(llr), _NAN, np.exp(-np.maximum(np.nan_to_num(llr, nan=0.0), 0.0)))


def _running(p: np.ndarray) -> np.ndarray:
    return np.minimum.accumulate(np.where(np.isnan(p), 1.0, p), axis=-1)


def msprt(
    diff: float, variance: float, n: float, *, tau2: float | None = None, theta0: float = 0.0
) -> MSPRTResult:
    """Mixture sequential probability ratio test (Johari, Koomen, Pekelis & Walsh 2022).

    ``diff`` is the estimate (treatment - control) and ``variance / n`` its variance:
    ``variance`` is the per-unit variance of the difference, e.g. ``var_c + var_t`` with
    ``n`` units per arm (for proportions ``p_c q_c + p_t q_t``). Under a N(theta0, τ²)
    mixture over the effect, with V = variance / n,
    ``Λ = sqrt(V / (V + τ²)) exp(τ² (diff - theta0)² / (2 V (V + τ²)))``.
    ``tau2=None`` uses ``mixing_variance(variance, DEFAULT_TUNING_N)``. Two-sided only.

    >>> r = msprt(0.02, 0.5, 20_000)
    >>> round(r.likelihood_ratio, 1), round(r.p_value, 4)
    (451.2, 0.0022)
    """
    theta0 = float(_finite(theta0, "theta0"))
    d, v, t2, ok, status = _normal_inputs(diff, variance, n, tau2)
    if d.ndim:
        raise InvalidArgument("diff", d.tolist(), "must be one look's numbers (see msprt_path)")
    llr = float(_log_lr(d, v, t2, ok, theta0))
    return MSPRTResult(
        float(diff), float(variance), float(n), float(t2), theta0, llr,
        float(_p_from_log(np.asarray(llr))), Status(str(status)),
    )  # fmt: skip


def msprt_path(
    diffs: Sequence[float] | np.ndarray,
    variances: float | Sequence[float] | np.ndarray,
    ns: Sequence[float] | np.ndarray,
    *,
    tau2: float | None = None,
    theta0: float = 0.0,
) -> MSPRTPath:
    """The mSPRT at each look of cumulative statistics; ``p_n = min(p_{n-1}, 1/Λ_n)``.

    Degenerate looks (n = 0, zero variance) have NaN likelihood ratios and leave the running
    p-value where it was (1 before any usable look).

    >>> path = msprt_path([0.05, 0.03, 0.02], 0.5, [500, 5_000, 20_000])
    >>> path.p_value.round(4).tolist()
    [0.8254, 0.0606, 0.0022]
    """
    theta0 = float(_finite(theta0, "theta0"))
    d, v, t2, ok, status = _normal_inputs(diffs, variances, ns, tau2)
    llr = _log_lr(d, v, t2, ok, theta0)
    return MSPRTPath(llr, _running(_p_from_log(llr)), t2, status)


def _half_width(v: np.ndarray, t2: np.ndarray, ok: np.ndarray, alpha: float) -> np.ndarray:
    safe_t2 = np.where(ok, t2, 1.0)
    radius = np.sqrt(v * (1.0 + v / safe_t2) * (np.log1p(safe_t2 / v) - 2.0 * math.log(alpha)))
    return np.where(ok, radius, _NAN)


def confidence_sequence(
    estimate: float, variance: float, n: float, *, alpha: float = 0.05, tau2: float | None = None
) -> ConfidenceSequence:
    """Normal-mixture confidence sequence for the difference, valid at all looks at once.

    ``estimate ± sqrt(V (1 + V/τ²) (log(1 + τ²/V) + 2 log(1/α)))`` with V = variance / n,
    inputs as in :func:`msprt`. It is the set of theta0 the mSPRT does not
    reject at ``alpha`` (Howard, Ramdas, McAuliffe & Sekhon 2021, normal mixture boundary), so
    it excludes 0 exactly when ``msprt(...).p_value <= alpha``.

    >>> cs = confidence_sequence(0.02, 0.5, 20_000)
    >>> round(cs.lower, 4), round(cs.upper, 4)
    (0.0047, 0.0353)
    """
    alpha = check_alpha(alpha)
    d, v, t2, ok, status = _normal_inputs(estimate, variance, n, tau2)
    if d.ndim:
        raise InvalidArgument("estimate", d.tolist(), "must be one look's numbers (see the path)")
    radius = float(_half_width(v, t2, ok, alpha))
    est = float(estimate)
    return ConfidenceSequence(
        est, est - radius, est + radius, alpha, float(t2), Status(str(status))
    )


def confidence_sequence_path(
    estimates: Sequence[float] | np.ndarray,
    variances: float | Sequence[float] | np.ndarray,
    ns: Sequence[float] | np.ndarray,
    *,
    alpha: float = 0.05,
    tau2: float | None = None,
) -> ConfidenceSequencePath:
    """Confidence sequence at each look (last axis) and its running intersection."""
    alpha = check_alpha(alpha)
    d, v, t2, ok, status = _normal_inputs(estimates, variances, ns, tau2)
    radius = _half_width(v, t2, ok, alpha)
    lower, upper = d - radius, d + radius
    return ConfidenceSequencePath(
        lower,
        upper,
        np.fmax.accumulate(lower, axis=-1),
        np.fmin.accumulate(upper, axis=-1),
        status,
    )


def _srm_log_bf(counts: np.ndarray, w: np.ndarray, concentration: float) -> np.ndarray:
    """log of Dirichlet-multinomial marginal likelihood over the multinomial one under weights."""
    prior = concentration * w
    total = counts.sum(axis=-1)
    log_bf: np.ndarray = (
        special.gammaln(concentration)
        - special.gammaln(concentration + total)
        + np.sum(special.gammaln(prior + counts) - special.gammaln(prior), axis=-1)
        - np.sum(special.xlogy(counts, w), axis=-1)
    )
    return log_bf


def _srm_inputs(
    counts: object, weights: Sequence[float], prior_concentration: float
) -> tuple[np.ndarray, np.ndarray, float]:
    w = check_weights(weights)
    x = _finite(counts, "counts", 0.0)
    if x.ndim == 0 or x.shape[-1] != w.size:
        raise InvalidArgument("counts", x.tolist(), f"must give one count per weight ({w.size})")
    return x, w, check_positive(prior_concentration, "prior_concentration")


def sequential_srm(
    counts: Sequence[float],
    weights: Sequence[float],
    *,
    prior_concentration: float = DEFAULT_PRIOR_CONCENTRATION,
) -> SRMResult:
    """Sample-ratio mismatch test valid under continuous monitoring (Lindon & Malek 2020).

    Bayes factor of a Dirichlet(prior_concentration · weights) mixture over the arm
    probabilities against the configured ``weights``, on the cumulative arm counts;
    ``statistic`` is its natural log, ``p_value = min(1, 1/BF)``. No units: ``empty_arm``.

    >>> r = sequential_srm([5200, 4800], [0.5, 0.5])
    >>> round(r.statistic, 2), r.p_value < 0.001
    (3.65, False)
    """
    x, w, c = _srm_inputs(counts, weights, prior_concentration)
    if x.ndim != 1:
        raise InvalidArgument("counts", x.tolist(), "must be one count per arm (use the path)")
    total = float(x.sum())
    observed, expected = tuple(x.tolist()), tuple((total * w).tolist())
    if total == 0:
        return SRMResult(_NAN, _NAN, observed, expected, "sequential-dirichlet", Status.EMPTY_ARM)
    log_bf = float(_srm_log_bf(x, w, c))
    p = float(_p_from_log(np.asarray(log_bf)))
    return SRMResult(log_bf, p, observed, expected, "sequential-dirichlet")


def sequential_srm_path(
    counts: Sequence[Sequence[float]] | np.ndarray,
    weights: Sequence[float],
    *,
    prior_concentration: float = DEFAULT_PRIOR_CONCENTRATION,
) -> SRMPath:
    """Sequential SRM at each look of cumulative counts, shape (..., looks, arms).

    Counts must not decrease from look to look. Looks with no units yet have NaN Bayes factors.
    """
    x, w, c = _srm_inputs(counts, weights, prior_concentration)
    if x.ndim < 2:
        raise InvalidArgument("counts", x.tolist(), "must be a table of looks x arms")
    if np.any(np.diff(x, axis=-2) < 0):
        raise InvalidArgument("counts", x.tolist(), "must be cumulative: not decreasing over looks")
    empty = x.sum(axis=-1) == 0
    log_bf = np.where(empty, _NAN, _srm_log_bf(x, w, c))
    status = np.where(empty, Status.EMPTY_ARM.value, Status.OK.value)
    return SRMPath(log_bf, _running(_p_from_log(log_bf)), status)
