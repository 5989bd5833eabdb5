"""Stratified comparison: arms compared within each stratum, the strata combined.

When the split changes during an experiment (a ramp from 10% to 50%), the challenger's
units come mostly from later days, so pooling both arms over the whole run turns any trend
over time into an apparent effect (Simpson's paradox). Within one allocation version both
arms are drawn at the same time from the same traffic, so each stratum's difference is
unbiased; combining them with weights that depend only on the counts keeps it so.

The weights are Cochran–Mantel–Haenszel's for a difference,
``w_s ∝ n_c,s · n_t,s / (n_c,s + n_t,s)``: a stratum counts for the information it holds
about a difference, so a 95/5 stage does not swamp a 50/50 one with its noise. Under an
effect that is the same in every stratum this is (nearly) the minimum-variance unbiased
combination; under an effect that changes with time it estimates the effect averaged with
these weights. Each arm's combined level is the same weighted sum of its stratum means, so
``treatment - control`` is the combined difference and the relative lift follows by the
delta method with independent arms.

References: Cochran (1954), *Biometrics* 10:417; Mantel & Haenszel (1959), *JNCI* 22:719;
Miratrix, Sekhon & Yu (2013), *JRSS B* 75:369 (post-stratification).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from champion.errors import InvalidArgument
from champion.stats._checks import check_alpha
from champion.stats._normal import z_test_result
from champion.stats.results import Status, TestResult

__all__ = ["StratifiedResult", "StratumEstimate", "combine_strata", "stratum_weights"]


@dataclass(frozen=True, slots=True)
class StratumEstimate:
    """One stratum's arms: units and each arm's mean with the variance of that mean."""

    n_control: float
    n_treatment: float
    control: float
    treatment: float
    var_control: float
    var_treatment: float

    @property
    def diff(self) -> float:
        return self.treatment - self.control

    @property
    def se(self) -> float:
        return math.sqrt(self.var_control + self.var_treatment)

    @property
    def usable(self) -> bool:
        numbers = (self.control, self.treatment, self.var_control, self.var_treatment)
        return self.n_control > 0 and self.n_treatment > 0 and not any(map(math.isnan, numbers))


@dataclass(frozen=True, slots=True)
class StratifiedResult:
    """The combined test, the weights (summing to 1 over usable strata, 0 elsewhere)
    and the variances of each arm's combined level."""

    test: TestResult
    weights: tuple[float, ...]
    var_control: float
    var_treatment: float

    @property
    def se(self) -> float:
        return math.sqrt(self.var_control + self.var_treatment)


def stratum_weights(strata: Sequence[StratumEstimate]) -> tuple[float, ...]:
    """CMH weights n_c n_t / (n_c + n_t), normalised; 0 for a stratum missing an arm.

    >>> stratum_weights([StratumEstimate(90, 10, 0, 0, 0, 0), StratumEstimate(50, 50, 0, 0, 0, 0)])
    (0.2647058823529412, 0.7352941176470589)
    """
    raw = [s.n_control * s.n_treatment / (s.n_control + s.n_treatment) if s.usable else 0.0
           for s in strata]  # fmt: skip
    total = sum(raw)
    if total <= 0:
        return tuple(0.0 for _ in strata)
    return tuple(w / total for w in raw)


def combine_strata(
    strata: Sequence[StratumEstimate],
    *,
    alpha: float = 0.05,
    alternative: str = "two-sided",
    method: str = "stratified-z",
) -> StratifiedResult:
    """The CMH-weighted difference, its z-test and CIs (absolute and relative).

    Var(Σ w_s d_s) = Σ w_s² (v_c,s + v_t,s) with ``v`` the variances of the stratum means;
    strata without both arms get weight 0. No usable stratum: status ``empty_arm``.

    >>> a = StratumEstimate(1000, 1000, 0.10, 0.12, 0.09 / 1000, 0.1056 / 1000)
    >>> r = combine_strata([a])
    >>> round(r.test.diff, 3), round(r.test.statistic, 3)
    (0.02, 1.43)
    """
    alpha = check_alpha(alpha)
    if not strata:
        raise InvalidArgument("strata", strata, "needs at least one stratum")
    weights = stratum_weights(strata)
    if not any(weights):
        nan = math.nan
        test = _degenerate(nan, nan, alpha, alternative, method, Status.EMPTY_ARM)
        return StratifiedResult(test, weights, nan, nan)
    used = [(w, s) for w, s in zip(weights, strata, strict=True) if w > 0]
    control = sum(w * s.control for w, s in used)
    treatment = sum(w * s.treatment for w, s in used)
    var_c = sum(w * w * s.var_control for w, s in used)
    var_t = sum(w * w * s.var_treatment for w, s in used)
    se = math.sqrt(var_c + var_t)
    if se <= 0:
        test = _degenerate(control, treatment, alpha, alternative, method, Status.ZERO_VARIANCE)
        return StratifiedResult(test, weights, var_c, var_t)
    test = z_test_result(
        control,
        treatment,
        var_mean_c=var_c,
        var_mean_t=var_t,
        se=se,
        statistic=(treatment - control) / se,
        alpha=alpha,
        alternative=alternative,
        method=method,
    )
    return StratifiedResult(test, weights, var_c, var_t)


def _degenerate(
    control: float, treatment: float, alpha: float, alternative: str, method: str, status: Status
) -> TestResult:
    """A result without a test: the levels where known, NaN for everything else."""
    nan = math.nan
    return TestResult(
        control, treatment, treatment - control, (nan, nan), nan, (nan, nan), nan, nan,
        alpha, alternative, method, status,
    )  # fmt: skip
