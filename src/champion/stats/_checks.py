"""Argument checks shared by the statistics functions: a bad argument raises early and by name."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from champion.errors import InvalidArgument

__all__ = [
    "ALTERNATIVES",
    "check_alpha",
    "check_alternative",
    "check_count",
    "check_nonnegative",
    "check_positive",
    "check_power",
    "check_rate",
    "check_sums",
    "check_weights",
]

ALTERNATIVES = ("two-sided", "larger", "smaller")


def check_open_unit(name: str, value: float) -> float:
    if not (isinstance(value, int | float | np.floating) and 0.0 < float(value) < 1.0):
        raise InvalidArgument(name, value, "must lie strictly between 0 and 1")
    return float(value)


def check_alpha(value: float, name: str = "alpha") -> float:
    return check_open_unit(name, value)


def check_power(value: float, name: str = "power") -> float:
    return check_open_unit(name, value)


def check_rate(value: float, name: str) -> float:
    """A proportion: 0 <= value <= 1."""
    if not (isinstance(value, int | float | np.floating) and 0.0 <= float(value) <= 1.0):
        raise InvalidArgument(name, value, "must be a proportion in [0, 1]")
    return float(value)


def check_count(value: float, name: str, minimum: int = 0) -> float:
    """A count of units or events: finite, >= minimum (numbers, not necessarily ints)."""
    if not (isinstance(value, int | float | np.integer | np.floating) and math.isfinite(value)):
        raise InvalidArgument(name, value, f"must be a finite number >= {minimum}")
    if value < minimum:
        raise InvalidArgument(name, value, f"must be >= {minimum}")
    return float(value)


def check_positive(value: float, name: str) -> float:
    if not (isinstance(value, int | float | np.integer | np.floating) and math.isfinite(value)):
        raise InvalidArgument(name, value, "must be a finite number > 0")
    if value <= 0:
        raise InvalidArgument(name, value, "must be > 0")
    return float(value)


def check_nonnegative(value: float, name: str) -> float:
    return check_count(value, name, 0)


def check_alternative(value: str) -> str:
    if value not in ALTERNATIVES:
        raise InvalidArgument("alternative", value, f"must be one of {', '.join(ALTERNATIVES)}")
    return value


def check_weights(weights: Sequence[float], name: str = "weights") -> np.ndarray:
    """Allocation weights: each in (0, 1], summing to 1 within 1e-6."""
    w = np.asarray(weights, dtype=float)
    if w.ndim != 1 or w.size < 2:
        raise InvalidArgument(name, list(weights), "must list at least two weights")
    if not np.all(np.isfinite(w)) or np.any(w <= 0):
        raise InvalidArgument(name, list(weights), "each weight must be > 0")
    if abs(w.sum() - 1.0) > 1e-6:
        raise InvalidArgument(name, list(weights), f"must sum to 1 (they sum to {w.sum():.6g})")
    return w


def check_sums(stats: object, kind: type, name: str, fields: tuple[str, ...]) -> float:
    """A sufficient-statistics record of ``kind`` with finite ``fields``; returns its n (>= 0)."""
    if not isinstance(stats, kind):
        raise InvalidArgument(name, stats, f"must be a {kind.__name__}")
    n = check_count(stats.n, f"{name}.n")  # type: ignore[attr-defined]
    for field in fields:
        value = getattr(stats, field)
        try:
            finite = math.isfinite(value)
        except TypeError:
            finite = False
        if not finite:
            raise InvalidArgument(f"{name}.{field}", value, "must be a finite number")
    return n
