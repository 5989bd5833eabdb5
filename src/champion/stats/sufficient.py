"""Sufficient statistics: what a database computes in one GROUP BY and the statistics consume.

They add (``+``) so strata, days or segments pool without touching rows again.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CovariateStats", "MeanStats", "ProportionStats", "RatioStats"]


@dataclass(frozen=True, slots=True)
class ProportionStats:
    """Units ``n`` of which ``successes`` converted."""

    n: float
    successes: float

    @property
    def rate(self) -> float:
        return self.successes / self.n if self.n > 0 else float("nan")

    def __add__(self, other: ProportionStats) -> ProportionStats:
        return ProportionStats(self.n + other.n, self.successes + other.successes)


@dataclass(frozen=True, slots=True)
class MeanStats:
    """Per-unit metric y: count, sum and sum of squares."""

    n: float
    sum: float
    sum_sq: float

    @property
    def mean(self) -> float:
        return self.sum / self.n if self.n > 0 else float("nan")

    @property
    def variance(self) -> float:
        """Sample variance (ddof=1); NaN below two units."""
        if self.n < 2:
            return float("nan")
        return max(self.sum_sq - self.sum * self.sum / self.n, 0.0) / (self.n - 1)

    def __add__(self, other: MeanStats) -> MeanStats:
        return MeanStats(self.n + other.n, self.sum + other.sum, self.sum_sq + other.sum_sq)


@dataclass(frozen=True, slots=True)
class CovariateStats:
    """Metric y with a pre-period covariate x (CUPED): sums, squares and the cross-product."""

    n: float
    sum_y: float
    sum_y_sq: float
    sum_x: float
    sum_x_sq: float
    sum_xy: float

    @property
    def y(self) -> MeanStats:
        return MeanStats(self.n, self.sum_y, self.sum_y_sq)

    @property
    def x(self) -> MeanStats:
        return MeanStats(self.n, self.sum_x, self.sum_x_sq)

    @property
    def covariance(self) -> float:
        """Sample covariance of x and y (ddof=1)."""
        if self.n < 2:
            return float("nan")
        return (self.sum_xy - self.sum_x * self.sum_y / self.n) / (self.n - 1)

    def __add__(self, other: CovariateStats) -> CovariateStats:
        return CovariateStats(
            self.n + other.n,
            self.sum_y + other.sum_y,
            self.sum_y_sq + other.sum_y_sq,
            self.sum_x + other.sum_x,
            self.sum_x_sq + other.sum_x_sq,
            self.sum_xy + other.sum_xy,
        )


@dataclass(frozen=True, slots=True)
class RatioStats:
    """A ratio metric sum(num) / sum(den) over units (revenue per session): per-unit sums."""

    n: float
    sum_num: float
    sum_num_sq: float
    sum_den: float
    sum_den_sq: float
    sum_num_den: float

    @property
    def num(self) -> MeanStats:
        return MeanStats(self.n, self.sum_num, self.sum_num_sq)

    @property
    def den(self) -> MeanStats:
        return MeanStats(self.n, self.sum_den, self.sum_den_sq)

    @property
    def ratio(self) -> float:
        return self.sum_num / self.sum_den if self.sum_den != 0 else float("nan")

    @property
    def covariance(self) -> float:
        if self.n < 2:
            return float("nan")
        return (self.sum_num_den - self.sum_num * self.sum_den / self.n) / (self.n - 1)

    def __add__(self, other: RatioStats) -> RatioStats:
        return RatioStats(
            self.n + other.n,
            self.sum_num + other.sum_num,
            self.sum_num_sq + other.sum_num_sq,
            self.sum_den + other.sum_den,
            self.sum_den_sq + other.sum_den_sq,
            self.sum_num_den + other.sum_num_den,
        )
