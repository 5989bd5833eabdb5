"""The scenarios the validity suite runs, and what must be true of each.

Every world has heavy users (a fifth of the units, 2.75 times the average value) who come
back on half of the days, against 3% for the others, so a ramp moves mostly heavy
champion units to the challenger. Traffic runs for ``days`` days (the design's
``max_duration_days``).

- ``AA``: no effect. The grid of ramps (10 -> 25 -> 50% on days 1/4/7; 95/5 -> 50/50 on
  day 5) x baseline drift (0.13 -> 0.16 and 0.16 -> 0.13 over the days) x design (fixed,
  5 looks), read daily; then the four measured defects of the old read-out (pooling over
  a ramp with drift, crossovers dropped after a ramp, a fixed design read daily, a
  sequential design whose baseline is wrong). Bound: P(rollout_*) and P(rollback) at most
  2.5% + 1 point each.
- ``AB``: a true +10% relative lift (the design's MDE) under the same ramps, with the
  design's baseline (power) and with drift. Bounds: the deciding read-out's
  ``rel_lift_ci`` covers +10% in 95% +- 1.5 points of runs; with the design's baseline,
  P(rollout_*) is the planned power 80% +- 3 points.
- ``MEANS``: mean metrics whose champion mean is negative or zero, read once after every
  window has closed, 20,000 units per arm: never ``rollback`` for a better challenger,
  improvement in the right direction.
"""

from __future__ import annotations

from tests.validity._harness import Case, Result, mc_se
from tests.validity._world import Scenario

__all__ = ["AA", "AB", "ALL", "LONG_RUNS", "MEANS", "POWER", "failures", "tolerance"]

RAMP_10_25_50 = ((0, 0.10), (3, 0.25), (6, 0.50))
RAMP_5_50 = ((0, 0.05), (4, 0.50))
UP, DOWN, FLAT = (0.13, 0.16), (0.16, 0.13), (0.15, 0.15)

_RAMPS = {"10-25-50": (RAMP_10_25_50, 3.0), "95/5-50/50": (RAMP_5_50, 7.0)}
_DRIFTS = {"drift up": UP, "drift down": DOWN}
_DESIGNS = {"fixed": 1, "5 looks": 5}


def _grid(lift: float, drifts: dict, units: float, prefix: str) -> list[Case]:
    cases = []
    for ramp, (stages, window) in _RAMPS.items():
        for drift, baseline in drifts.items():
            scenario = Scenario(
                name=f"{prefix} ramp {ramp}, {drift}",
                stages=stages,
                baseline=baseline,
                lift=lift,
                window_days=window,
                units_per_day=units,
            )
            for design, looks in _DESIGNS.items():
                label = f"{prefix}, ramp {ramp}, {drift}, {design}, daily"
                cases.append(Case(scenario, looks=looks, label=label))
    return cases


AA: tuple[Case, ...] = (
    *_grid(0.0, _DRIFTS, 1_400, "A/A"),
    Case(
        Scenario(
            name="simpson",
            stages=RAMP_10_25_50,
            baseline=UP,
            return_rate=(0.0, 0.0),
            window_days=3,
        ),
        looks=1,
        mode="once",
        label="A/A, ramp 10-25-50, drift up, no returns, fixed, read once (pooling)",
    ),
    Case(
        Scenario(name="crossover", stages=((0, 0.10), (2, 0.50)), window_days=3),
        looks=1,
        mode="once",
        label="A/A, 10% -> 50% on day 3, heavy returns, fixed, read once (crossovers)",
    ),
    Case(
        Scenario(name="peeking", stages=((0, 0.5),), days=28, window_days=1),
        looks=1,
        label="A/A, 50/50, 28 days, fixed, daily (peeking)",
    ),
    Case(
        Scenario(
            name="wrong baseline",
            stages=((0, 0.5),),
            baseline=(0.10, 0.10),
            days=28,
            window_days=1,
            units_per_day=3_000,
        ),
        looks=5,
        label="A/A, 50/50, truth 0.10 vs design 0.15, 5 looks, daily",
    ),
)

_AB_UNITS = 2_000  # the planned sample is reached within the 14 days under both ramps
POWER: tuple[Case, ...] = tuple(_grid(0.10, {"flat 0.15": FLAT}, _AB_UNITS, "+10%"))
AB: tuple[Case, ...] = (*POWER, *_grid(0.10, {"drift up": UP}, _AB_UNITS, "+10%"))


def _mean(label: str, baseline: float, direction: str, *, lift=0.0, shift=0.0, **design) -> Case:
    # 20,000 units per arm: 40,000 over 14 days at 50/50
    scenario = Scenario(
        name=label,
        kind="mean",
        metric="margin",
        stages=((0, 0.5),),
        baseline=(baseline, baseline),
        lift=lift,
        shift=shift,
        sd=3.0,
        window_days=2,
        units_per_day=40_000 / 14,
    )
    options = {"design_baseline": baseline, "design_std": 3.0} | design
    return Case(scenario, direction=direction, mode="once", label=label, **options)


MEANS: tuple[Case, ...] = (
    _mean("mean -2.0 -> -1.7, higher is better", -2.0, "higher", lift=0.15),
    _mean("mean 2.0 -> 1.7, lower is better", 2.0, "lower", lift=-0.15),
    _mean("mean -1.7 -> -2.0, lower is better", -1.7, "lower", lift=-0.3 / 1.7),
    _mean(
        "mean 0.0 -> 0.3, higher is better",
        0.0,
        "higher",
        shift=0.3,
        relative=False,
        mde=0.2,
    ),
)

ALL: tuple[Case, ...] = (*AA, *AB, *MEANS)


# -- what must be true ---------------------------------------------------------------------

LONG_RUNS = 2_000  # the long variant's experiments per case
NOMINAL = 0.025  # a one-sided false decision: alpha / 2
COVERAGE = 0.95
POWER_TARGET = 0.80


def tolerance(margin: float, nominal: float, runs: int, over: int | None = None) -> float:
    """``margin`` for LONG_RUNS runs or more; for fewer (the CI run), widened by 2
    Monte-Carlo standard errors of a rate at ``nominal`` estimated over ``over`` trials
    (default ``runs``; the read-outs with an interval, for coverage)."""
    if runs >= LONG_RUNS:
        return margin
    return margin + 2 * mc_se(nominal, runs if over is None else over)


def failures(case: Case, r: Result) -> list[str]:
    """Each must-be-true statement ``r`` breaks, in words with its numbers."""
    out = []
    if case in AA:
        limit = NOMINAL + tolerance(0.01, NOMINAL, r.runs)
        for what, rate in (("rollout_*", r.rollout), ("rollback", r.rollback)):
            if rate > limit:
                out.append(
                    f"A/A P({what}) = {rate:.2%} ± {r.se(rate):.2%} (MC) over {r.runs} runs, "
                    f"above {limit:.2%}"
                )
    if case in AB:
        limit = tolerance(0.015, COVERAGE, r.runs, r.intervals)
        if not abs(r.coverage_rel - COVERAGE) <= limit:
            se = r.se(r.coverage_rel, r.intervals)
            out.append(
                f"rel_lift_ci covers the true +10% in {r.coverage_rel:.2%} ± {se:.2%} (MC) of "
                f"{r.intervals} read-outs, outside 95% ± {limit:.2%}"
            )
    if case in POWER:
        limit = tolerance(0.03, POWER_TARGET, r.runs)
        if not abs(r.rollout - POWER_TARGET) <= limit:
            out.append(
                f"power P(rollout_*) = {r.rollout:.2%} ± {r.se(r.rollout):.2%} (MC) over "
                f"{r.runs} runs, outside the planned 80% ± {limit:.2%}"
            )
    return out
