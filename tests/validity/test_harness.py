"""The harness can fail, and its numbers do not depend on how the runs are split.

Handed what the old analysis computed from the same worlds (units that saw both variants
dropped, every unit in one stratum: ``itt=False``), the real read-out ships A/A
experiments far more often than the bound allows: pooling over a ramp while the baseline
drifts (Simpson) and dropping the returning champion users both bias the lift upwards.
"""

from __future__ import annotations

import pytest

from tests.validity._cases import AA, NOMINAL, failures, tolerance
from tests.validity._harness import run

SIMPSON = next(c for c in AA if "(pooling)" in c.name)
CROSSOVERS = next(c for c in AA if "(crossovers)" in c.name)
RUNS = 200


@pytest.mark.parametrize(
    ("case", "least_lift"), [(SIMPSON, 0.03), (CROSSOVERS, 0.02)], ids=["simpson", "crossovers"]
)
def test_pooled_data_with_crossovers_dropped_breaks_the_a_a_bound(case, least_lift):
    old = run(case, RUNS, itt=False)
    assert old.mean_lift > least_lift, old.summary()
    assert any("A/A P(rollout_*)" in f for f in failures(case, old)), old.summary()


def test_the_same_worlds_read_with_intent_to_treat_show_no_lift():
    for case in (SIMPSON, CROSSOVERS):
        new = run(case, RUNS)
        # the mean relative lift of 200 A/A read-outs: its standard error is about 0.3%
        assert abs(new.mean_lift) < 0.012, new.summary()


def test_runs_are_seeded_and_split_without_changing_the_numbers():
    whole = run(CROSSOVERS, 12)
    again = run(CROSSOVERS, 12)
    split = run(CROSSOVERS, 5).merge(run(CROSSOVERS, 7, first=5))
    for other in (again, split):
        assert other.decisions == whole.decisions
        assert other.lift_sum == pytest.approx(whole.lift_sum, rel=1e-12)
        assert other.covered_rel == whole.covered_rel


def test_the_ci_tolerance_widens_by_two_monte_carlo_errors_below_2000_runs():
    assert tolerance(0.01, NOMINAL, 2_000) == 0.01
    # a long run stays at the stated margin even if a few read-outs had no interval
    assert tolerance(0.015, 0.95, 2_000, 1_990) == 0.015
    # 2.5% + 1 point + 2 * sqrt(0.025 * 0.975 / 300) = 5.30%
    assert NOMINAL + tolerance(0.01, NOMINAL, 300) == pytest.approx(0.0530, abs=5e-5)
