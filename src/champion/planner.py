"""The planner: how many units and days an experiment needs, and what a smaller MDE costs.

It turns a design (from flags or a spec's ``design`` block) into a :class:`Plan`: the
fixed-horizon sample size from :mod:`champion.stats.power`, inflated for planned sequential
looks, floored by the design's minimum sample, and converted into days at a daily traffic.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from champion.stats.power import (
    days_needed,
    power_proportion,
    sample_size_mean,
    sample_size_proportion,
)
from champion.stats.results import SampleSize
from champion.stats.sequential import sequential_inflation

if TYPE_CHECKING:
    from champion.spec.design import Design

__all__ = [
    "MDE_MULTIPLIERS",
    "Plan",
    "PlanRequest",
    "TradeOffRow",
    "make_plan",
    "request_for_design",
]

MDE_MULTIPLIERS = (0.5, 1.0, 1.5, 2.0, 3.0, 5.0)


@dataclass(frozen=True, slots=True)
class PlanRequest:
    """A design to plan; ``std`` switches from a proportion to a mean metric."""

    baseline: float
    mde: float
    relative: bool = False
    alpha: float = 0.05
    power: float = 0.8
    ratio: float = 1.0
    alternative: str = "two-sided"
    std: float | None = None
    looks: int = 1
    spending: str = "obrien-fleming"
    n_challengers: int = 1
    min_sample_size: int = 0
    daily_units: float | None = None
    shares: tuple[float, float] | None = None
    max_duration_days: float | None = None


@dataclass(frozen=True, slots=True)
class TradeOffRow:
    mde: float
    mde_absolute: float
    mde_relative: float
    n_control: int
    n_treatment: int
    total: int
    days: int | None


@dataclass(frozen=True, slots=True)
class Plan:
    request: PlanRequest
    fixed_horizon: SampleSize
    inflation: float
    sample: SampleSize
    days: int | None
    trade_off: tuple[TradeOffRow, ...] = field(default=())
    notes: tuple[str, ...] = field(default=())

    @property
    def n_control(self) -> int:
        return self.sample.n_control

    @property
    def n_treatment(self) -> int:
        return self.sample.n_treatment

    @property
    def total(self) -> int:
        return self.sample.total

    def to_dict(self) -> dict:
        return {
            "n_control": self.n_control,
            "n_treatment": self.n_treatment,
            "total": self.total,
            "days": self.days,
            "fixed_horizon": {
                "n_control": self.fixed_horizon.n_control,
                "n_treatment": self.fixed_horizon.n_treatment,
                "total": self.fixed_horizon.total,
            },
            "inflation": self.inflation,
            "design": asdict(self.request),
            "trade_off": [asdict(row) for row in self.trade_off],
            "notes": list(self.notes),
        }


def _fixed_size(req: PlanRequest, mde: float) -> SampleSize:
    common = {
        "relative": req.relative,
        "alpha": req.alpha,
        "power": req.power,
        "ratio": req.ratio,
        "alternative": req.alternative,
        "n_challengers": req.n_challengers,
    }
    if req.std is not None:
        return sample_size_mean(req.std, mde, baseline_mean=req.baseline, **common)
    return sample_size_proportion(req.baseline, mde, **common)


def _scale(size: SampleSize, inflation: float, floor: int, ratio: float) -> SampleSize:
    """Inflate for looks, then raise both arms together (keeping the split) to the floor."""
    n_c = math.ceil(size.n_control * inflation - 1e-7)
    n_t = math.ceil(size.n_treatment * inflation - 1e-7)
    if floor and min(n_c, n_t) < floor:
        if n_t <= n_c:
            n_c, n_t = math.ceil(floor / ratio - 1e-7), floor
        else:
            n_c, n_t = floor, math.ceil(floor * ratio - 1e-7)
    return SampleSize(n_c, n_t)


def _days(req: PlanRequest, size: SampleSize) -> int | None:
    if req.daily_units is None:
        return None
    shares = req.shares or (1 / (1 + req.ratio), req.ratio / (1 + req.ratio))
    return days_needed(size, req.daily_units, shares=shares)


def _trade_off(req: PlanRequest, inflation: float) -> tuple[TradeOffRow, ...]:
    rows = []
    for multiplier in MDE_MULTIPLIERS:
        mde = req.mde * multiplier
        try:
            size = _scale(_fixed_size(req, mde), inflation, req.min_sample_size, req.ratio)
        except ValueError:
            continue  # this multiple of the MDE leaves (0, 1): not a row
        absolute = mde * req.baseline if req.relative else mde
        relative = mde if req.relative else (mde / req.baseline if req.baseline else math.nan)
        rows.append(
            TradeOffRow(mde, absolute, relative, size.n_control, size.n_treatment, size.total,
                        _days(req, size))
        )  # fmt: skip
    return tuple(rows)


def make_plan(req: PlanRequest) -> Plan:
    """Plan an experiment; bad arguments raise ``ValueError`` naming the argument.

    >>> make_plan(PlanRequest(baseline=0.05, mde=0.01, daily_units=2000)).days
    9
    """
    fixed = _fixed_size(req, req.mde)
    inflation = 1.0
    notes = []
    if req.looks > 1:
        inflation = sequential_inflation(
            req.looks, alpha=req.alpha / req.n_challengers, power=req.power,
            spending=req.spending, alternative=req.alternative,
        )  # fmt: skip
        notes.append(
            f"{req.looks} looks with {req.spending} alpha spending: "
            f"maximum sample {inflation:.3f}x the fixed-horizon size"
        )
    sample = _scale(fixed, inflation, req.min_sample_size, req.ratio)
    if req.min_sample_size and min(sample.n_control, sample.n_treatment) == req.min_sample_size:
        notes.append(f"raised to the design's minimum of {req.min_sample_size:,} units per arm")
    if req.n_challengers > 1:
        notes.append(
            f"{req.n_challengers} challengers: alpha {req.alpha:g} split by Bonferroni "
            f"to {req.alpha / req.n_challengers:.4g} per comparison"
        )
    days = _days(req, sample)
    if days is not None and req.max_duration_days is not None and days > req.max_duration_days:
        notes.append(
            f"needs {days} days, more than the maximum of {req.max_duration_days:g}: "
            "raise the challenger's share, accept a larger MDE or run longer"
        )
    if req.std is None and req.looks == 1:
        achieved = power_proportion(
            req.baseline, req.mde, sample.n_control, relative=req.relative, alpha=req.alpha,
            ratio=req.ratio, alternative=req.alternative, n_challengers=req.n_challengers,
        )  # fmt: skip
        notes.append(f"power at this size: {achieved:.3f}")
    return Plan(req, fixed, inflation, sample, days, _trade_off(req, inflation), tuple(notes))


def request_for_design(
    design: Design,
    *,
    shares: tuple[float, float] | None,
    n_challengers: int = 1,
    daily_units: float | None = None,
) -> PlanRequest:
    """A plan request from a spec's design block and its (champion, challenger) shares.

    With several challengers, ``shares`` holds the smallest challenger's share: the slowest
    arm decides the duration. ``daily_units`` overrides the design's own traffic estimate.
    """
    usable = shares is not None and shares[0] > 0 and shares[1] > 0
    return PlanRequest(
        baseline=design.baseline,
        mde=design.mde,
        relative=design.relative,
        alpha=design.alpha,
        power=design.power,
        ratio=shares[1] / shares[0] if usable else 1.0,
        alternative=design.alternative,
        std=design.std,
        looks=design.looks,
        spending=design.spending,
        n_challengers=max(n_challengers, 1),
        min_sample_size=design.min_sample_size,
        daily_units=daily_units if daily_units is not None else design.daily_units,
        shares=shares if usable else None,
        max_duration_days=design.max_duration_days,
    )
