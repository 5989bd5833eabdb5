"""Bandit validity: interval coverage of each arm's value and the holdout comparison's error rate.

The CI variant runs 2,000 experiments per scenario with the bounds widened by 2 Monte-Carlo
SEs (about 40 s); the long one (``CHAMPION_BANDIT_LONG=1``, 10,000 per scenario, about 10
minutes in one process on the shared 2-core machine) checks the bounds as stated: 95%
intervals cover 95% ± 1.5 points, and the holdout comparison's false-positive rate under no
difference is <= alpha + 1 point. A bound that is missed is a strict xfail with the measured
number (docs/bandits.md); none is missed now.
"""

import functools
import os

import pytest

from tests.bandit._harness import (
    ALPHA,
    CI_RUNS,
    COVERAGE_MARGIN,
    FPR_MARGIN,
    LONG_RUNS,
    SCENARIOS,
    Measured,
    measure,
    tolerance,
)

LONG = os.environ.get("CHAMPION_BANDIT_LONG") == "1"
RUNS = LONG_RUNS if LONG else CI_RUNS
BY_NAME = {s.name: s for s in SCENARIOS}

pytestmark = pytest.mark.slow


@functools.cache
def _measured(name: str) -> Measured:
    return measure(BY_NAME[name], RUNS)


@pytest.mark.parametrize("arm", [0, 1])
@pytest.mark.parametrize("scenario", [s.name for s in SCENARIOS])
def test_each_arms_interval_covers_its_value(scenario, arm):
    m = _measured(scenario)
    cover = m.arms[arm].aw_cover
    assert abs(cover - 0.95) <= tolerance(COVERAGE_MARGIN, 0.95, m.runs), f"covers {cover:.2%}"


def test_the_holdout_comparison_keeps_its_false_positive_rate_under_no_difference():
    m = _measured("no difference")
    limit = ALPHA + tolerance(FPR_MARGIN, ALPHA, m.runs)
    assert m.holdout_reject <= limit, f"{m.holdout_reject:.2%} significant"


@pytest.mark.parametrize("scenario", ["small gap", "drifting reward"])
def test_the_holdout_comparison_interval_covers_the_bandits_gain(scenario):
    m = _measured(scenario)
    cover = m.holdout_cover
    assert abs(cover - 0.95) <= tolerance(COVERAGE_MARGIN, 0.95, m.runs), f"covers {cover:.2%}"


@pytest.mark.parametrize("scenario", ["small gap", "drifting reward"])
def test_the_naive_mean_of_the_starved_arm_is_pulled_down_more_than_the_aipw(scenario):
    # The table shows the naive mean's bias beside the estimator's; here only its sign and
    # that it is larger: seen about -0.09 points (gap) and -0.19 (drift) against -0.05 and -0.10.
    loser = _measured(scenario).arms[0]
    assert loser.naive_bias < loser.aw_bias < 0


@pytest.mark.parametrize("arm", [0, 1])
def test_under_drift_the_interval_covers_the_weighted_mean_it_estimates(arm):
    # What the stable-var estimator targets when the reward moves: Σ h_t μ_t / Σ h_t.
    m = _measured("drifting reward")
    cover = m.arms[arm].aw_own_cover
    assert abs(cover - 0.95) <= tolerance(COVERAGE_MARGIN, 0.95, m.runs), f"covers {cover:.2%}"
