"""Result types shared across champion.stats: frozen dataclasses with snake_case fields.

A degenerate experiment (an empty arm, zero variance, no events) is not an error: its result
carries a ``status`` other than ``"ok"`` and NaN where a number cannot be computed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["ChiSquareResult", "SRMResult", "SampleSize", "Status", "TestResult"]


class Status(StrEnum):
    """Why a result is (or is not) usable; a fixed list callers can switch on."""

    OK = "ok"
    EMPTY_ARM = "empty_arm"  # an arm has no units
    ZERO_VARIANCE = "zero_variance"  # no spread in either arm (e.g. no conversions at all)
    ZERO_BASELINE = "zero_baseline"  # relative lift undefined: the control value is 0
    TOO_FEW = "too_few"  # not enough units for the method (e.g. n < 2 for a variance)


@dataclass(frozen=True, slots=True)
class SampleSize:
    """Units needed per arm for a two-arm comparison; ``total`` counts both arms."""

    n_control: int
    n_treatment: int

    @property
    def total(self) -> int:
        return self.n_control + self.n_treatment

    @property
    def ratio(self) -> float:
        return self.n_treatment / self.n_control


@dataclass(frozen=True, slots=True)
class TestResult:
    """A two-arm comparison of treatment against control.

    ``diff`` is treatment - control; ``rel_lift`` is diff / control. CIs are at 1 - alpha and
    one-sided (one infinite end) when the alternative is one-sided.
    """

    __test__ = False  # not a pytest test class despite its name

    control: float
    treatment: float
    diff: float
    diff_ci: tuple[float, float]
    rel_lift: float
    rel_lift_ci: tuple[float, float]
    statistic: float
    p_value: float
    alpha: float = 0.05
    alternative: str = "two-sided"
    method: str = ""
    status: Status = Status.OK

    @property
    def significant(self) -> bool:
        return bool(self.p_value < self.alpha) if not math.isnan(self.p_value) else False


@dataclass(frozen=True, slots=True)
class ChiSquareResult:
    statistic: float
    p_value: float
    dof: int
    status: Status = Status.OK


@dataclass(frozen=True, slots=True)
class SRMResult:
    """Sample-ratio mismatch: a small ``p_value`` says the split is not the configured one."""

    statistic: float
    p_value: float
    observed: tuple[float, ...] = ()
    expected: tuple[float, ...] = ()
    method: str = "chi-square"
    status: Status = Status.OK

    def mismatch(self, threshold: float = 0.001) -> bool:
        return bool(self.p_value < threshold) if not math.isnan(self.p_value) else False
