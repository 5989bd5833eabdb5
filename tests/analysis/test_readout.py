"""The read-out's metric numbers against oracles computed on the simulated rows.

The read-out sees only the sums (AnalysisData); the oracles see the rows (pandas) and use
statsmodels, scipy, closed forms or champion.stats applied by hand to sums taken in pandas.
"""

import json
import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep
from statsmodels.stats.proportion import test_proportions_2indep as wald_test_2indep

from champion.analysis.aggregates import LatencyHistogram, MetricAggregates
from champion.analysis.readout import build_report
from champion.stats.always_valid import confidence_sequence
from champion.stats.bayes import chance_to_beat
from champion.stats.quantile import quantile_difference
from champion.stats.sequential import sequential_boundaries, sequential_inflation
from tests.analysis._sim import (
    EDGES,
    Sim,
    analysis_data,
    days_between,
    health,
    histogram,
    spec,
)

CHAMPION, CHALLENGER = "v1_3", "v2_0"


@pytest.fixture(scope="module")
def lifted():
    """A challenger that catches 10 % more fraud, on 40,000 units over 10 days."""
    sim = Sim(seed=11, fraud_lift=0.10, review_effect=-0.3)
    units = sim.units()
    return units, build_report(analysis_data(sim, units), spec(looks=1))


def arms(units: pd.DataFrame, column: str) -> tuple[pd.Series, pd.Series]:
    return (
        units.loc[units["variant"] == CHAMPION, column],
        units.loc[units["variant"] == CHALLENGER, column],
    )


def result(report, metric: str):
    return report.metric(metric).challengers[CHALLENGER]


def test_proportion_metric_matches_statsmodels_z_test_and_wald_interval(lifted):
    units, report = lifted
    c, t = arms(units, "fraud_caught")
    test = result(report, "fraud_caught").comparison.test
    assert test.control == pytest.approx(c.mean(), rel=1e-12)
    assert test.treatment == pytest.approx(t.mean(), rel=1e-12)
    # unpooled Wald z: the variance the planner sizes with is the one the test uses
    wald = wald_test_2indep(t.sum(), t.size, c.sum(), c.size, method="wald")
    assert test.p_value == pytest.approx(wald.pvalue, rel=1e-9)
    lo, hi = confint_proportions_2indep(t.sum(), t.size, c.sum(), c.size, method="wald")
    assert test.diff_ci == pytest.approx((lo, hi), rel=1e-9)


def test_cuped_metric_reports_the_covariate_adjusted_effect_of_an_ols_fit(lifted):
    units, report = lifted
    r = result(report, "review_minutes").comparison
    treated = (units["variant"] == CHALLENGER).astype(float)
    x = units["review_pre"] - units["review_pre"].mean()
    design = np.column_stack([np.ones(len(units)), treated, x])
    fit = sm.OLS(units["review_minutes"].to_numpy(), design).fit()
    assert r.test.diff == pytest.approx(fit.params[1], rel=1e-9)
    assert r.test.method == "cuped"
    # The plain Welch test sits beside it, as scipy computes it on the rows.
    c, t = arms(units, "review_minutes")
    welch = stats.ttest_ind(t, c, equal_var=False)
    assert r.unadjusted.p_value == pytest.approx(welch.pvalue, rel=1e-9)
    # Variance reduction: 1 - Var(adjusted difference) / Var(plain difference), on the rows.
    adjusted = units["review_minutes"] - fit.params[2] * x
    adj_c, adj_t = adjusted[treated == 0], adjusted[treated == 1]
    var_adj = adj_c.var() / adj_c.size + adj_t.var() / adj_t.size
    var_plain = c.var() / c.size + t.var() / t.size
    assert r.variance_reduction == pytest.approx(1 - var_adj / var_plain, rel=1e-9)
    assert r.variance_reduction > 0.5  # the covariate explains most of the spread


def test_chance_to_beat_for_a_lower_is_better_metric_counts_lower_as_better(lifted):
    units, report = lifted
    c, t = arms(units, "false_positive")
    r = result(report, "false_positive").comparison
    # Monte Carlo oracle: P(p_t < p_c) under Beta(1 + x, 1 + n - x) posteriors.
    rng = np.random.default_rng(0)
    draws_c = rng.beta(1 + c.sum(), 1 + c.size - c.sum(), 400_000)
    draws_t = rng.beta(1 + t.sum(), 1 + t.size - t.sum(), 400_000)
    assert r.chance_to_beat == pytest.approx(np.mean(draws_t < draws_c), abs=0.003)
    # Expected loss of shipping a challenger that is higher (worse): E[max(p_t - p_c, 0)].
    assert r.expected_loss == pytest.approx(np.mean(np.maximum(draws_t - draws_c, 0)), rel=0.02)
    higher = chance_to_beat(c.sum(), c.size, t.sum(), t.size)
    assert r.chance_to_beat == pytest.approx(1 - higher.chance_to_beat, rel=1e-12)


def test_improvement_is_the_relative_lift_signed_by_the_metric_direction(lifted):
    _, report = lifted
    fp = result(report, "false_positive").comparison
    assert fp.improvement == pytest.approx(-fp.test.rel_lift)
    assert fp.improvement_ci == pytest.approx((-fp.test.rel_lift_ci[1], -fp.test.rel_lift_ci[0]))
    fraud = result(report, "fraud_caught").comparison
    assert fraud.improvement == pytest.approx(fraud.test.rel_lift)


def test_secondary_metrics_are_corrected_together_with_holm(lifted):
    _, report = lifted
    raw = [result(report, m).comparison.test.p_value for m in ("false_positive", "review_minutes")]
    expected = multipletests(raw, method="holm")[1]
    adjusted = [result(report, m).p_value_adjusted for m in ("false_positive", "review_minutes")]
    assert adjusted == pytest.approx(expected, rel=1e-12)
    primary = result(report, "fraud_caught")
    assert primary.p_value_adjusted == primary.comparison.test.p_value  # one challenger


def test_the_correction_comes_from_the_decision_rules():
    sim = Sim(seed=12, fraud_lift=0.05)
    report = build_report(
        analysis_data(sim),
        spec(**{"segments: [device]": "segments: [device]\ndecision: {correction: bh}"}),
    )
    raw = [result(report, m).comparison.test.p_value for m in ("false_positive", "review_minutes")]
    adjusted = [result(report, m).p_value_adjusted for m in ("false_positive", "review_minutes")]
    assert adjusted == pytest.approx(multipletests(raw, method="fdr_bh")[1], rel=1e-12)


def test_power_is_that_of_the_design_mde_at_the_observed_sample():
    sim = Sim(seed=13, n=6000)
    units = sim.units()
    report = build_report(analysis_data(sim, units), spec(looks=1))
    c, t = arms(units, "fraud_caught")
    p1 = c.mean()
    p2 = p1 * 1.10  # the design's relative MDE of 10 %
    se = math.sqrt(p1 * (1 - p1) / c.size + p2 * (1 - p2) / t.size)
    z_a = stats.norm.ppf(0.975)
    expected = stats.norm.cdf((p2 - p1) / se - z_a) + stats.norm.cdf(-(p2 - p1) / se - z_a)
    power = result(report, "fraud_caught").power
    assert power.power == pytest.approx(expected, rel=1e-9)
    assert power.mde == 0.10
    assert power.relative


def _max_information(looks: int = 1) -> float:
    """The design's (0.15 -> 0.165, 50/50) planned information, 1 / Var at the planned n."""
    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    v_c, v_t = 0.15 * 0.85, 0.165 * 0.835
    fixed = z**2 * (v_c + v_t) / 0.015**2  # unpooled (Chow, Shao & Wang, §4.2)
    n = math.ceil(fixed * sequential_inflation(looks) - 1e-7) if looks > 1 else fixed
    n = math.ceil(n - 1e-7)
    return 1 / (v_c / n + v_t / n)


def _information(c: pd.Series, t: pd.Series) -> float:
    return 1 / (c.mean() * (1 - c.mean()) / c.size + t.mean() * (1 - t.mean()) / t.size)


def test_more_units_and_days_reach_the_design_information_at_the_exposure_rate():
    sim = Sim(seed=14, n=6000)
    units = sim.units()
    report = build_report(analysis_data(sim, units), spec(looks=1))
    c, t = arms(units, "fraud_caught")
    fraction = _information(c, t) / _max_information()
    grow = 1 / fraction - 1
    power = result(report, "fraud_caught").power
    assert result(report, "fraud_caught").look.information_fraction == pytest.approx(fraction)
    assert power.more_units == math.ceil((c.size + t.size) * grow - 1e-9)
    days = days_between(units)
    assert power.daily_control == pytest.approx(c.size / days)
    assert power.more_days == math.ceil(max(c.size * grow / (c.size / days), grow * days) - 1e-9)


def test_the_daily_rate_counts_units_whose_window_is_still_open():
    """600 units per arm per day for 14 days, 7-day window: only the first 7 days count in
    the metric, but units arrive at 1,200 a day, not 600."""
    sim = Sim(seed=19, n=16_800, days=14)
    units = sim.units()
    first_day = min(units["day"])
    closed = units[[(d - first_day).days < 7 for d in units["day"]]]
    data = analysis_data(sim, closed)
    data = replace(data, health=health(units, sim.shares, units_in_window=len(units) - len(closed)))
    report = build_report(data, spec(looks=1))
    power = result(report, "fraud_caught").power
    c_all, t_all = arms(units, "fraud_caught")
    days = days_between(units)
    assert power.daily_control == pytest.approx(c_all.size / days)
    assert power.daily_treatment == pytest.approx(t_all.size / days)
    assert power.daily_control + power.daily_treatment == pytest.approx(1200, rel=0.05)


def test_a_sequential_read_out_without_a_ledger_is_its_first_look_at_the_observed_fraction():
    sim = Sim(seed=15, n=12_400, fraud_lift=0.12)
    units = sim.units()
    report = build_report(analysis_data(sim, units), spec(looks=5))
    c, t = arms(units, "fraud_caught")
    look = result(report, "fraud_caught").look
    fraction = _information(c, t) / _max_information(5)
    assert look.max_information == pytest.approx(_max_information(5), rel=1e-12)
    assert look.information_fraction == pytest.approx(fraction, rel=1e-9)
    assert 0.2 < fraction < 1
    assert look.decision_point
    assert look.index == 1
    # Lan-DeMets at the fraction actually observed, not at the planned 0.2, 0.4, ...
    assert look.boundary == pytest.approx(sequential_boundaries([fraction])[0], rel=1e-9)
    assert look.crossed == (abs(look.statistic) >= look.boundary)
    assert result(report, "fraud_caught").significant == look.crossed
    (record,) = report.new_looks
    assert (record.index, record.final) == (1, False)
    assert record.information_fraction == pytest.approx(fraction, rel=1e-9)


def test_before_the_first_look_nothing_is_significant():
    sim = Sim(seed=16, n=2000, fraud_lift=0.5)
    report = build_report(analysis_data(sim), spec(looks=5))
    r = result(report, "fraud_caught")
    assert r.look.index == 0
    assert not r.look.decision_point
    assert r.look.information_fraction < 0.2
    assert not r.significant
    assert not report.new_looks
    assert r.comparison.test.p_value < 0.05  # a fixed-horizon test would have called it


def test_always_valid_interval_is_the_confidence_sequence_of_the_difference(lifted):
    units, report = lifted
    r = result(report, "fraud_caught")
    c, t = arms(units, "fraud_caught")
    se2 = c.mean() * (1 - c.mean()) / c.size + t.mean() * (1 - t.mean()) / t.size
    n = c.size + t.size
    cs = confidence_sequence(t.mean() - c.mean(), se2 * n, n)
    assert r.always_valid_ci == pytest.approx((cs.lower, cs.upper), rel=1e-9)
    lo, hi = r.comparison.test.diff_ci
    assert cs.lower < lo
    assert hi < cs.upper


def test_cumulative_series_holds_the_units_first_exposed_up_to_each_day(lifted):
    units, report = lifted
    series = result(report, "fraud_caught").cumulative
    assert [p.day for p in series] == sorted(units["day"].unique())
    for point in (series[0], series[4]):
        seen = units[units["day"] <= point.day]
        c, t = arms(seen, "fraud_caught")
        assert point.n_control == c.size
        assert point.diff == pytest.approx(t.mean() - c.mean(), rel=1e-12)
    overall = result(report, "fraud_caught").comparison.test
    assert series[-1].diff == pytest.approx(overall.diff, rel=1e-12)
    assert series[-1].diff_ci == pytest.approx(overall.diff_ci, rel=1e-12)


def test_cumulative_series_carries_the_boundary_of_the_look_reached_each_day():
    sim = Sim(seed=17, n=20_000, days=10)
    report = build_report(analysis_data(sim), spec(looks=5))
    r = result(report, "fraud_caught")
    bounds = r.look.planned_boundaries
    for p in r.cumulative:
        look = math.floor(p.information_fraction * 5 + 1e-9)
        assert p.look == min(look, 5)
        if p.look:
            se = (p.diff_ci[1] - p.diff_ci[0]) / (2 * stats.norm.ppf(0.975))
            assert p.boundary_diff[1] == pytest.approx(bounds[p.look - 1] * se, rel=1e-9)
        else:
            assert math.isnan(p.boundary_diff[1])


def test_a_segment_moving_against_the_aggregate_is_flagged_after_holm():
    sim = Sim(seed=18, fraud_lift=0.25, mobile_lift=-0.25)
    units = sim.units()
    report = build_report(analysis_data(sim, units), spec())
    rows = [s for s in report.segments if s.metric == "fraud_caught"]
    raw = []
    for s in rows:
        seg = units[units["device"] == s.value]
        c, t = arms(seg, "fraud_caught")
        wald = wald_test_2indep(t.sum(), t.size, c.sum(), c.size, method="wald")
        raw.append(wald.pvalue)
        assert s.comparison.test.p_value == pytest.approx(raw[-1], rel=1e-9)
    adjusted = multipletests(raw, method="holm")[1]
    assert [s.p_value_adjusted for s in rows] == pytest.approx(adjusted, rel=1e-12)
    mobile = next(s for s in rows if s.value == "mobile")
    assert mobile.against
    assert mobile.significant
    assert not next(s for s in rows if s.value == "desktop").against
    assert any("device=mobile moves against the aggregate" in w for w in report.warnings)


def test_segments_that_agree_with_the_aggregate_raise_no_warning(lifted):
    _, report = lifted
    assert not any(s.against for s in report.segments)
    assert not any("moves against" in w for w in report.warnings)


def test_json_has_the_contract_fields_and_no_nan():
    sim = Sim(seed=19, n=8000)
    d = build_report(analysis_data(sim), spec(looks=5)).to_dict()
    text = json.dumps(d, allow_nan=False)  # NaN or infinity would raise
    assert json.loads(text) == d
    assert d["decision"] in ("rollout_full", "rollout_gradual", "keep", "extend", "rollback")
    assert isinstance(d["reasons"], list)
    assert d["reasons"]
    assert {"p_value", "mismatch", "stages", "observed", "expected_shares"} <= set(d["srm"])
    assert set(d["metrics"]) == {"fraud_caught", "false_positive", "review_minutes"}
    for metric in d["metrics"].values():
        entry = metric["challengers"][CHALLENGER]
        assert {
            "diff",
            "diff_ci",
            "p_value",
            "p_value_adjusted",
            "rel_lift",
            "rel_lift_ci",
            "significant",
            "bayes",
            "power",
            "always_valid_ci",
            "cumulative",
        } <= set(entry)
        assert len(entry["diff_ci"]) == 2
    primary = d["metrics"]["fraud_caught"]["challengers"][CHALLENGER]
    assert primary["sequential"]["looks"] == 5
    assert d["metrics"]["review_minutes"]["challengers"][CHALLENGER]["cuped"]["unadjusted"]
    assert {"guardrail", "variant", "rule", "status", "evidence"} <= set(d["guardrails"][0])


def test_a_metric_without_outcomes_has_a_status_and_a_warning_not_an_error():
    sim = Sim(seed=20, n=4000, fp_rate=0.0)
    units = sim.units()
    data = analysis_data(
        sim, units, outcomes={"fraud_caught": 100, "false_positive": 0, "review_minutes": 4000}
    )
    report = build_report(data, spec())
    fp = report.metric("false_positive")
    assert fp.status == "no_outcomes"
    assert math.isnan(fp.challengers[CHALLENGER].p_value_adjusted)
    assert any("false_positive has no outcomes" in w for w in report.warnings)


def test_a_spec_metric_missing_from_the_data_is_refused_by_name():
    sim = Sim(seed=21, n=2000)
    data = analysis_data(sim)
    data.metrics.pop("review_minutes")
    with pytest.raises(
        ValueError, match=r"metric='review_minutes' is invalid: is not in the analysed data"
    ):
        build_report(data, spec())


def test_a_quantile_metric_without_a_histogram_is_reported_not_a_crash():
    text = "    - {name: review_minutes, kind: mean"
    quantile = "    - {name: review_minutes, kind: quantile, quantile: 0.9"
    sim = Sim(seed=22, n=2000)
    report = build_report(
        analysis_data(sim), spec(**{text: quantile, "       covariate: review_minutes": ""})
    )
    assert report.metric("review_minutes").status == "no_histogram"
    assert any("no histogram" in w for w in report.warnings)


def test_a_quantile_metric_compares_the_two_histograms_quantiles():
    if "histogram" not in MetricAggregates.__dataclass_fields__:
        pytest.skip("the aggregates contract carries no histogram for quantile metrics yet")
    sim = Sim(seed=23, n=20_000, review_effect=1.0)
    units = sim.units()
    data = analysis_data(sim, units)
    counts = {
        v: histogram(g["review_minutes"].clip(lower=0.01).to_numpy())
        for v, g in units.groupby("variant")
    }
    agg = replace(
        data.metrics["review_minutes"], kind="quantile", histogram=LatencyHistogram(EDGES, counts)
    )
    data = replace(data, metrics={**data.metrics, "review_minutes": agg})
    text = "    - {name: review_minutes, kind: mean"
    quantile = "    - {name: review_minutes, kind: quantile, quantile: 0.9"
    report = build_report(data, spec(**{text: quantile, "       covariate: review_minutes": ""}))
    r = result(report, "review_minutes").comparison
    expected = quantile_difference(EDGES, counts[CHAMPION], counts[CHALLENGER], 0.9)
    assert r.test == expected
    _, t = arms(units, "review_minutes")
    assert r.test.treatment == pytest.approx(np.percentile(t, 90), rel=10 ** (1 / 200) - 1)
    assert r.test.p_value < 0.05
