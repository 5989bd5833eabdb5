"""make_plan: sample sizes, looks inflation, minimum sample, days and the trade-off table."""

import math

import pytest

from champion.planner import PlanRequest, make_plan
from champion.stats.power import sample_size_proportion
from champion.stats.sequential import sequential_inflation


def test_fixed_horizon_plan_equals_the_stats_sample_size():
    plan = make_plan(PlanRequest(baseline=0.05, mde=0.01))
    assert (plan.n_control, plan.n_treatment, plan.total) == (8155, 8155, 16310)
    assert plan.days is None
    assert plan.inflation == 1.0


def test_trade_off_reproduces_the_seed_table():
    plan = make_plan(PlanRequest(baseline=0.05, mde=0.01))
    assert [row.n_control for row in plan.trade_off] == [31231, 8155, 3778, 2210, 1057, 432]


def test_looks_inflate_by_the_group_sequential_factor():
    plan = make_plan(PlanRequest(baseline=0.05, mde=0.01, looks=5))
    factor = sequential_inflation(5)
    assert plan.inflation == pytest.approx(factor)
    assert plan.n_control == math.ceil(8155 * factor)


def test_minimum_sample_raises_both_arms_and_keeps_the_split():
    plan = make_plan(
        PlanRequest(
            baseline=0.15, mde=0.5, relative=True, ratio=0.05 / 0.95, min_sample_size=10_000
        )
    )
    assert plan.n_treatment == 10_000
    assert plan.n_control == 190_000
    assert any("minimum" in note for note in plan.notes)


def test_days_use_traffic_shares():
    plan = make_plan(
        PlanRequest(
            baseline=0.15,
            mde=0.1,
            relative=True,
            ratio=0.05 / 0.95,
            daily_units=20_000,
            shares=(0.95, 0.05),
        )
    )
    # 5,041 challenger units at 1,000 a day.
    assert plan.n_treatment == 5041
    assert plan.days == 6


def test_plan_warns_when_longer_than_the_maximum_duration():
    plan = make_plan(PlanRequest(baseline=0.05, mde=0.005, daily_units=1000, max_duration_days=14))
    assert plan.days == 63
    assert any("more than the maximum of 14" in note for note in plan.notes)


def test_several_challengers_split_alpha():
    plan = make_plan(PlanRequest(baseline=0.1, mde=0.01, n_challengers=2))
    assert plan.sample == sample_size_proportion(0.1, 0.01, alpha=0.025)


def test_mean_metric_plan_uses_std():
    plan = make_plan(PlanRequest(baseline=20.0, mde=1.0, std=10.0))
    assert plan.n_control == 1570
