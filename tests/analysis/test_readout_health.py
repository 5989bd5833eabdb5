"""Health: SRM per stage and overall (scipy's chi-square), multiple exposure, freshness."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from scipy import stats

from champion.analysis.aggregates import (
    LatencyHistogram,
    MetricAggregates,
    ServingStats,
    SrmCount,
)
from champion.analysis.health import UNSEEN, check_srm
from champion.analysis.readout import build_report
from champion.registry.lifecycle import State
from champion.registry.records import AuditEntry
from champion.stats.always_valid import sequential_srm
from tests.analysis._sim import Sim, analysis_data, spec

T0 = datetime(2024, 3, 1, tzinfo=UTC)


def entry(version: int, action: str, stage: int | None, allocation: dict) -> AuditEntry:
    return AuditEntry("fraud-detector-v2", version, action, State.RUNNING, allocation, stage,
                      "ops", T0, "", version)  # fmt: skip


def test_a_52_48_split_against_50_50_is_a_mismatch_with_scipys_p_value():
    counts = (SrmCount(1, "v1_3", 10_400, 0.5), SrmCount(1, "v2_0", 9_600, 0.5))
    report = check_srm(counts, 0.001)
    expected = stats.chisquare([10_400, 9_600], [10_000, 10_000])
    assert report.overall.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    assert report.mismatch
    assert "SRM" in report.reason()
    assert "52.0%" in report.reason()


def test_a_split_that_matches_its_shares_passes():
    counts = (SrmCount(1, "v1_3", 9_530, 0.95), SrmCount(1, "v2_0", 470, 0.05))
    report = check_srm(counts, 0.001)
    assert not report.mismatch
    assert report.overall.p_value == pytest.approx(
        stats.chisquare([9_530, 470], [9_500, 500]).pvalue, rel=1e-9
    )
    assert report.reason() == ""


def test_each_ramp_stage_is_tested_against_its_own_shares_and_labelled_from_the_history():
    counts = (
        SrmCount(3, "v1_3", 9_000, 0.9), SrmCount(3, "v2_0", 1_000, 0.1),
        SrmCount(4, "v1_3", 3_750, 0.75), SrmCount(4, "v2_0", 1_480, 0.25),
    )  # fmt: skip
    history = [entry(3, "start", 0, {}), entry(4, "ramp", 1, {})]
    report = check_srm(counts, 0.001, history=history, stages=[10, 25, 50, 100])
    first, second = report.stages
    assert first.label == "version 3 (stage 1: 10%)"
    assert second.label == "version 4 (stage 2: 25%)"
    assert first.test.p_value == pytest.approx(1.0)
    assert second.test.p_value == pytest.approx(
        stats.chisquare([3_750, 1_480], [5_230 * 0.75, 5_230 * 0.25]).pvalue, rel=1e-9
    )
    assert second.mismatch
    assert not first.mismatch
    # Overall, each variant expects the unit-weighted mix of its stage shares.
    expected = [10_000 * 0.9 + 5_230 * 0.75, 10_000 * 0.1 + 5_230 * 0.25]
    assert report.overall.p_value == pytest.approx(
        stats.chisquare([12_750, 2_480], expected).pvalue, rel=1e-9
    )
    assert "version 4 (stage 2: 25%)" in report.reason()


def test_pooling_ramp_stages_against_the_final_shares_would_be_wrong():
    # 10 % then 50 %: fine per stage, but a naive overall 50/50 test would cry SRM.
    counts = (
        SrmCount(1, "v1_3", 9_000, 0.9), SrmCount(1, "v2_0", 1_000, 0.1),
        SrmCount(2, "v1_3", 5_000, 0.5), SrmCount(2, "v2_0", 5_000, 0.5),
    )  # fmt: skip
    report = check_srm(counts, 0.001)
    assert not report.mismatch
    assert stats.chisquare([14_000, 6_000]).pvalue < 1e-6


def test_the_sequential_srm_test_is_reported_beside_the_classic_one():
    counts = (SrmCount(1, "v1_3", 5_200, 0.5), SrmCount(1, "v2_0", 4_800, 0.5))
    report = check_srm(counts, 0.001)
    assert report.sequential.p_value == pytest.approx(
        sequential_srm([5_200, 4_800], [0.5, 0.5]).p_value, rel=1e-12
    )
    assert report.stages[0].sequential.p_value == report.sequential.p_value


def test_shares_of_variants_that_got_no_unit_are_kept_as_unseen():
    counts = (SrmCount(1, "v1_3", 2_000, 0.9),)  # v2_0 had 10 % and got nobody
    report = check_srm(counts, 0.001)
    stage = report.stages[0]
    assert stage.expected_shares[UNSEEN] == pytest.approx(0.1)
    assert stage.observed[UNSEEN] == 0
    assert stage.test.p_value == pytest.approx(
        stats.chisquare([2_000, 0], [1_800, 200]).pvalue, rel=1e-9
    )
    assert report.mismatch


def test_units_in_a_variant_given_no_share_are_a_mismatch_by_themselves():
    counts = (SrmCount(1, "v1_3", 2_000, 1.0), SrmCount(1, "v2_0", 5, 0.0))
    report = check_srm(counts, 0.001)
    assert report.mismatch
    assert "given no share" in report.stages[0].note


def test_a_stage_with_one_variant_has_nothing_to_test():
    report = check_srm((SrmCount(1, "v1_3", 2_000, 1.0),), 0.001)
    assert report.stages[0].test is None
    assert not report.mismatch


def test_an_srm_keeps_the_champion_even_with_a_winning_challenger():
    sim = Sim(seed=31, shares={"v1_3": 0.52, "v2_0": 0.48}, fraud_lift=0.4)
    units = sim.units()
    counts = units.groupby("variant").size()
    srm = tuple(SrmCount(1, v, int(counts[v]), 0.5) for v in ("v1_3", "v2_0"))
    report = build_report(analysis_data(sim, units, srm=srm), spec())
    assert report.health.srm.mismatch
    assert report.metric("fraud_caught").challengers["v2_0"].significant
    assert report.decision.decision == "keep"
    assert report.decision.reasons[0].startswith("SRM")
    assert "fix the assignment" in report.decision.reasons[0]


@pytest.mark.parametrize(("multiple", "warned"), [(40, False), (41, True), (400, True)])
def test_multiple_exposure_warns_above_one_in_a_thousand(multiple, warned):
    sim = Sim(seed=32, n=40_000 - multiple)
    data = analysis_data(sim, multiple=multiple)  # exposed = 40,000 units
    report = build_report(data, spec())
    assert report.health.multiple_exposure_share == multiple / 40_000
    assert any("saw more than one variant" in w for w in report.warnings) is warned


def test_stale_exposures_and_late_outcomes_are_warned_about():
    sim = Sim(seed=33, n=3000)
    units = sim.units()
    data = analysis_data(sim, units)
    last = data.health.last_exposure
    health = replace(
        data.health, as_of=last + timedelta(hours=72), last_outcome=last - timedelta(hours=1)
    )
    report = build_report(replace(data, health=health), spec())
    assert report.health.exposure_lag_hours == pytest.approx(72.0)
    assert report.health.outcome_lag_hours == pytest.approx(73.0)
    assert any("the last exposure is 72 h old" in w for w in report.warnings)
    assert any("the last outcome is 73 h old" in w for w in report.warnings)


def test_units_still_inside_their_window_are_counted_and_warned_about():
    sim = Sim(seed=34, n=5000)
    report = build_report(analysis_data(sim, units_in_window=1250), spec())
    assert report.health.units_in_window_share == 0.25
    assert any("1,250 units (25.0%) are still inside" in w for w in report.warnings)


def test_no_exposures_decide_nothing_and_say_so():
    data = analysis_data(Sim(seed=35, n=10))
    empty = ServingStats({}, {}, LatencyHistogram(data.serving.latency.edges, {}))
    data = replace(
        data,
        health=replace(data.health, exposed_units=0, analysed_units=0, srm=(), outcomes={}),
        metrics={n: MetricAggregates(n, m.kind, ()) for n, m in data.metrics.items()},
        serving=empty,
    )
    report = build_report(data, spec())
    assert report.decision.decision == "extend"
    assert "no exposures" in report.decision.reasons[0]
    assert any("no exposures" in w for w in report.warnings)


def test_reported_days_use_first_to_last_exposure():
    sim = Sim(seed=36, n=3000, days=1)
    report = build_report(analysis_data(sim), spec())
    assert report.health.days_elapsed == 1.0  # 23 hours count as a full day at least
    assert np.isfinite(report.metric("fraud_caught").challengers["v2_0"].power.daily_control)
