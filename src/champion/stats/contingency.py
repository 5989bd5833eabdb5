"""Chi-square tests on counts: independence in a 2xK table, and sample-ratio mismatch (SRM)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import special

from champion.errors import InvalidArgument
from champion.stats._checks import check_weights
from champion.stats.results import ChiSquareResult, SRMResult, Status

__all__ = ["chi_square", "srm"]

_NAN = float("nan")


def _counts(values: object, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise InvalidArgument(name, np.asarray(values).tolist(), "counts must be finite and >= 0")
    return arr


def chi_square(table: Sequence[Sequence[float]], *, correction: bool = True) -> ChiSquareResult:
    """Pearson's chi-square test of independence for a 2xK table of counts.

    Rows are arms, columns are outcome categories (e.g. ``[[conv, no_conv], ...]``). Yates'
    continuity correction applies only when there is one degree of freedom, as in
    ``scipy.stats.chi2_contingency``. A row or column of zeros gives status ``zero_variance``.

    >>> r = chi_square([[180, 1620], [210, 1590]])
    >>> round(r.statistic, 3), round(r.p_value, 4), r.dof
    (2.418, 0.1199, 1)
    """
    observed = _counts(table, "table")
    if observed.ndim != 2 or observed.shape[0] < 2 or observed.shape[1] < 2:
        raise InvalidArgument("table", observed.tolist(), "must be a 2-D table, at least 2x2")
    rows, cols = observed.sum(axis=1), observed.sum(axis=0)
    total = observed.sum()
    dof = (observed.shape[0] - 1) * (observed.shape[1] - 1)
    if np.any(rows == 0) or np.any(cols == 0):
        return ChiSquareResult(_NAN, _NAN, dof, Status.ZERO_VARIANCE)
    expected = np.outer(rows, cols) / total
    deviation = np.abs(observed - expected)
    if correction and dof == 1:
        deviation = np.maximum(deviation - 0.5, 0.0)
    statistic = float(np.sum(deviation**2 / expected))
    return ChiSquareResult(statistic, float(special.chdtrc(dof, statistic)), dof)


def srm(observed: Sequence[float], weights: Sequence[float]) -> SRMResult:
    """Sample-ratio mismatch: Pearson's goodness-of-fit of arm counts to configured weights.

    Valid for one look at the end; under continuous monitoring use
    :func:`champion.stats.always_valid.sequential_srm`. Weights must sum to 1.

    >>> r = srm([5200, 4800], [0.5, 0.5])
    >>> round(r.statistic, 1), r.p_value < 0.001
    (16.0, True)
    """
    counts = _counts(observed, "observed")
    w = check_weights(weights)
    if counts.ndim != 1 or counts.size != w.size:
        raise InvalidArgument(
            "observed", counts.tolist(), f"must list one count per weight ({w.size})"
        )
    total = counts.sum()
    expected = w * total
    if total == 0:
        return SRMResult(
            _NAN, _NAN, tuple(counts.tolist()), tuple(expected.tolist()), status=Status.EMPTY_ARM
        )
    statistic = float(np.sum((counts - expected) ** 2 / expected))
    return SRMResult(
        statistic,
        float(special.chdtrc(w.size - 1, statistic)),
        tuple(counts.tolist()),
        tuple(expected.tolist()),
    )
