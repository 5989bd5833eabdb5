"""Standardised effect sizes, for reading practical significance beside the p-value."""

from __future__ import annotations

import math

from champion.stats._checks import check_count, check_rate

__all__ = ["cohens_d", "cohens_h"]


def cohens_d(
    mean_c: float, var_c: float, n_c: float, mean_t: float, var_t: float, n_t: float
) -> float:
    """Cohen's d: (mean_t - mean_c) over the pooled standard deviation (ddof=1 per arm).

    NaN when the pooled variance is zero or there are fewer than 3 units in all.

    >>> round(cohens_d(10.0, 4.0, 50, 11.0, 4.0, 50), 3)
    0.5
    """
    n_c = check_count(n_c, "n_c", 1)
    n_t = check_count(n_t, "n_t", 1)
    var_c = check_count(var_c, "var_c", 0)
    var_t = check_count(var_t, "var_t", 0)
    if n_c + n_t <= 2:
        return float("nan")
    pooled = ((n_c - 1) * var_c + (n_t - 1) * var_t) / (n_c + n_t - 2)
    if pooled == 0:
        return float("nan")
    return (mean_t - mean_c) / math.sqrt(pooled)


def cohens_h(p_control: float, p_treatment: float) -> float:
    """Cohen's h for two proportions: 2 asin(sqrt(p_t)) - 2 asin(sqrt(p_c)).

    >>> round(cohens_h(0.5, 0.6), 4)
    0.2014
    """
    p_c = check_rate(p_control, "p_control")
    p_t = check_rate(p_treatment, "p_treatment")
    return 2 * math.asin(math.sqrt(p_t)) - 2 * math.asin(math.sqrt(p_c))
