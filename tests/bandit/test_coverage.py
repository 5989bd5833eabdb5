"""Bandit validity: interval coverage of each arm's value and the holdout comparison's error rate.

The CI variant runs 1,000 experiments per scenario with the bounds widened by 2 Monte-Carlo
SEs (about 30 s); the long one (``CHAMPION_BANDIT_LONG=1``, 10,000 per scenario, about 10
minutes in one process on the shared 2-core machine) checks the bounds as stated: 95%
intervals cover 95% ± 1.5 points, and the holdout comparison's false-positive rate under no
difference is <= alpha + 1 point. A bound that is missed is a strict xfail with the measured
number (docs/bandits.md).
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
# Bounds missed, with what was measured (both variants are seeded, so the numbers repeat).
KNOWN_MISSES: dict[tuple[str, int], str] = {
    ("drifting reward", 0): (
        "with drift, the stable-var weights of the arm losing traffic fall over time, so the "
        "estimate leans on the early, lower rates: AW-AIPW covers the period mean 91.7% ± 0.3% "
        "of 10,000 runs (bias -0.116 points; 90.8% of the CI's 1,000), below 93.5%; it covers "
        "its own weighted target 93.7%"
    ),
}

pytestmark = pytest.mark.slow


@functools.cache
def _measured(name: str) -> Measured:
    return measure(BY_NAME[name], RUNS)


def _known_miss(request: pytest.FixtureRequest, key: tuple[str, int]) -> None:
    if key in KNOWN_MISSES:
        request.applymarker(pytest.mark.xfail(strict=True, reason=KNOWN_MISSES[key]))


@pytest.mark.parametrize("arm", [0, 1])
@pytest.mark.parametrize("scenario", [s.name for s in SCENARIOS])
def test_each_arms_interval_covers_its_value(request, scenario, arm):
    _known_miss(request, (scenario, arm))
    m = _measured(scenario)
    cover = m.arms[arm].aw_cover
    assert abs(cover - 0.95) <= tolerance(COVERAGE_MARGIN, 0.95, m.runs), f"covers {cover:.2%}"


def test_the_holdout_comparison_keeps_its_false_positive_rate_under_no_difference():
    m = _measured("no difference")
    limit = ALPHA + tolerance(FPR_MARGIN, ALPHA, m.runs)
    assert m.holdout_reject <= limit, f"{m.holdout_reject:.2%} significant"


@pytest.mark.parametrize("scenario", ["small gap", "drifting reward"])
def test_the_holdout_comparison_interval_covers_the_bandits_gain(request, scenario):
    _known_miss(request, (scenario, -1))
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
