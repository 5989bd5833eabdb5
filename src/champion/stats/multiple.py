"""Multiple testing: adjusted p-values and simultaneous intervals for a family of tests.

A read-out compares many metrics across many segments; at alpha = 0.05 one test in twenty
rejects by chance. Bonferroni and Holm bound the family-wise error rate (any false rejection);
Benjamini-Hochberg bounds the false discovery rate (the share of rejections that are false).

NaN marks a missing test (a degenerate metric or segment): it stays NaN, is never rejected,
and is not counted in the family size m.

References: Holm (1979), "A simple sequentially rejective multiple test procedure", Scand. J.
Statist. 6; Benjamini & Hochberg (1995), "Controlling the false discovery rate", JRSS B 57.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from champion.errors import InvalidArgument
from champion.stats._checks import check_alpha, check_alternative, check_count
from champion.stats._normal import z_quantile

__all__ = ["METHODS", "adjust_p_values", "bonferroni_alpha", "bonferroni_ci", "reject"]

METHODS = ("bonferroni", "holm", "bh")


def _check_method(method: str) -> str:
    if method not in METHODS:
        raise InvalidArgument("method", method, f"must be one of {', '.join(METHODS)}")
    return method


def _vector(values: Sequence[float] | np.ndarray, name: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as e:
        raise InvalidArgument(name, values, "must be a sequence of numbers") from e
    if arr.ndim != 1:
        raise InvalidArgument(name, values, "must be one-dimensional (one value per test)")
    return arr


def _check_p_values(p_values: Sequence[float] | np.ndarray) -> np.ndarray:
    p = _vector(p_values, "p_values")
    bad = np.flatnonzero(~((p >= 0.0) & (p <= 1.0)) & ~np.isnan(p))
    if bad.size:
        i = int(bad[0])
        raise InvalidArgument(f"p_values[{i}]", float(p[i]), "must lie in [0, 1] (NaN = no test)")
    return p


def adjust_p_values(p_values: Sequence[float] | np.ndarray, method: str) -> np.ndarray:
    """Adjusted p-values in the input order, clipped to [0, 1]; reject where <= alpha.

    ``"bonferroni"``: m p. ``"holm"``: step-down, the running maximum of (m - k + 1) p_(k)
    over the sorted p-values. ``"bh"``: step-up, the running minimum from the top of
    m p_(k) / k. Holm is never worse than Bonferroni; BH controls the FDR instead.

    >>> adjust_p_values([0.01, 0.04, 0.03, float("nan"), 0.5], "holm")
    array([0.04, 0.09, 0.09,  nan, 0.5 ])
    >>> adjust_p_values([0.01, 0.04, 0.03, float("nan"), 0.5], "bh")
    array([0.04      , 0.05333333, 0.05333333,        nan, 0.5       ])
    """
    method = _check_method(method)
    p = _check_p_values(p_values)
    out = np.full(p.shape, np.nan)
    present = ~np.isnan(p)
    q = p[present]
    m = q.size
    if m == 0:
        return out
    if method == "bonferroni":
        adjusted = q * m
    else:
        order = np.argsort(q, kind="stable")
        ranked = q[order]
        if method == "holm":
            steps = np.maximum.accumulate(ranked * np.arange(m, 0, -1))
        else:
            steps = np.minimum.accumulate((ranked * m / np.arange(1, m + 1))[::-1])[::-1]
        adjusted = np.empty(m)
        adjusted[order] = steps
    out[present] = np.minimum(adjusted, 1.0)
    return out


def reject(p_values: Sequence[float] | np.ndarray, method: str, alpha: float = 0.05) -> np.ndarray:
    """Which hypotheses the procedure rejects at level ``alpha`` (a NaN p-value never is).

    >>> reject([0.01, 0.04, 0.03, 0.5], "holm").tolist()
    [True, False, False, False]
    >>> reject([0.01, 0.04, 0.03, 0.5], "bh").tolist()
    [True, False, False, False]
    """
    alpha = check_alpha(alpha)
    adjusted = adjust_p_values(p_values, method)
    rejected: np.ndarray = ~np.isnan(adjusted) & (adjusted <= alpha)
    return rejected


def bonferroni_alpha(alpha: float, m: int) -> float:
    """Per-test level for a family of m tests or intervals: alpha / m.

    >>> bonferroni_alpha(0.05, 10)
    0.005
    """
    alpha = check_alpha(alpha)
    m_value = check_count(m, "m", 1)
    if not m_value.is_integer():
        raise InvalidArgument("m", m, "must be a whole number of tests >= 1")
    return alpha / m_value


def bonferroni_ci(
    estimates: Sequence[float] | np.ndarray,
    ses: Sequence[float] | np.ndarray,
    *,
    alpha: float = 0.05,
    alternative: str = "two-sided",
) -> np.ndarray:
    """Simultaneous normal intervals, shape (m, 2): all cover together with prob. >= 1 - alpha.

    Each is ``estimate ± z_{1 - alpha/(2m)} se`` (one-sided: ``z_{1 - alpha/m}``, one end
    infinite as in the single tests). A NaN estimate or se gives a NaN row and is not counted
    in m.

    >>> bonferroni_ci([0.5, -0.2], [0.1, 0.1]).round(4)
    array([[ 0.2759,  0.7241],
           [-0.4241,  0.0241]])
    """
    alpha = check_alpha(alpha)
    check_alternative(alternative)
    est = _vector(estimates, "estimates")
    se = _vector(ses, "ses")
    if est.shape != se.shape:
        raise InvalidArgument("ses", ses, f"must have one se per estimate ({est.size})")
    if np.any(np.isinf(est)):
        raise InvalidArgument("estimates", estimates, "must be finite numbers (NaN = no test)")
    if np.any(se < 0):
        raise InvalidArgument("ses", ses, "must be >= 0 (NaN = no test)")
    present = ~(np.isnan(est) | np.isnan(se))
    m = int(present.sum())
    out = np.full((est.size, 2), np.nan)
    if m == 0:
        return out
    if alternative == "two-sided":
        half = z_quantile(1.0 - alpha / (2 * m)) * se[present]
        out[present, 0] = est[present] - half
        out[present, 1] = est[present] + half
    elif alternative == "larger":
        out[present, 0] = est[present] - z_quantile(1.0 - alpha / m) * se[present]
        out[present, 1] = math.inf
    else:
        out[present, 0] = -math.inf
        out[present, 1] = est[present] + z_quantile(1.0 - alpha / m) * se[present]
    return out
