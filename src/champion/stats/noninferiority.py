"""Non-inferiority tests: is the challenger no worse than the champion by more than a margin?

The hypotheses follow the metric's direction. For a metric where higher is better,
H0: diff <= -margin against H1: diff > -margin; where lower is better (false positives,
latency), H0: diff >= margin against H1: diff < margin. Both are one-sided z-tests on the
unpooled standard error; the interval is the matching one-sided 1 - alpha bound.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import special

from champion.errors import InvalidArgument
from champion.stats._checks import check_alpha, check_count, check_nonnegative
from champion.stats._normal import z_quantile
from champion.stats.frequentist import check_successes, t_p_value, t_quantile
from champion.stats.results import Status

__all__ = ["NonInferiorityResult", "noninferiority_mean", "noninferiority_proportion"]

_DIRECTIONS = ("higher", "lower")


@dataclass(frozen=True, slots=True)
class NonInferiorityResult:
    """``bound`` is the one-sided 1 - alpha confidence bound on diff that decides the test."""

    diff: float
    margin: float
    direction: str
    bound: float
    statistic: float
    p_value: float
    alpha: float
    method: str
    status: Status = Status.OK

    @property
    def noninferior(self) -> bool:
        return bool(self.p_value < self.alpha) if not math.isnan(self.p_value) else False


def _check_direction(direction: str) -> str:
    if direction not in _DIRECTIONS:
        raise InvalidArgument("direction", direction, "must be 'higher' or 'lower'")
    return direction


def _decide(
    diff: float, se: float, margin: float, direction: str, alpha: float, method: str,
    df: float | None = None,
) -> NonInferiorityResult:  # fmt: skip
    if se == 0 or math.isnan(se):
        nan = float("nan")
        return NonInferiorityResult(
            diff, margin, direction, nan, nan, nan, alpha, method, Status.ZERO_VARIANCE
        )
    crit = z_quantile(1 - alpha) if df is None else t_quantile(1 - alpha, df)
    if direction == "higher":
        statistic = (diff + margin) / se
        bound = diff - crit * se
        alternative = "larger"
    else:
        statistic = (diff - margin) / se
        bound = diff + crit * se
        alternative = "smaller"
    if df is None:
        p = float(special.ndtr(-statistic if alternative == "larger" else statistic))
    else:
        p = t_p_value(statistic, df, alternative)
    return NonInferiorityResult(diff, margin, direction, bound, statistic, p, alpha, method)


def noninferiority_proportion(
    x_control: float,
    n_control: float,
    x_treatment: float,
    n_treatment: float,
    *,
    margin: float,
    direction: str = "higher",
    alpha: float = 0.05,
) -> NonInferiorityResult:
    """Non-inferiority of a proportion with an absolute ``margin`` (Wald z on the difference).

    >>> r = noninferiority_proportion(300, 10000, 290, 10000, margin=0.005, direction="lower")
    >>> round(r.p_value, 4), r.noninferior
    (0.0061, True)
    """
    x_c, n_c = check_successes(x_control, n_control, "x_control", "n_control")
    x_t, n_t = check_successes(x_treatment, n_treatment, "x_treatment", "n_treatment")
    margin = check_nonnegative(margin, "margin")
    _check_direction(direction)
    alpha = check_alpha(alpha)
    p_c, p_t = x_c / n_c, x_t / n_t
    se = math.sqrt(p_c * (1 - p_c) / n_c + p_t * (1 - p_t) / n_t)
    return _decide(p_t - p_c, se, margin, direction, alpha, "noninferiority-z")


def noninferiority_mean(
    mean_c: float,
    var_c: float,
    n_c: float,
    mean_t: float,
    var_t: float,
    n_t: float,
    *,
    margin: float,
    direction: str = "higher",
    alpha: float = 0.05,
) -> NonInferiorityResult:
    """Non-inferiority of a mean with an absolute ``margin`` (Welch t, Satterthwaite df)."""
    n_c = check_count(n_c, "n_c", 2)
    n_t = check_count(n_t, "n_t", 2)
    var_c = check_count(var_c, "var_c", 0)
    var_t = check_count(var_t, "var_t", 0)
    margin = check_nonnegative(margin, "margin")
    _check_direction(direction)
    alpha = check_alpha(alpha)
    vm_c, vm_t = var_c / n_c, var_t / n_t
    se = math.sqrt(vm_c + vm_t)
    df = (vm_c + vm_t) ** 2 / (vm_c**2 / (n_c - 1) + vm_t**2 / (n_t - 1)) if se > 0 else 1.0
    return _decide(mean_t - mean_c, se, margin, direction, alpha, "noninferiority-welch", df)
