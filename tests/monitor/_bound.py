"""What any stopping rule could reach on the simulated worlds: the information bound.

A rule that stops within ``DETECT_WITHIN`` challenger requests of a change with probability
P, while stopping an A/A experiment with probability at most alpha, is a level-alpha test of
"no change" on the data up to that point, so it cannot beat the best such test, which
here is told when the change came (:func:`bound`):

- *from the start*: one one-sided z-test of challenger - champion (the unit-bucket
  variance of ``judge_comparative``) on the windows from the change up to the last one
  within ``DETECT_WITHIN`` challenger requests, at the rule's whole alpha;
- *at a random time*: the same test, but the change may come in any of the B disjoint
  blocks of ``DETECT_WITHIN`` challenger requests in the run; a rule that catches it in
  each block with the same power has at most alpha / B to spend on each (against the
  concurrent champion: a baseline from the champion's past breaks under drift).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from champion.monitor.rules import _mean_and_variance, family_size
from tests.monitor._sim import (
    CHALLENGER,
    CHAMPION,
    DETECT_WITHIN,
    Scenario,
    Traffic,
    World,
    make_spec,
)

__all__ = ["Bound", "bound"]


@dataclass(frozen=True)
class Bound:
    runs: int
    alpha: float  # the level of the one test: the rule's alpha, over blocks for a random time
    blocks: float  # disjoint blocks of DETECT_WITHIN challenger requests in the run (1: start)
    power: float  # P(the test told the change time rejects)
    median_z: float


def _z(world: World, share: float, scenario: Scenario, t0: int) -> float:
    acc = {v: {k: np.zeros(64) for k in ("requests", "errors", "latency")}
           for v in (CHAMPION, CHALLENGER)}  # fmt: skip
    seen = 0
    for w in range(t0, world.traffic.windows):
        window = world.window(w, share, scenario.change)
        if seen + window.requests(CHALLENGER) > DETECT_WITHIN and seen > 0:
            break
        seen += window.requests(CHALLENGER)
        for v, arrays in window.arrays.items():
            for k, a in zip(("requests", "errors", "latency"), arrays, strict=False):
                acc[v][k] += a
    _, est_t, var_t = _mean_and_variance("error_rate", acc[CHALLENGER])
    _, est_c, var_c = _mean_and_variance("error_rate", acc[CHAMPION])
    return (est_t - est_c) / math.sqrt(var_t + var_c)


def bound(scenario: Scenario, runs: int, traffic: Traffic, seed: int = 0) -> Bound:
    """The best power any valid rule has on ``scenario`` (module docstring)."""
    assert scenario.change is not None
    assert scenario.change.error_factor != 1
    spec = make_spec(traffic.window_minutes, scenario.share)
    alpha = (spec.monitor.alpha if spec.monitor else 0.01) / family_size(spec)
    per_window = traffic.requests_per_window * scenario.share
    blocks = 1.0
    if scenario.change.when == "random":
        blocks = max(1.0, per_window * traffic.windows / DETECT_WITHIN)
    zs = []
    for i in range(runs):
        world = World(traffic, (seed, i))
        zs.append(_z(world, scenario.share, scenario, world.t0_of(scenario.change)))
    level = alpha / blocks
    power = float(np.mean(np.asarray(zs) > stats.norm.isf(level)))
    return Bound(runs, level, blocks, power, float(np.median(zs)))
