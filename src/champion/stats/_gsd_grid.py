"""Recursive numerical integration for group-sequential designs (Armitage et al. 1969).

The density of the z statistic among paths that have not stopped is carried from look to look
on the grid of Jennison & Turnbull (2000, "Group Sequential Methods", §19.2), with Simpson's
rule; the probability of first crossing a boundary at a look is then a weighted sum of normal
tail probabilities, exact up to quadrature error (~1e-8). Two steps are done in closed form
because they can be: look 1 (a normal quantile) and the density at look 2 (a bivariate normal
conditional), which leaves the quadratic-cost step only for designs of 4 or more looks.

Each boundary is solved by Halley's method on the log of the crossing probability, whose first
two derivatives come from the continuation density at the boundary at no extra integration.
Under the null the density of the paths still running is log-concave at every look (truncation
and convolution with a normal keep it so), hence so is the crossing probability as a function
of the boundary; started from the unconditional normal quantile, an upper bound for the root,
the iteration needs 2 or 3 evaluations per look.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import lru_cache

import numpy as np
from scipy import optimize, special

__all__ = ["GRID_R", "Z_MAX", "Crossing", "grid", "solve_upper_boundaries", "walk"]

GRID_R = 24  # grid density of Jennison & Turnbull (2000, §19.2); gsDesign uses 18
Z_MAX = 40.0  # beyond this a boundary spends < 1e-300: treated as no boundary (inf)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
# Halley's method stops once a step moves the boundary by less than this: convergence is
# cubic, so the boundary is then exact to ~1e-12 (within 5e-13 of a solve to 1e-13 over a few
# thousand designs), far below the quadrature error (~1e-6 on z). Bisection, if a step leaves
# the bracket, stops on a bracket of _BRACKET_TOL.
_XTOL = 1e-4
_BRACKET_TOL = 1e-12
_MAX_STEPS = 60

Bounds = Callable[[int, "Crossing"], tuple[float, float]]


@lru_cache(maxsize=8)
def _offsets(r: int) -> np.ndarray:
    """Grid points around a mean of 0: 6r - 1 points, uniform within ±3, log-spaced beyond.

    Built as a lower half mirrored about 0, so that the grid of a symmetric continuation
    region is exactly symmetric.
    """
    i = np.arange(1, 3 * r, dtype=float)
    half = np.where(i < r, -3.0 - 4.0 * np.log(r / i), -3.0 + 3.0 * (i - r) / (2.0 * r))
    x = np.concatenate((half, [0.0], -half[::-1]))
    x.setflags(write=False)
    return x


def grid(mu: float, lo: float, hi: float, r: int) -> tuple[np.ndarray, np.ndarray]:
    """Points and Simpson weights on (lo, hi), dense near the mean ``mu`` (J&T §19.2).

    The points of the standard grid that fall outside (lo, hi) collapse onto lo and hi.
    """
    full = _offsets(r) + mu
    i = int(full.searchsorted(lo, side="right"))  # points <= lo
    j = int(full.searchsorted(hi, side="left"))  # points < hi
    x = full[i:j]
    if i > 0 or j < full.size:
        x = np.concatenate(([lo] if i > 0 else [], x, [hi] if j < full.size else []))
    if x.size < 2 or x[-1] <= x[0]:
        return np.empty(0), np.empty(0)
    z = np.empty(2 * x.size - 1)
    z[0::2] = x
    z[1::2] = 0.5 * (x[:-1] + x[1:])
    d = (x[1:] - x[:-1]) / 6.0
    w = np.empty_like(z)
    w[1::2] = 4.0 * d
    w[0] = d[0]
    w[-1] = d[-1]
    np.add(d[:-1], d[1:], out=w[2:-1:2])
    return z, w


def _phi(x: np.ndarray) -> np.ndarray:
    density: np.ndarray = _INV_SQRT_2PI * np.exp(-0.5 * x * x)
    return density


class Crossing:
    """Probability of first crossing a boundary at one look, as a function of that boundary.

    ``h`` is the mass of the paths still running on the previous look's grid and ``mean`` the
    mean of the score at this look given each grid point; ``s = sqrt(t_k)``, ``sd`` the
    standard deviation of the score increment. On the z scale the crossing probability of
    ``c`` is ``Σ h Φ(m - c ratio)`` with ``m = mean / sd``, ``ratio = s / sd``.
    """

    __slots__ = ("h", "m", "ratio")

    def __init__(self, h: np.ndarray, mean: np.ndarray, s: float, sd: float) -> None:
        self.h, self.m, self.ratio = h, mean / sd, s / sd

    def upper(self, c: float) -> float:
        return float(self.h @ special.ndtr(self.m - c * self.ratio))

    def lower(self, c: float) -> float:
        return float(self.h @ special.ndtr(c * self.ratio - self.m))

    def solve_upper(self, target: float, lo: float) -> float:
        """Upper boundary in [lo, Z_MAX] crossed with probability ``target`` (inf: none).

        Halley's method on ``F(c) = log P(c) - log target`` from the unconditional normal
        quantile, kept inside a bracket that each evaluation narrows (bisection if a step
        leaves it). ``P' = -ratio Σ h φ(x)`` and ``P'' = -ratio² Σ h x φ(x)``, x = m - c ratio.
        """
        if target <= 1e-300:
            return math.inf  # nothing to spend at this look
        h, ratio = self.h, self.ratio
        if h.size == 1:  # a point mass (look 1): the boundary is a normal quantile
            c = (float(self.m[0]) - float(special.ndtri(target / h[0]))) / ratio
            if c > Z_MAX:
                return math.inf
            return c if c >= lo else self._brent(target, lo)
        log_target = math.log(target)
        a, b, top_checked = lo, Z_MAX, False
        c = min(max(-float(special.ndtri(target)), a), b)
        for _ in range(_MAX_STEPS):
            x = self.m - c * ratio
            g = float(h @ special.ndtr(x))
            f = math.log(g) - log_target if g > 0 else -math.inf
            if f >= 0:
                if not top_checked and self.upper(Z_MAX) >= target:
                    return math.inf  # the whole bracket crosses more often than target
                a, top_checked = c, True
            else:
                b = c
            new = math.nan
            if math.isfinite(f):
                phi = np.exp(-0.5 * x * x)
                u = ratio * float(h @ phi) * _INV_SQRT_2PI / g  # -F'
                v = ratio * ratio * float(h @ (x * phi)) * _INV_SQRT_2PI / g  # -F'' - u²
                denom = 2.0 * u * u + f * (v + u * u)
                if u > 0 and denom > 0:
                    new = c + 2.0 * f * u / denom
            halley = a < new < b
            if not halley:
                new = 0.5 * (a + b)
            if (abs(new - c) < _XTOL) if halley else (b - a < _BRACKET_TOL):
                if new - lo < 1e-6:  # no crossing probability this large above lo
                    break
                return new
            c = new
        return self._brent(target, lo)

    def _brent(self, target: float, lo: float) -> float:
        """The slow, safe root; raises as brentq does when ``target`` is not bracketed."""
        return optimize.brentq(lambda c: self.upper(c) - target, lo, Z_MAX, xtol=1e-12, rtol=1e-14)


def _density_step(
    crossing: Crossing, znew: np.ndarray, w: np.ndarray, symmetric: bool
) -> np.ndarray:
    """Mass on the new grid, ``w_i ratio Σ_j φ(z_i ratio - m_j) h_j``, in one n x n buffer.

    When the density is symmetric about 0 (no drift, symmetric boundaries so far) only the
    lower half of the rows is computed and mirrored.
    """
    rows = znew[: znew.size // 2 + 1] if symmetric else znew
    kernel = np.subtract.outer(rows * (crossing.ratio * _INV_SQRT_2), crossing.m * _INV_SQRT_2)
    np.square(kernel, out=kernel)
    np.negative(kernel, out=kernel)
    np.exp(kernel, out=kernel)
    dens = kernel @ crossing.h
    if symmetric:
        dens = np.concatenate((dens, dens[-2::-1]))
    mass: np.ndarray = w * dens * (crossing.ratio * _INV_SQRT_2PI)
    return mass


def walk(
    t: Sequence[float], drift: float, r: int, bounds_for: Bounds, *, probabilities: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Carry the density of paths still running from look to look (Armitage et al. 1969).

    ``bounds_for(k, crossing)`` returns the (lower, upper) boundary of look k, given the
    crossing probabilities there. Returns the first-crossing probabilities of the upper and
    lower boundaries per look (zeros unless ``probabilities``) and the upper boundaries.
    """
    n = len(t)
    up, low, lower, upper = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    z, h, t_prev = np.zeros(1), np.ones(1), 0.0  # a point mass at 0 at information 0
    symmetric = drift == 0.0
    for k, tk in enumerate(t):
        s, sd = math.sqrt(tk), math.sqrt(tk - t_prev)
        mean = z * math.sqrt(t_prev) + drift * (tk - t_prev)  # of the score S_k given Z_{k-1}
        crossing = Crossing(h, mean, s, sd)
        lower[k], upper[k] = bounds_for(k, crossing)
        if probabilities:
            up[k], low[k] = crossing.upper(upper[k]), crossing.lower(lower[k])
        if k == n - 1:
            break
        znew, w = grid(drift * s, lower[k], upper[k], r)
        symmetric = symmetric and lower[k] == -upper[k]
        if k == 0:  # the density at look 1 is normal
            h = w * _phi(znew - drift * s)
        elif k == 1:  # ... and at look 2 normal times P(Z_1 inside | Z_2), in closed form
            rho, cond_sd = math.sqrt(t_prev / tk), math.sqrt((tk - t_prev) / tk)
            hi_arg = (upper[0] - rho * znew) / cond_sd
            lo_arg = (lower[0] - rho * znew) / cond_sd
            flip = lo_arg > 0  # then Φ(hi) - Φ(lo) = Φ(-lo) - Φ(-hi): difference of small tails
            inside = special.ndtr(np.where(flip, -lo_arg, hi_arg))
            inside -= special.ndtr(np.where(flip, -hi_arg, lo_arg))
            h = w * _phi(znew - drift * s) * inside
        else:
            h = _density_step(crossing, znew, w, symmetric)
        z, t_prev = znew, tk
    return up, low, upper


def solve_upper_boundaries(
    increments: np.ndarray, t: Sequence[float], two_sided: bool, r: int
) -> np.ndarray:
    """Upper boundaries whose null first-crossing probabilities equal ``increments``.

    Two-sided designs are symmetric (each side crosses with the increment).

    >>> solve_upper_boundaries(np.array([0.0125, 0.0125]), [0.5, 1.0], True, GRID_R).round(3)
    array([2.241, 2.125])
    """
    lo = 0.0 if two_sided else -Z_MAX

    def bounds_for(k: int, crossing: Crossing) -> tuple[float, float]:
        b = crossing.solve_upper(float(increments[k]), lo)
        return (-b if two_sided else -math.inf), b

    return walk(t, 0.0, r, bounds_for, probabilities=False)[2]
