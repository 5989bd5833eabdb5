"""How far an experiment is: power at the observed sample, what is still needed, the current look.

The design block of the spec says which effect matters (its MDE) and how sure to be (alpha,
power). At the observed sample and variance this module answers: how likely is the design's
MDE to be detected now, how many more units and days (at the observed daily rate) reach the
design's power, which planned look has been reached and whether its Lan-DeMets boundary is
crossed, and the always-valid confidence sequence, which may be read at any time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from champion.analysis.comparison import Comparison
from champion.errors import InvalidArgument
from champion.planner import PlanRequest, make_plan, request_for_design
from champion.spec.design import Design
from champion.stats.always_valid import confidence_sequence
from champion.stats.power import power_mean, power_proportion
from champion.stats.sequential import sequential_boundaries, sequential_decision

__all__ = [
    "DEFAULT_MAX_DAYS",
    "Power",
    "Sequential",
    "always_valid_interval",
    "information_fraction",
    "power_status",
    "sequential_status",
]

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


@dataclass(frozen=True, slots=True)
class Sequential:
    """The primary metric's group-sequential status at the current look.

    ``look`` is the last planned look reached (0 before the first); looks sit at equally
    spaced information fractions k / looks of the planned sample. ``boundaries`` are the z
    boundaries of every planned look; ``crossed`` compares the test's statistic with the
    boundary of the current look.
    """

    looks: int
    planned_control: int
    planned_treatment: int
    information_fraction: float
    look: int
    fractions: tuple[float, ...]
    boundaries: tuple[float, ...]
    boundary: float
    z: float
    crossed: bool
    direction: str
    nominal_alpha: float
    alpha: float
    spending: str
    alternative: str


def information_fraction(n_c: float, n_t: float, planned_c: float, planned_t: float) -> float:
    """Observed over planned information, 1/(1/n_c + 1/n_t) over the same of the plan.

    The information about a difference grows like that harmonic form, so unequal arms (a ramp
    that is behind) count for what they are worth.

    >>> information_fraction(500, 500, 1000, 1000)
    0.5
    """
    if n_c <= 0 or n_t <= 0:
        return 0.0
    return (1.0 / planned_c + 1.0 / planned_t) / (1.0 / n_c + 1.0 / n_t)


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


def _power_now(req: PlanRequest, n_c: float) -> float:
    common = {
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
    days_elapsed: float,
) -> Power | None:
    """Power and remaining sample for one comparison; None without a design or a usable test."""
    if design is None or not c.ok or math.isnan(c.se) or c.se <= 0:
        return None
    baseline = c.test.control
    daily_c = c.n_control / days_elapsed
    daily_t = c.n_treatment / days_elapsed
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
    short_c = max(plan.n_control - c.n_control, 0.0)
    short_t = max(plan.n_treatment - c.n_treatment, 0.0)
    days = max(short_c / daily_c, short_t / daily_t)
    return Power(
        mde=mde,
        relative=relative,
        target_power=design.power,
        power=power,
        needed_control=plan.n_control,
        needed_treatment=plan.n_treatment,
        more_units=math.ceil(short_c + short_t),
        more_days=math.ceil(days - 1e-9),
        daily_control=daily_c,
        daily_treatment=daily_t,
    )


def sequential_status(
    c: Comparison,
    design: Design | None,
    *,
    shares: tuple[float, float] | None,
    n_challengers: int,
) -> Sequential | None:
    """The current look and its boundary for the primary metric (a design with looks > 1)."""
    if design is None or design.looks < 2 or c.n_control <= 0 or c.n_treatment <= 0:
        return None
    plan = make_plan(request_for_design(design, shares=shares, n_challengers=n_challengers))
    t = information_fraction(c.n_control, c.n_treatment, plan.n_control, plan.n_treatment)
    looks = design.looks
    fractions = tuple(k / looks for k in range(1, looks + 1))
    alpha = design.alpha / max(n_challengers, 1)
    kwargs = {"alpha": alpha, "spending": design.spending, "alternative": design.alternative}
    bounds = tuple(float(b) for b in sequential_boundaries(fractions, **kwargs))
    look = min(looks, math.floor(t * looks + 1e-9))
    z = c.test.statistic
    if look == 0 or math.isnan(z):
        return Sequential(
            looks,
            plan.n_control,
            plan.n_treatment,
            t,
            look,
            fractions,
            bounds,
            _NAN,
            z,
            False,
            "none",
            _NAN,
            alpha,
            design.spending,
            design.alternative,
        )
    d = sequential_decision(z, look, fractions, **kwargs)
    return Sequential(
        looks,
        plan.n_control,
        plan.n_treatment,
        t,
        look,
        fractions,
        bounds,
        d.boundary,
        z,
        d.crossed,
        d.direction,
        d.nominal_alpha,
        alpha,
        design.spending,
        design.alternative,
    )


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
