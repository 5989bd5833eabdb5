"""How far an experiment is: power at the observed sample and what is still needed.

The design block of the spec says which effect matters (its MDE) and how sure to be (alpha,
power). At the observed sample and variance this module answers: how likely is the design's
MDE to be detected now, and how many more units and days reach the design's power. Days
come from the rate at which units are *exposed* (every exposed unit, its window closed or
not): a unit exposed today counts once its window closes, and windows close at the rate
units arrived, so the shortfall in counted units over the exposure rate is the wait. For
the primary metric the shortfall is in information (``champion.analysis.looks``). Also the
always-valid confidence sequence, which may be read at any time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TypedDict

from champion.analysis.comparison import Comparison
from champion.errors import InvalidArgument
from champion.planner import PlanRequest, make_plan
from champion.spec.design import Design
from champion.stats.always_valid import confidence_sequence
from champion.stats.power import power_mean, power_proportion

__all__ = ["DEFAULT_MAX_DAYS", "Power", "always_valid_interval", "power_status"]

# Without ``design.max_duration_days``, an experiment is worth extending while its total
# duration stays within four weeks (two full weekly cycles after a typical two-week plan).
DEFAULT_MAX_DAYS = 28.0
_NAN = float("nan")


@dataclass(frozen=True, slots=True)
class Power:
    """Power for the design's MDE at the observed sample, and what reaching the target takes.

    ``needed_control``/``needed_treatment`` come from the planner with the observed baseline
    and variance (and, for the primary, the design's looks and minimum sample);
    ``more_units`` adds both arms' shortfalls; ``more_days`` is the slower arm's shortfall
    over its observed daily rate, rounded up.
    """

    mde: float
    relative: bool
    target_power: float
    power: float
    needed_control: int | None
    needed_treatment: int | None
    more_units: int | None
    more_days: int | None
    daily_control: float
    daily_treatment: float
    note: str = ""

    @property
    def reached(self) -> bool:
        return self.more_units == 0


def _observed_request(
    design: Design, c: Comparison, *, primary: bool, n_challengers: int, baseline: float
) -> tuple[PlanRequest, float, bool]:
    """A plan request with the observed baseline and variance; also the MDE used."""
    if primary:
        mde, relative = design.mde, design.relative
    else:  # secondary metrics reuse the design's MDE as a relative change
        mde = design.mde if design.relative else design.mde / design.baseline
        relative = True
    ratio = c.n_treatment / c.n_control
    std = None
    if c.kind != "proportion" or c.unadjusted is not None:
        std = c.se / math.sqrt(1.0 / c.n_control + 1.0 / c.n_treatment)
    request = PlanRequest(
        baseline=baseline,
        mde=mde,
        relative=relative,
        alpha=design.alpha,
        power=design.power,
        ratio=ratio,
        alternative=design.alternative if primary else "two-sided",
        std=std,
        looks=design.looks if primary else 1,
        spending=design.spending,
        n_challengers=n_challengers,
        min_sample_size=design.min_sample_size if primary else 0,
    )
    return request, mde, relative


class _PowerOptions(TypedDict):
    """The keyword arguments :func:`_power_now` passes to both power functions."""

    relative: bool
    alpha: float
    ratio: float
    alternative: str
    n_challengers: int


def _power_now(req: PlanRequest, n_c: float) -> float:
    common: _PowerOptions = {
        "relative": req.relative,
        "alpha": req.alpha,
        "ratio": req.ratio,
        "alternative": req.alternative,
        "n_challengers": req.n_challengers,
    }
    if req.std is None:
        return power_proportion(req.baseline, req.mde, n_c, **common)
    return power_mean(req.std, req.mde, n_c, baseline_mean=req.baseline, **common)


def power_status(
    c: Comparison,
    design: Design | None,
    *,
    primary: bool,
    n_challengers: int,
    daily: tuple[float, float],
    information_fraction: float | None = None,
) -> Power | None:
    """Power and remaining sample for one comparison; None without a design or a usable test.

    ``daily`` is each arm's exposure rate (units per day). With ``information_fraction``
    (the primary's, from its look) the shortfall is the information still missing, turned
    into units at the current information per unit; otherwise the planner's sample at the
    observed baseline and variance.
    """
    if design is None or not c.ok or math.isnan(c.se) or c.se <= 0:
        return None
    baseline = c.test.control
    daily_c, daily_t = daily
    try:
        req, mde, relative = _observed_request(
            design, c, primary=primary, n_challengers=n_challengers, baseline=baseline
        )
        plan = make_plan(req)
        power = _power_now(req, c.n_control)
    except InvalidArgument as e:
        return Power(
            design.mde,
            design.relative,
            design.power,
            _NAN,
            None,
            None,
            None,
            None,
            daily_c,
            daily_t,
            note=f"power not computed: {e}",
        )
    if information_fraction is not None and information_fraction > 0:
        grow = max(1.0 / information_fraction - 1.0, 0.0)
        short_c, short_t = c.n_control * grow, c.n_treatment * grow
        needed_c = math.ceil(c.n_control + short_c - 1e-9)
        needed_t = math.ceil(c.n_treatment + short_t - 1e-9)
    else:
        short_c = max(plan.n_control - c.n_control, 0.0)
        short_t = max(plan.n_treatment - c.n_treatment, 0.0)
        needed_c, needed_t = plan.n_control, plan.n_treatment
    days = max(_days(short_c, daily_c), _days(short_t, daily_t))
    return Power(
        mde=mde,
        relative=relative,
        target_power=design.power,
        power=power,
        needed_control=needed_c,
        needed_treatment=needed_t,
        more_units=math.ceil(short_c + short_t - 1e-9),
        more_days=math.ceil(days - 1e-9) if math.isfinite(days) else None,
        daily_control=daily_c,
        daily_treatment=daily_t,
    )


def _days(short: float, rate: float) -> float:
    if short <= 0:
        return 0.0
    return short / rate if rate > 0 else math.inf


def always_valid_interval(c: Comparison, alpha: float) -> tuple[float, float]:
    """Normal-mixture confidence sequence for the difference, valid at every look.

    With unequal arms the inputs are n = n_c + n_t units and a per-unit variance
    se² · n, so that variance / n is the variance of the difference.
    """
    n = c.n_control + c.n_treatment
    if not c.ok or math.isnan(c.se) or c.se <= 0 or n <= 0:
        return (_NAN, _NAN)
    cs = confidence_sequence(c.test.diff, c.se * c.se * n, n, alpha=alpha)
    return (cs.lower, cs.upper)
