"""Group-sequential tests: Lan-DeMets alpha spending with exact boundaries.

Boundaries come from the recursive numerical integration of Armitage, McPherson & Rowe
(1969) on the grid of Jennison & Turnbull (2000, "Group Sequential Methods", ch. 19): the
density of the z statistic among paths that have not stopped is carried from look to look,
so the probability of crossing at each look is exact up to quadrature error (~1e-8 here;
``_gsd_grid`` does the integration). Looks may sit at any information fractions; a boundary
depends only on the looks so far. A design (fractions, alpha, spending, alternative) is solved
once: its boundaries, error spent and nominal levels are cached, so a decision is a look-up.

Drift convention: ``drift`` is the expected z statistic at full information (t = 1), so the
z statistic at look k has mean ``drift * sqrt(t_k)``.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import optimize, special

from champion.errors import InvalidArgument
from champion.stats._checks import check_alpha, check_alternative, check_power
from champion.stats._gsd_grid import GRID_R, solve_upper_boundaries, walk
from champion.stats._normal import normal_p_value, z_quantile
from champion.stats.results import Status

__all__ = [
    "SPENDING_FUNCTIONS",
    "CrossingProbabilities",
    "SequentialDecision",
    "crossing_probabilities",
    "drift_for_power",
    "sequential_boundaries",
    "sequential_decision",
    "sequential_inflation",
    "spending_function",
]

SPENDING_FUNCTIONS = ("obrien-fleming", "pocock")
_DESIGNS_MAX = 4096  # cached designs; the oldest goes first


@dataclass(frozen=True, slots=True)
class CrossingProbabilities:
    """Probability of first crossing the upper / lower boundary at each look."""

    upper: np.ndarray
    lower: np.ndarray

    @property
    def total(self) -> np.ndarray:
        """Probability of stopping at each look, either side."""
        total: np.ndarray = self.upper + self.lower
        return total

    @property
    def cumulative(self) -> np.ndarray:
        """Probability of having stopped by each look."""
        return np.cumsum(self.total)

    @property
    def overall(self) -> float:
        """Probability of stopping at some look (type I error under drift 0)."""
        return float(self.total.sum())


@dataclass(frozen=True, slots=True)
class SequentialDecision:
    """Whether the z statistic at one look crosses its Lan-DeMets boundary.

    ``boundary`` is on the z scale (negative for ``alternative="smaller"``); ``nominal_alpha``
    is the nominal p-value threshold at this look (reject iff ``p_value <= nominal_alpha``);
    ``alpha_spent`` is the type I error spent by this look, both sides together.
    """

    z: float
    look: int
    information_fraction: float
    boundary: float
    crossed: bool
    direction: str  # "larger", "smaller" or "none"
    alpha_spent: float
    nominal_alpha: float
    p_value: float
    alternative: str = "two-sided"
    status: Status = Status.OK


def _check_spending(spending: str) -> str:
    if spending not in SPENDING_FUNCTIONS:
        raise InvalidArgument(
            "spending", spending, f"must be one of {', '.join(SPENDING_FUNCTIONS)}"
        )
    return spending


def _check_fractions(information_fractions: object) -> tuple[float, ...]:
    rule = "must be strictly increasing numbers in (0, 1], one per look"
    try:
        t = np.asarray(information_fractions, dtype=float)
    except (TypeError, ValueError):
        raise InvalidArgument("information_fractions", information_fractions, rule) from None
    if t.ndim != 1 or t.size == 0 or not np.isfinite(t).all():
        raise InvalidArgument("information_fractions", information_fractions, rule)
    if t[0] <= 0 or t[-1] > 1 or (t[1:] <= t[:-1]).any():
        raise InvalidArgument("information_fractions", t.tolist(), rule)
    return tuple(t.tolist())


def spending_function(
    t: float | Sequence[float] | np.ndarray,
    *,
    alpha: float = 0.05,
    spending: str = "obrien-fleming",
) -> float | np.ndarray:
    """Lan-DeMets spending function: the error spent by information fraction ``t``.

    O'Brien-Fleming type ``2 - 2 Φ(z_{1-α/2} / √t)``; Pocock type ``α ln(1 + (e - 1) t)``.
    Both spend ``alpha`` at t = 1. A two-sided design spends ``alpha / 2`` per side, so its
    total is ``2 * spending_function(t, alpha=alpha / 2)``.

    >>> round(spending_function(0.5, alpha=0.025), 6)
    0.001525
    """
    check_alpha(alpha)
    _check_spending(spending)
    arr = np.asarray(t, dtype=float)
    if not np.all(np.isfinite(arr)) or np.any(arr < 0) or np.any(arr > 1):
        raise InvalidArgument(
            "t", np.asarray(t).tolist(), "information fractions must lie in [0, 1]"
        )
    out = _spent(arr, alpha, spending)
    return float(out) if out.ndim == 0 else out


def _spent(t: np.ndarray, alpha: float, spending: str) -> np.ndarray:
    """The spending function on checked arguments."""
    if spending == "obrien-fleming":
        if (t > 0).all():  # the usual case; the same numbers as the general one below
            spent: np.ndarray = 2.0 * special.ndtr(-z_quantile(1 - alpha / 2) / np.sqrt(t))
            return spent
        safe = np.where(t > 0, t, 1.0)
        return np.where(t > 0, 2.0 * special.ndtr(-z_quantile(1 - alpha / 2) / np.sqrt(safe)), 0.0)
    return alpha * np.log1p((math.e - 1.0) * t)


def _solve_boundaries(
    t: tuple[float, ...], side_alpha: float, spending: str, two_sided: bool, r: int
) -> tuple[float, ...]:
    """Upper boundaries whose null crossing probabilities equal the spending increments."""
    increments = _spent(np.asarray(t), side_alpha, spending)
    increments[1:] -= increments[:-1].copy()
    return tuple(solve_upper_boundaries(increments, t, two_sided, r).tolist())


@lru_cache(maxsize=1024)
def _boundaries_cached(
    t: tuple[float, ...], alpha: float, spending: str, alternative: str
) -> tuple[float, ...]:
    two_sided = alternative == "two-sided"
    return _solve_boundaries(t, alpha / 2 if two_sided else alpha, spending, two_sided, GRID_R)


@dataclass(frozen=True, slots=True)
class _Design:
    """A solved design: per look its fraction, boundary, error spent and nominal level."""

    fractions: tuple[float, ...]
    boundaries: tuple[float, ...]
    alpha_spent: tuple[float, ...]
    nominal_alpha: tuple[float, ...]


# (information fractions, alpha, spending, alternative) as the caller gave them
_DesignKey = tuple[tuple[float, ...], float, str, str]
_designs: dict[_DesignKey, _Design] = {}  # keyed on the arguments as given; written under the lock
_designs_lock = threading.Lock()


def _design(
    information_fractions: Sequence[float],
    alpha: float,
    spending: str,
    alternative: str,
    look: int | None = None,
) -> _Design:
    """The solved design for these arguments, from the cache when they were seen before.

    The cache is keyed on the arguments as given, so a hit needs no checks; a miss checks
    everything (``look`` too, in the order callers have always seen) before solving.
    """
    key: _DesignKey | None
    try:
        key = (tuple(information_fractions), alpha, spending, alternative)
        design = _designs.get(key)
    except TypeError:  # not iterable or not hashable: refused by the checks below
        key = design = None
    if design is None:
        t = _check_fractions(information_fractions)
        if look is not None:
            _check_look(look, len(t))
        alpha = check_alpha(alpha)
        _check_spending(spending)
        check_alternative(alternative)
        side = "larger" if alternative == "smaller" else alternative
        bounds = np.array(_boundaries_cached(t, alpha, spending, side))
        if alternative == "smaller":
            bounds = -bounds
        sides = 2.0 if alternative == "two-sided" else 1.0
        spent = sides * _spent(np.asarray(t), alpha / sides, spending)
        nominal = sides * special.ndtr(-np.abs(bounds))
        design = _Design(t, tuple(bounds.tolist()), tuple(spent.tolist()), tuple(nominal.tolist()))
        if key is not None:
            with _designs_lock:
                if len(_designs) >= _DESIGNS_MAX:
                    del _designs[next(iter(_designs))]
                _designs[key] = design
    if look is not None:
        _check_look(look, len(design.fractions))
    return design


def _check_look(look: int, looks: int) -> None:
    if not isinstance(look, int | np.integer) or isinstance(look, bool) or not 1 <= look <= looks:
        raise InvalidArgument("look", look, f"must be an integer look number in 1..{looks}")


def _clear_caches() -> None:
    """Forget every solved design (tests compare cached results with fresh ones)."""
    with _designs_lock:
        _designs.clear()
    _boundaries_cached.cache_clear()
    _inflation_cached.cache_clear()


def sequential_boundaries(
    information_fractions: Sequence[float],
    *,
    alpha: float = 0.05,
    spending: str = "obrien-fleming",
    alternative: str = "two-sided",
) -> np.ndarray:
    """z boundaries of a Lan-DeMets group-sequential test at the given information fractions.

    Two-sided: a symmetric design, each side spending ``alpha / 2`` with its own spending
    function (gsDesign ``test.type=2``, ldbounds), stopping when ``|Z_k| >= b_k``.
    ``"larger"`` spends all of ``alpha`` on the upper side (stop when ``Z_k >= b_k``);
    ``"smaller"`` mirrors it and returns negative boundaries (stop when ``Z_k <= b_k``).
    If the last fraction is below 1, the design spends only ``alpha(t_K)``. A look that
    spends nothing has boundary ``inf``.

    >>> sequential_boundaries([0.2, 0.4, 0.6, 0.8, 1.0]).round(3)
    array([4.877, 3.357, 2.68 , 2.29 , 2.031])
    """
    return np.array(_design(information_fractions, alpha, spending, alternative).boundaries)


def crossing_probabilities(
    boundaries: Sequence[float],
    information_fractions: Sequence[float],
    *,
    drift: float = 0.0,
    alternative: str = "two-sided",
) -> CrossingProbabilities:
    """Exact first-crossing probabilities of any boundaries under a drift.

    Two-sided boundaries are symmetric (continue while ``|Z_k| < b_k``); ``"larger"`` has
    only the upper boundary, ``"smaller"`` only the lower one (pass negative values).

    >>> p = crossing_probabilities([1.96] * 5, [0.2, 0.4, 0.6, 0.8, 1.0])
    >>> round(p.overall, 3)
    0.142
    """
    t = _check_fractions(information_fractions)
    check_alternative(alternative)
    b = np.asarray(boundaries, dtype=float)
    if b.shape != (len(t),) or np.any(np.isnan(b)):
        raise InvalidArgument(
            "boundaries",
            np.asarray(boundaries).tolist(),
            f"must give one number per look ({len(t)})",
        )
    if not math.isfinite(drift):
        raise InvalidArgument("drift", drift, "must be a finite number")
    if alternative == "two-sided":
        if np.any(b <= 0):
            raise InvalidArgument("boundaries", b.tolist(), "two-sided boundaries must be > 0")
        up, low, _ = walk(t, drift, GRID_R, lambda k, _: (-b[k], b[k]))
    elif alternative == "larger":
        up, low, _ = walk(t, drift, GRID_R, lambda k, _: (-math.inf, b[k]))
    else:  # mirror: the lower boundary of Z is the upper boundary of -Z
        low, up, _ = walk(t, -drift, GRID_R, lambda k, _: (-math.inf, -b[k]))
    return CrossingProbabilities(upper=up, lower=low)


def drift_for_power(
    boundaries: Sequence[float],
    information_fractions: Sequence[float],
    *,
    power: float = 0.8,
    alternative: str = "two-sided",
) -> float:
    """Drift (expected final z) at which the boundaries are crossed, right side, with ``power``.

    Power counts crossings of the boundary in the direction of the effect only (upper for
    two-sided and ``"larger"``), the convention of gsDesign and of the fixed-sample formula.
    For ``"smaller"`` the returned drift is negative.
    """
    power = check_power(power)
    check_alternative(alternative)
    sign = -1.0 if alternative == "smaller" else 1.0

    def shortfall(d: float) -> float:
        p = crossing_probabilities(
            boundaries, information_fractions, drift=sign * d, alternative=alternative
        )
        return float((p.lower if sign < 0 else p.upper).sum()) - power

    if shortfall(0.0) >= 0:  # the null already crosses that often
        return 0.0
    hi = 4.0
    while shortfall(hi) < 0:
        if hi > 1e3:
            raise InvalidArgument(
                "boundaries", list(boundaries), "no drift reaches the requested power"
            )
        hi *= 2.0
    return sign * optimize.brentq(shortfall, 0.0, hi, xtol=1e-10, rtol=1e-12)


@lru_cache(maxsize=256)
def _inflation_cached(
    t: tuple[float, ...], alpha: float, power: float, spending: str, alternative: str
) -> float:
    bounds = _boundaries_cached(t, alpha, spending, alternative)
    drift = drift_for_power(bounds, t, power=power, alternative=alternative)
    fixed = z_quantile(1 - (alpha / 2 if alternative == "two-sided" else alpha)) + z_quantile(power)
    return t[-1] * (drift / fixed) ** 2


def sequential_inflation(
    looks_or_fractions: int | Sequence[float],
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    spending: str = "obrien-fleming",
    alternative: str = "two-sided",
) -> float:
    """Maximum sample size of the group-sequential design over the fixed-sample size.

    An integer K means K equally spaced looks. The ratio is ``t_K (δ_GS / δ_fixed)^2`` with
    ``δ_fixed = z_{1-α/2} + z_{power}`` (``z_{1-α}`` one-sided) and ``δ_GS`` the drift giving
    the same power under the boundaries; multiply a fixed-sample size by it.

    >>> round(sequential_inflation(5), 3)
    1.025
    """
    if isinstance(looks_or_fractions, int | np.integer) and not isinstance(
        looks_or_fractions, bool
    ):
        if looks_or_fractions < 1:
            raise InvalidArgument("looks_or_fractions", looks_or_fractions, "must be >= 1 looks")
        k = int(looks_or_fractions)
        t = tuple((np.arange(1, k + 1) / k).tolist())
    else:
        t = _check_fractions(looks_or_fractions)
    alpha, power = check_alpha(alpha), check_power(power)
    _check_spending(spending)
    check_alternative(alternative)
    key = "larger" if alternative == "smaller" else alternative
    return _inflation_cached(t, alpha, power, spending, key)


def sequential_decision(
    z: float,
    look: int,
    information_fractions: Sequence[float],
    *,
    alpha: float = 0.05,
    spending: str = "obrien-fleming",
    alternative: str = "two-sided",
) -> SequentialDecision:
    """Stop or continue at look ``look`` (1-based) given the observed z statistic.

    Pass the information fractions of the looks made so far (later ones do not change this
    boundary). A NaN ``z`` (an upstream degenerate test) never crosses: status ``too_few``.

    >>> d = sequential_decision(2.5, 3, [0.2, 0.4, 0.6, 0.8, 1.0])
    >>> round(d.boundary, 3), d.crossed, round(d.nominal_alpha, 4)
    (2.68, False, 0.0074)
    """
    design = _design(information_fractions, alpha, spending, alternative, look)
    b = design.boundaries[look - 1]
    z = float(z)
    if alternative == "two-sided":
        crossed, direction = abs(z) >= b, ("larger" if z > 0 else "smaller")
    else:
        crossed, direction = (z >= b if alternative == "larger" else z <= b), alternative
    return SequentialDecision(
        z=z,
        look=int(look),
        information_fraction=design.fractions[look - 1],
        boundary=b,
        crossed=bool(crossed),  # NaN compares False: an unavailable z never crosses
        direction=direction if crossed else "none",
        alpha_spent=design.alpha_spent[look - 1],
        nominal_alpha=design.nominal_alpha[look - 1],
        p_value=normal_p_value(z, alternative),
        alternative=alternative,
        status=Status.TOO_FEW if math.isnan(z) else Status.OK,
    )
