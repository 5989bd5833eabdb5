"""Mean metrics whose champion mean is negative or zero are judged in their own direction.

A relative lift over a negative mean has the opposite sign of the difference: a read-out
that takes ``diff / control`` as "improvement" calls a better challenger worse and rolls it
back (the old read-out did, for -2.0 -> -1.7 with higher better). Each case has 20,000
units per arm, read once after every window has closed, where the true difference is about
ten standard errors: the right decision is certain, so a few seeded experiments per case
are enough, and the mirror image (the challenger as much worse) must not ship.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from tests.validity._cases import MEANS
from tests.validity._harness import ROLLOUTS, Case, decide
from tests.validity._world import CHALLENGER, draw

RUNS = 3


def _read(case: Case, seed: int):
    world = draw(case.scenario, np.random.default_rng([seed, 0]))
    report, _ = decide(world, case.spec(), case.mode)
    return report, report.primary.challengers[CHALLENGER].comparison


def _worse(case: Case) -> Case:
    sc = case.scenario
    return dataclasses.replace(
        case, scenario=dataclasses.replace(sc, lift=-sc.lift, shift=-sc.shift)
    )


@pytest.mark.parametrize("case", MEANS, ids=lambda c: c.name)
def test_a_better_challenger_is_never_rolled_back_and_improves(case):
    for seed in range(RUNS):
        report, c = _read(case, seed)
        sign = 1 if case.direction == "higher" else -1
        assert sign * c.test.diff > 0  # the data say better: ~10 standard errors
        assert report.decision.decision != "rollback", report.decision.reasons
        assert report.decision.decision in ROLLOUTS, report.decision.reasons
        if case.scenario.shift:  # a zero-mean champion: no relative lift to speak of
            assert math.isnan(c.improvement) or c.improvement > 0, c.improvement
        else:
            assert c.improvement > 0, (c.improvement, c.test.rel_lift)
            lo, hi = c.improvement_ci
            assert 0 < lo <= hi


@pytest.mark.parametrize("case", MEANS, ids=lambda c: c.name)
def test_a_worse_challenger_is_never_rolled_out(case):
    worse = _worse(case)
    for seed in range(RUNS):
        report, c = _read(worse, seed)
        assert report.decision.decision not in ROLLOUTS, report.decision.reasons
        assert report.decision.decision == "rollback", report.decision.reasons
        if not case.scenario.shift:
            assert c.improvement < 0, (c.improvement, c.test.rel_lift)
