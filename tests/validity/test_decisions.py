"""Decisions over thousands of simulated experiments, read the way users read them.

Every case of ``_cases`` (see its docstring for the worlds and the bounds) is run through
the real ``build_report``, daily until the first decision that is not ``extend`` (with the
look ledger the previous read-outs returned), or once after every window has closed:

- A/A: P(rollout_*) and P(rollback) each at most 2.5% + 1 point;
- a true +10% lift: ``rel_lift_ci`` at the deciding read-out covers +10% in 95% +- 1.5
  points of runs, and with the design's baseline P(rollout_*) is the planned 80% +- 3 points.

The default run uses ``case.ci_runs`` experiments per case (300 for most) and widens each
tolerance by 2 Monte-Carlo standard errors at that count (``_cases.tolerance``): e.g. the
A/A bound becomes 5.3% at 300 runs. The long variant (``@pytest.mark.slow``) runs 2,000
experiments per case with the tolerances as stated; it is skipped unless
``CHAMPION_VALIDITY_LONG=1`` (about 12 minutes on 2 cores with ``-n 2``);
``python -m tests.validity.report`` prints the same numbers as a table.
"""

from __future__ import annotations

import os
import re

import pytest

from tests.validity._cases import AA, AB, LONG_RUNS, failures
from tests.validity._harness import Case, run

LONG = os.environ.get("CHAMPION_VALIDITY_LONG") == "1"
long_only = pytest.mark.skipif(
    not LONG, reason="long variant: set CHAMPION_VALIDITY_LONG=1 (2,000 experiments per case)"
)


def _id(case: Case) -> str:
    return re.sub(r"[^a-z0-9.%+]+", "-", case.name.lower()).strip("-")


def _check(case: Case, runs: int) -> None:
    result = run(case, runs)
    print(result.summary())
    broken = failures(case, result)
    assert not broken, "; ".join(broken)


@pytest.mark.parametrize("case", AA, ids=_id)
def test_an_a_a_experiment_rarely_ships_or_rolls_back(case):
    _check(case, case.ci_runs)


@pytest.mark.parametrize("case", AB, ids=_id)
def test_a_ten_percent_lift_is_covered_and_found_as_planned(case):
    _check(case, case.ci_runs)


@pytest.mark.slow
@long_only
@pytest.mark.parametrize("case", AA, ids=_id)
def test_an_a_a_experiment_rarely_ships_or_rolls_back_over_2000_runs(case):
    _check(case, LONG_RUNS)


@pytest.mark.slow
@long_only
@pytest.mark.parametrize("case", AB, ids=_id)
def test_a_ten_percent_lift_is_covered_and_found_as_planned_over_2000_runs(case):
    _check(case, LONG_RUNS)
