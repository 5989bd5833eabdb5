"""Bayesian read-outs: Beta-binomial for proportions, a normal model for means, P(best) for K arms.

A decision maker asks "how likely is the challenger better, and what do I lose if I ship it and
it is not?"; chance to beat and expected loss answer that directly. Every number is deterministic
(quadrature, closed forms or expansions, never sampling): a report rendered twice shows the same
digits. Formulas, defaults and accuracy: docs/statistics/bayes-and-bandits.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import special

from champion.errors import InvalidArgument
from champion.stats._checks import check_alpha, check_count
from champion.stats._normal import delta_rel_ci, z_quantile
from champion.stats.results import Status
from champion.stats.sufficient import MeanStats, ProportionStats

__all__ = [
    "APPROXIMATION_FROM",
    "DEFAULT_BETA_PRIOR",
    "BayesResult",
    "bayes_compare",
    "chance_to_beat",
    "chance_to_beat_mean",
    "check_beta_prior",
    "prob_best_beta",
    "prob_best_normal",
]

DEFAULT_BETA_PRIOR = (1.0, 1.0)  # uniform on the rate
# Once every Beta parameter (a and b of both arms) reaches this, chance to beat and expected loss
# come from an Edgeworth-corrected normal approximation (error < 2e-4, tested); below it, from
# quadrature.
APPROXIMATION_FROM = 50.0

_NAN = float("nan")
_NAN_PAIR = (_NAN, _NAN)
# Quadrature: 8-point Gauss-Legendre on each piece of a partition whose break points sit at these
# standard scores of every posterior (plus tail points). Error < 1e-9 in probability for prior
# parameters >= 0.5 (tested against scipy quad).
_GL_X, _GL_W = np.polynomial.legendre.leggauss(8)
_Z = np.array([-8.0, -5.0, -3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 5.0, 8.0])
_Z_TAIL = 10.0
_TAIL_RATE_SPAN = 30.0  # an exponential tail with rate r holds e^-30 beyond 30 / r
_ZETA_ORDERS = np.array([2.0, 3.0, 4.0])
_ZETA_SIGNS = np.array([1.0, -2.0, 6.0])
_SIGNS = np.array([-1.0, 1.0, -1.0, 1.0])  # κ_n(T - C) = κ_n(T) + (-1)^n κ_n(C)


@dataclass(frozen=True, slots=True)
class BayesResult:
    """Posterior comparison of treatment against control.

    ``control``/``treatment`` are posterior means; ``diff`` = treatment - control and
    ``rel_lift`` = treatment / control - 1 of those means. Intervals are equal-tailed
    ``1 - alpha`` credible intervals. ``expected_loss_treatment`` is E[max(control - treatment,
    0)], what shipping the treatment costs if it is worse; ``expected_loss_control`` the same for
    keeping the control.
    """

    control: float
    treatment: float
    diff: float
    diff_ci: tuple[float, float]
    rel_lift: float
    rel_lift_ci: tuple[float, float]
    chance_to_beat: float
    expected_loss_treatment: float
    expected_loss_control: float
    alpha: float = 0.05
    method: str = ""
    status: Status = Status.OK

    @property
    def credible_level(self) -> float:
        return 1.0 - self.alpha


def _empty(status: Status, alpha: float, method: str) -> BayesResult:
    return BayesResult(
        _NAN, _NAN, _NAN, _NAN_PAIR, _NAN, _NAN_PAIR, _NAN, _NAN, _NAN, alpha, method, status
    )


def check_beta_prior(prior: object) -> tuple[float, float]:
    """A Beta(a, b) prior: two finite numbers > 0."""
    try:
        a, b = (float(v) for v in prior)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        a = b = _NAN
    if not (math.isfinite(a) and math.isfinite(b) and a > 0 and b > 0):
        raise InvalidArgument("prior", prior, "must be two finite numbers (a, b) > 0: Beta(a, b)")
    return a, b


def _partition(breaks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights on the pieces between sorted break points (last axis)."""
    breaks = np.sort(breaks, axis=-1)
    half = (breaks[..., 1:] - breaks[..., :-1])[..., None] / 2
    mid = (breaks[..., 1:] + breaks[..., :-1])[..., None] / 2
    shape = (*breaks.shape[:-1], -1)
    return (mid + half * _GL_X).reshape(shape), (half * _GL_W).reshape(shape)


def _spread(
    m: np.ndarray | np.floating, s: np.ndarray | np.floating, left: np.ndarray, right: np.ndarray
) -> np.ndarray:
    """Break points around centre m with scale s, out to m - left and m + right."""
    lo, hi = (m - left)[..., None], (m + right)[..., None]
    # numpy's stubs give scalars no indexing; a float64 indexed [..., None] is a 1-element array
    inner = m[..., None] + s[..., None] * _Z  # type: ignore[index]
    return np.concatenate(
        [lo, (lo + inner[..., :1]) / 2, inner, (inner[..., -1:] + hi) / 2, hi], -1
    )


def _beta_breaks(a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
    """Break points on the logit scale, where a Beta(a, b) is smooth and log-concave.

    logit(p) has mean ψ(a) - ψ(b), variance ψ'(a) + ψ'(b) and exponential tails with rates a
    (left) and b (right); the outer points leave out less than ~1e-13 of the mass.
    """
    m = special.digamma(a) - special.digamma(b)
    s = np.sqrt(special.zeta(2, a) + special.zeta(2, b))  # ψ'(x) = ζ(2, x)
    left = np.maximum(_Z_TAIL * s, _TAIL_RATE_SPAN / a)
    return _spread(m, s, left, np.maximum(_Z_TAIL * s, _TAIL_RATE_SPAN / b))


def _logit_beta_pdf(y: np.ndarray, a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
    """Density of logit(p) for p ~ Beta(a, b): p^a (1 - p)^b / B(a, b)."""
    return np.exp(a * special.log_expit(y) + b * special.log_expit(-y) - special.betaln(a, b))


def _prob_best(weights: np.ndarray, pdf: np.ndarray, cdf: np.ndarray) -> np.ndarray:
    """P(arm k is best) = ∫ f_k ∏_{j≠k} F_j; ``pdf``/``cdf`` are (..., K, nodes)."""
    ones = np.ones_like(cdf[..., :1, :])
    before = np.cumprod(np.concatenate([ones, cdf[..., :-1, :]], axis=-2), axis=-2)
    after = np.cumprod(np.concatenate([ones, cdf[..., :0:-1, :]], axis=-2), axis=-2)[..., ::-1, :]
    p = np.sum(weights[..., None, :] * pdf * before * after, axis=-1)
    p_best: np.ndarray = p / p.sum(axis=-1, keepdims=True)
    return p_best


def _arms(values: ArrayLike, name: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim < 1 or arr.shape[-1] < 2:
        raise InvalidArgument(name, values, "must hold at least two arms (last axis)")
    if shape is not None and arr.shape != shape:
        raise InvalidArgument(name, values, f"must have the shape of the first array {shape}")
    if not np.all(np.isfinite(arr)):
        raise InvalidArgument(name, values, "must be finite numbers")
    return arr


def prob_best_beta(
    successes: ArrayLike, trials: ArrayLike, *, prior: tuple[float, float] = DEFAULT_BETA_PRIOR
) -> np.ndarray:
    """P(each arm has the highest rate) under independent Beta posteriors.

    Arms lie on the last axis; leading axes are independent problems (vectorised).

    >>> prob_best_beta([31, 38], [1000, 1000]).round(3)
    array([0.197, 0.803])
    """
    a0, b0 = check_beta_prior(prior)
    s = _arms(successes, "successes")
    n = _arms(trials, "trials", s.shape)
    if np.any(s < 0) or np.any(s > n):
        raise InvalidArgument("successes", successes, "must satisfy 0 <= successes <= trials")
    a, b = (a0 + s)[..., None], (b0 + n - s)[..., None]
    y, w = _partition(_beta_breaks(a[..., 0], b[..., 0]).reshape(*s.shape[:-1], -1))
    y = y[..., None, :]
    return _prob_best(w, _logit_beta_pdf(y, a, b), special.betainc(a, b, special.expit(y)))


def prob_best_normal(means: ArrayLike, std_errors: ArrayLike) -> np.ndarray:
    """P(each arm has the highest mean) when arm k's mean is N(means[k], std_errors[k]²).

    A zero standard error is floored at 1e-12 of the arms' scale (a point mass to precision).

    >>> prob_best_normal([1.0, 1.0, 1.0], [0.1, 0.1, 0.1]).round(4)
    array([0.3333, 0.3333, 0.3333])
    """
    m = _arms(means, "means")
    s = _arms(std_errors, "std_errors", m.shape)
    if np.any(s < 0):
        raise InvalidArgument("std_errors", std_errors, "must be >= 0")
    scale = np.max(np.abs(m), axis=-1, keepdims=True) + np.max(s, axis=-1, keepdims=True)
    s = np.maximum(s, 1e-12 * np.where(scale > 0, scale, 1.0))
    x, w = _partition(_spread(m, s, _Z_TAIL * s, _Z_TAIL * s).reshape(*m.shape[:-1], -1))
    z = (x[..., None, :] - m[..., None]) / s[..., None]
    pdf = np.exp(-0.5 * z * z) / (math.sqrt(2 * math.pi) * s[..., None])
    return _prob_best(w, pdf, special.ndtr(z))


def _edgeworth_decision(
    k1: float, k2: float, k3: float = 0.0, k4: float = 0.0
) -> tuple[float, float, float]:
    """P(D > 0), E[max(-D, 0)] and E[max(D, 0)] for D = T - C with cumulants k1..k4.

    Edgeworth expansion of the CDF of D: F(x) = Φ(w) - φ(w) [γ1/6 He2(w) + γ2/24 He3(w) +
    γ1²/72 He5(w)], w = (x - k1) / σ; E[max(-D, 0)] = ∫_{-∞}^0 F(x) dx in closed form because
    ∫ φ He_k = -φ He_(k-1). With k3 = k4 = 0 it is the plain normal answer.
    """
    sd = math.sqrt(k2)
    w = -k1 / sd
    if abs(w) > 38:  # φ(w) underflows: the answer is a sure thing
        return float(k1 > 0), max(-k1, 0.0), max(k1, 0.0)
    c2, c3 = k3 / sd**3 / 6, k4 / sd**4 / 24
    c5 = c2 * c2 / 2
    phi = math.exp(-0.5 * w * w) / math.sqrt(2 * math.pi)
    w2 = w * w
    cdf = special.ndtr(w) - phi * (
        c2 * (w2 - 1) + c3 * w * (w2 - 3) + c5 * w * (w2 * w2 - 10 * w2 + 15)
    )
    loss_t: float = sd * (
        w * special.ndtr(w) + phi * (1 + c2 * w + c3 * (w2 - 1) + c5 * (w2 * w2 - 6 * w2 + 3))
    )
    loss_t = max(float(loss_t), 0.0)
    return min(max(1.0 - float(cdf), 0.0), 1.0), loss_t, max(loss_t + k1, 0.0)


def _beta_decision(ac: float, bc: float, at: float, bt: float) -> tuple[float, float, float]:
    """Chance to beat and both expected losses by quadrature on the logit scale.

    E[max(C - T, 0)] = ∫ f_C(x) [x F_T(x) - E[T] F_T+(x)] dx, with T+ ~ Beta(a_t + 1, b_t).
    """
    y, w = _partition(np.concatenate([_beta_breaks(ac, bc), _beta_breaks(at, bt)]))
    x = special.expit(y)
    g = w * _logit_beta_pdf(y, ac, bc)
    f_t = special.betainc(at, bt, x)
    mean_t, mean_c = at / (at + bt), ac / (ac + bc)
    loss_t = max(float(g @ (x * f_t - mean_t * special.betainc(at + 1, bt, x))), 0.0)
    ctb = min(max(1.0 - float(g @ f_t), 0.0), 1.0)
    return ctb, loss_t, max(loss_t + mean_t - mean_c, 0.0)


def _cornish_fisher(cumulants: Sequence[float], alpha: float) -> tuple[float, float]:
    """Equal-tailed interval from the first four cumulants (Cornish-Fisher expansion)."""
    k1, k2, k3, k4 = cumulants
    sd = math.sqrt(k2)
    g1, g2 = k3 / sd**3, k4 / sd**4
    ends = []
    for z in (z_quantile(alpha / 2), z_quantile(1 - alpha / 2)):
        w = z + (z * z - 1) * g1 / 6 + (z**3 - 3 * z) * g2 / 24 - (2 * z**3 - 5 * z) * g1**2 / 36
        ends.append(k1 + sd * w)
    return ends[0], ends[1]


def _beta_cumulants(a: float, b: float) -> tuple[float, float, float, float]:
    s = a + b
    var = a * b / (s * s * (s + 1))
    k3 = 2 * (b - a) * a * b / (s**3 * (s + 1) * (s + 2))
    k4 = 6 * ((a - b) ** 2 * (s + 1) - a * b * (s + 2)) * a * b
    return a / s, var, k3, k4 / (s**4 * (s + 1) ** 2 * (s + 2) * (s + 3))


def _log_beta_cumulants(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cumulants of log(p), p ~ Beta(a, b): κ_n = ψ^(n-1)(a) - ψ^(n-1)(a + b), n = 1..4 last.

    ψ^(m)(x) = (-1)^(m+1) m! ζ(m + 1, x) for m >= 1 (one ufunc call instead of ``polygamma``).
    """
    x = np.stack([a, a + b])
    k1 = special.digamma(x)
    higher = special.zeta(_ZETA_ORDERS, x[..., None]) * _ZETA_SIGNS
    k = np.concatenate([k1[..., None], higher], axis=-1)
    cumulants: np.ndarray = k[0] - k[1]
    return cumulants


def chance_to_beat(
    x_control: float,
    n_control: float,
    x_treatment: float,
    n_treatment: float,
    *,
    prior: tuple[float, float] = DEFAULT_BETA_PRIOR,
    alpha: float = 0.05,
) -> BayesResult:
    """Beta-binomial read-out of two proportions: P(p_t > p_c), expected losses, intervals.

    Each arm's rate is Beta(a + x, b + n - x) with ``prior`` = (a, b). An empty arm returns NaN
    (status ``empty_arm``); no conversions in either arm (or only conversions) returns the
    posterior numbers, which then rest on the prior, with status ``zero_variance``.

    >>> r = chance_to_beat(310, 10_000, 380, 10_000)
    >>> round(r.chance_to_beat, 4), round(r.expected_loss_treatment, 7), r.method
    (0.9967, 2.6e-06, 'beta-binomial, edgeworth')
    """
    a0, b0 = check_beta_prior(prior)
    alpha = check_alpha(alpha)
    x_c, n_c = _successes(x_control, n_control, "x_control", "n_control")
    x_t, n_t = _successes(x_treatment, n_treatment, "x_treatment", "n_treatment")
    if n_c == 0 or n_t == 0:
        return _empty(Status.EMPTY_ARM, alpha, "beta-binomial")
    ac, bc, at, bt = a0 + x_c, b0 + n_c - x_c, a0 + x_t, b0 + n_t - x_t
    kc, kt = _beta_cumulants(ac, bc), _beta_cumulants(at, bt)
    diff_k = (np.array(kt) + _SIGNS * np.array(kc)).tolist()
    if min(ac, bc, at, bt) >= APPROXIMATION_FROM:
        method = "beta-binomial, edgeworth"
        decision = _edgeworth_decision(*diff_k)
    else:
        method = "beta-binomial, quadrature"
        decision = _beta_decision(ac, bc, at, bt)
    log_t, log_c = _log_beta_cumulants(np.array([at, ac]), np.array([bt, bc]))
    lo, hi = _cornish_fisher((log_t + _SIGNS * log_c).tolist(), alpha)
    none = x_c + x_t == 0 or (x_c == n_c and x_t == n_t)
    return BayesResult(
        control=kc[0],
        treatment=kt[0],
        diff=kt[0] - kc[0],
        diff_ci=_cornish_fisher(diff_k, alpha),
        rel_lift=kt[0] / kc[0] - 1,
        rel_lift_ci=(math.expm1(lo), math.expm1(hi)),
        chance_to_beat=decision[0],
        expected_loss_treatment=decision[1],
        expected_loss_control=decision[2],
        alpha=alpha,
        method=method,
        status=Status.ZERO_VARIANCE if none else Status.OK,
    )


def _successes(x: float, n: float, x_name: str, n_name: str) -> tuple[float, float]:
    n = check_count(n, n_name, 0)
    x = check_count(x, x_name, 0)
    if x > n:
        raise InvalidArgument(x_name, x, f"must be <= {n_name} ({n:g})")
    return x, n


def _normal_prior(prior: object) -> tuple[float, float]:
    try:
        m0, v0 = (float(v) for v in prior)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        m0 = v0 = _NAN
    if not (math.isfinite(m0) and math.isfinite(v0) and v0 > 0):
        raise InvalidArgument("prior", prior, "must be (mean, variance > 0) of a normal prior")
    return m0, v0


def _finite(value: float, name: str) -> float:
    if not (isinstance(value, int | float | np.integer | np.floating) and math.isfinite(value)):
        raise InvalidArgument(name, value, "must be a finite number")
    return float(value)


def chance_to_beat_mean(
    mean_c: float,
    var_c: float,
    n_c: float,
    mean_t: float,
    var_t: float,
    n_t: float,
    *,
    prior: tuple[float, float] | None = None,
    alpha: float = 0.05,
) -> BayesResult:
    """Normal-model read-out of two means from (mean, sample variance with ddof=1, n) per arm.

    ``prior=None`` is flat: each arm's mean is N(ȳ, s²/n). ``prior=(m0, v0)`` puts N(m0, v0) on
    each arm's mean (s² treated as known). The relative-lift interval is the delta method.
    Fewer than two units in an arm, or no variance in either, returns NaN with a status.

    >>> r = chance_to_beat_mean(10.0, 4.0, 100, 11.0, 9.0, 120)
    >>> round(r.chance_to_beat, 4), round(r.expected_loss_control, 4)
    (0.9984, 1.0002)
    """
    alpha = check_alpha(alpha)
    n_c, n_t = check_count(n_c, "n_c"), check_count(n_t, "n_t")
    if prior is not None:
        m0, v0 = _normal_prior(prior)
    if n_c == 0 or n_t == 0:
        return _empty(Status.EMPTY_ARM, alpha, "normal")
    if n_c < 2 or n_t < 2:
        return _empty(Status.TOO_FEW, alpha, "normal")
    mean_c, mean_t = _finite(mean_c, "mean_c"), _finite(mean_t, "mean_t")
    post = []
    for mean, var, n, name in ((mean_c, var_c, n_c, "var_c"), (mean_t, var_t, n_t, "var_t")):
        se2 = check_count(_finite(var, name), name) / n
        if prior is not None:
            mean, se2 = (m0 * se2 + mean * v0) / (se2 + v0), se2 * v0 / (se2 + v0)
        post.append((mean, se2))
    (mc, vc), (mt, vt) = post
    if vc + vt == 0:
        return _empty(Status.ZERO_VARIANCE, alpha, "normal")
    sd = math.sqrt(vc + vt)
    ctb, loss_t, loss_c = _edgeworth_decision(mt - mc, sd * sd)
    half = z_quantile(1 - alpha / 2) * sd
    rel, rel_ci = delta_rel_ci(mc, vc, mt, vt, alpha, "two-sided")
    return BayesResult(
        mc, mt, mt - mc, (mt - mc - half, mt - mc + half), rel, rel_ci,
        ctb, loss_t, loss_c, alpha, "normal" if prior is None else "normal, normal prior",
        Status.OK if mc != 0 else Status.ZERO_BASELINE,
    )  # fmt: skip


def bayes_compare(
    control: ProportionStats | MeanStats,
    treatment: ProportionStats | MeanStats,
    *,
    prior: tuple[float, float] | None = None,
    alpha: float = 0.05,
) -> BayesResult:
    """One entry for sufficient statistics: Beta-binomial for proportions, normal for means.

    ``prior=None`` means the default of each model (Beta(1, 1); flat).
    """
    if isinstance(control, ProportionStats) and isinstance(treatment, ProportionStats):
        return chance_to_beat(
            control.successes, control.n, treatment.successes, treatment.n,
            prior=DEFAULT_BETA_PRIOR if prior is None else prior, alpha=alpha,
        )  # fmt: skip
    if isinstance(control, MeanStats) and isinstance(treatment, MeanStats):
        return chance_to_beat_mean(  # NaN mean/variance below two units: a status, not an error
            control.mean, control.variance, control.n,
            treatment.mean, treatment.variance, treatment.n, prior=prior, alpha=alpha,
        )  # fmt: skip
    raise InvalidArgument(
        "control, treatment",
        (type(control).__name__, type(treatment).__name__),
        "must both be ProportionStats or both be MeanStats",
    )
