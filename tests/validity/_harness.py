"""Run simulated experiments through the real read-out, read the way users read them.

:func:`run` draws ``runs`` experiments of a :class:`Case` (a world and a design) and reads
each one with :func:`champion.analysis.readout.build_report`, as users do: once a day
until the first decision that is not ``extend``, passing the look ledger the previous
read-outs returned (when the installed ``build_report`` takes one). Traffic stops after
the maximum duration; reading goes on daily until the last window has closed, and that
read-out counts for what it says. ``mode="once"`` reads only that last time.

:class:`Result` holds the rates of the decisions, the coverage of the primary metric's
reported intervals at the read-out that decided, and their Monte-Carlo standard errors.
Run i of a case always draws from the seed ``(seed, i)``, so a short run's experiments are
the first ones of a long run.
"""

from __future__ import annotations

import inspect
import math
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from champion.analysis.readout import build_report
from champion.spec import parse_spec
from champion.spec.models import Experiment
from tests.validity._world import CHALLENGER, Scenario, World, draw

__all__ = ["LEDGER", "ROLLOUTS", "Case", "Result", "mc_se", "run"]

ROLLOUTS = ("rollout_full", "rollout_gradual")
#: True when ``build_report`` takes the look ledger (looks are spent across read-outs).
LEDGER = "ledger" in inspect.signature(build_report).parameters

_SPEC = """
name: validity
models:
  v1: {{kind: python, target: "models:v1"}}
  v2: {{kind: python, target: "models:v2"}}
champion: v1
challengers: [v2]
allocation: {{v1: {champion_share}, v2: {challenger_share}}}
metrics:
  primary: {{name: {metric}, kind: {kind}, direction: {direction}, window_days: {window}}}
design:
  alpha: 0.05
  power: 0.8
  mde: {mde}
  relative: {relative}
  baseline: {baseline}{std}
  looks: {looks}
  max_duration_days: {days}
{rollout}"""


def mc_se(rate: float, runs: int) -> float:
    """Monte-Carlo standard error of a rate estimated from ``runs`` independent runs."""
    return math.sqrt(max(rate * (1 - rate), 0.0) / runs) if runs else math.nan


@dataclass(frozen=True)
class Case:
    """A scenario (the world) read out under one design.

    The spec is minimal for speed (primary metric only, no segments, no guardrails) and
    realistic: the design's baseline, a relative MDE of 10%, alpha 0.05, power 0.8, the
    scenario's days as ``max_duration_days``, the final stage's shares as the allocation.
    """

    scenario: Scenario
    looks: int = 1
    design_baseline: float = 0.15
    design_std: float | None = None  # mean metrics
    mde: float = 0.10
    relative: bool = True
    direction: str = "higher"
    mode: str = "daily"  # or "once": see decide()
    label: str = ""
    ci_runs: int = 300  # experiments in the default (CI) run
    allocation_stage: int = -1  # the stage whose shares the spec's allocation holds
    rollout: bool = False  # the stages (and 100%) as the spec's rollout plan

    @property
    def name(self) -> str:
        return self.label or f"{self.scenario.name} looks={self.looks} {self.mode}"

    def spec(self) -> Experiment:
        sc = self.scenario
        share = sc.stages[self.allocation_stage][1]
        stages = [round(100 * p, 6) for _, p in sc.stages] + [100]
        rollout = f"rollout: {{stages: {stages}}}\n" if self.rollout else ""
        std = f"\n  std: {self.design_std}" if self.design_std is not None else ""
        text = _SPEC.format(
            champion_share=round(1 - share, 6),
            challenger_share=share,
            metric=sc.metric,
            kind=sc.kind,
            direction=self.direction,
            window=sc.window_days,
            mde=self.mde,
            relative=str(self.relative).lower(),
            baseline=self.design_baseline,
            std=std,
            looks=self.looks,
            days=sc.days,
            rollout=rollout,
        )
        return parse_spec(text, f"validity case {self.name}")


@dataclass
class Result:
    """What ``runs`` experiments of a case decided, and how often their intervals held."""

    case: str
    runs: int
    decisions: Counter = field(default_factory=Counter)
    covered_rel: int = 0  # rel_lift_ci of the deciding read-out held the true relative lift
    covered_diff: int = 0  # diff_ci held the true difference
    intervals: int = 0  # read-outs with a usable interval
    lift_sum: float = 0.0  # sum of the reported relative lifts (mean lift = lift_sum/intervals)
    day_sum: float = 0.0  # sum of the days at which a decision was read
    between_looks: int = 0  # decisions (not extend) read at a read-out that is no decision point
    at_looks: int = 0  # decisions read at a decision point
    fraction_sum: float = 0.0  # their information fractions (overshoot past the planned look)
    seconds: float = 0.0

    def rate(self, *decisions: str) -> float:
        return sum(self.decisions[d] for d in decisions) / self.runs if self.runs else math.nan

    @property
    def rollout(self) -> float:
        return self.rate(*ROLLOUTS)

    @property
    def rollback(self) -> float:
        return self.rate("rollback")

    @property
    def coverage_rel(self) -> float:
        return self.covered_rel / self.intervals if self.intervals else math.nan

    @property
    def coverage_diff(self) -> float:
        return self.covered_diff / self.intervals if self.intervals else math.nan

    @property
    def mean_lift(self) -> float:
        return self.lift_sum / self.intervals if self.intervals else math.nan

    @property
    def mean_day(self) -> float:
        return self.day_sum / self.runs if self.runs else math.nan

    def se(self, rate: float, over: int | None = None) -> float:
        return mc_se(rate, self.runs if over is None else over)

    def merge(self, other: Result) -> Result:
        out = Result(self.case, self.runs + other.runs, self.decisions + other.decisions)
        names = ("covered_rel", "covered_diff", "intervals", "lift_sum", "day_sum", "seconds")
        for name in (*names, "between_looks", "at_looks", "fraction_sum"):
            setattr(out, name, getattr(self, name) + getattr(other, name))
        return out

    def summary(self) -> str:
        return (
            f"{self.case}: {self.runs} runs, rollout {self.rollout:.2%} "
            f"(± {self.se(self.rollout):.2%}), rollback {self.rollback:.2%} "
            f"(± {self.se(self.rollback):.2%}), keep {self.rate('keep'):.1%}, "
            f"extend {self.rate('extend'):.1%}, coverage rel {self.coverage_rel:.2%} "
            f"diff {self.coverage_diff:.2%}, mean lift {self.mean_lift:+.2%}, "
            f"mean day {self.mean_day:.1f}, decided between looks {self.between_looks}, "
            f"at {self.at_looks} decision points (mean information "
            f"{self.fraction_sum / self.at_looks if self.at_looks else math.nan:.2f}), "
            f"{self.seconds:.1f} s"
        )


def read_out(
    world: World, spec: Experiment, as_of: float, ledger: list, itt: bool | None = None
) -> object:
    """One read-out of ``world`` as of day ``as_of``; looks it makes join ``ledger``.

    ``itt=False`` hands the read-out what the old analysis computed (crossovers dropped,
    every unit in one stratum): the harness must catch that.
    """
    data = world.analysis_data(as_of, itt=itt, latency=False)
    if not LEDGER:
        return build_report(data, spec)
    report = build_report(data, spec, ledger=tuple(ledger))
    ledger.extend(report.new_looks)
    return report


def decide(
    world: World, spec: Experiment, mode: str = "daily", itt: bool | None = None
) -> tuple[object, float]:
    """Read ``world`` as users do; the deciding read-out and its day.

    ``daily``: each day until the last window has closed (traffic stops after ``days``,
    reading goes on); ``once``: only after the last window has closed.
    """
    sc = world.scenario
    ledger: list = []
    end = sc.days + sc.window_days  # traffic stopped; every window has closed
    if mode not in ("daily", "once"):
        raise ValueError(f"mode must be daily or once, got {mode!r}")
    last = math.ceil(end) - 1 if mode == "daily" else 0
    for day in range(1, last + 1):
        report = read_out(world, spec, float(day), ledger, itt)
        if report.decision.decision != "extend":
            return report, float(day)
    return read_out(world, spec, end, ledger, itt), end


def _primary_test(report: object):
    return report.primary.challengers[CHALLENGER].comparison.test


def run(case: Case, runs: int, *, seed: int = 0, first: int = 0, itt: bool | None = None) -> Result:
    """Runs ``first`` .. ``first + runs - 1`` of ``case``, each drawn from seed (seed, i)."""
    spec = case.spec()
    result = Result(case.name, 0)
    started = time.perf_counter()
    for i in range(first, first + runs):
        world = draw(case.scenario, np.random.default_rng([seed, i]))
        report, day = decide(world, spec, case.mode, itt)
        result.runs += 1
        result.decisions[report.decision.decision] += 1
        result.day_sum += day
        look = getattr(report, "looks", {}).get(CHALLENGER)
        if report.decision.decision != "extend" and look is not None:
            result.between_looks += not look.decision_point
            if look.decision_point:
                result.at_looks += 1
                result.fraction_sum += look.information_fraction
        test = _primary_test(report)
        true_diff, true_rel = world.truth(day)
        lo, hi = test.rel_lift_ci
        if not (math.isnan(lo) or math.isnan(hi)):
            result.intervals += 1
            result.covered_rel += lo <= true_rel <= hi
            d_lo, d_hi = test.diff_ci
            result.covered_diff += d_lo <= true_diff <= d_hi
            result.lift_sum += test.rel_lift
    result.seconds = time.perf_counter() - started
    return result
