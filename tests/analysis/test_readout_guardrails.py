"""Guardrails: absolute bounds and non-inferiority, against numpy, statsmodels and scipy."""

import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from champion.analysis.readout import build_report
from champion.spec.models import Guardrail
from tests.analysis._sim import EDGES, Sim, analysis_data, spec

BIN = 10 ** (1 / 200)  # relative width of one latency bin


def checks(report, guardrail: str):
    return [g for g in report.guardrails if g.guardrail == guardrail]


def run(sim: Sim, **spec_options):
    units = sim.units()
    return units, build_report(analysis_data(sim, units), spec(**spec_options))


def test_a_latency_regression_fails_its_p95_guardrail_with_evidence_and_rolls_back():
    sim = Sim(seed=41, n=20_000, fraud_lift=0.3, latency_ms={"v1_3": 80.0, "v2_0": 150.0})
    units, report = run(sim)
    (g,) = checks(report, "latency_p95_ms")
    latencies = sim.requests(units)
    rows = latencies.loc[latencies["variant"] == "v2_0", "latency_ms"].to_numpy()
    assert g.value == pytest.approx(np.percentile(rows, 95), rel=BIN - 1)
    assert g.status == "fail"
    assert g.bound[0] > 200  # the one-sided lower bound is above the max
    assert "with evidence" in g.evidence
    assert report.decision.decision == "rollback"
    assert report.decision.reasons[0].startswith("guardrail failed: latency_p95_ms")


def test_p95_bounds_are_the_order_statistic_interval_of_the_rows():
    sim = Sim(seed=42, n=4_000)
    units, report = run(sim)
    (g,) = checks(report, "latency_p95_ms")
    rows = np.sort(sim.requests(units).query("variant == 'v2_0'")["latency_ms"].to_numpy())
    n = rows.size
    # One-sided 95 % bounds are the two-sided 90 % order-statistic interval's ends.
    lower = rows[int(stats.binom.ppf(0.05, n, 0.95)) - 1]
    upper = rows[int(stats.binom.ppf(0.95, n, 0.95))]
    assert g.bound[0] <= lower <= g.bound[0] * BIN
    assert g.bound[1] / BIN <= upper <= g.bound[1]
    assert g.status == "pass"


def test_an_estimate_above_the_max_without_evidence_warns_and_blocks_a_rollout():
    # p95 of a lognormal(median m, 0.4) is m e^(0.4 z_.95) = 1.93 m: 103.5 puts it at ~200.
    # a design whose planned sample (MDE 80 %) these 600 units pass: an improvement is read
    # only at a decision point
    sim = Sim(seed=43, n=600, fraud_lift=1.5, latency_ms={"v1_3": 80.0, "v2_0": 104.5})
    _, report = run(sim, **{"mde: 0.10": "mde: 0.80"})
    assert report.looks["v2_0"].decision_point
    (g,) = checks(report, "latency_p95_ms")
    assert g.status == "warn"
    assert g.value > 200 > g.bound[0]
    primary = report.metric("fraud_caught").challengers["v2_0"]
    assert primary.significant
    assert report.decision.decision == "extend"
    assert any("latency_p95_ms" in r for r in report.decision.reasons)


def test_an_estimate_within_the_max_without_evidence_warns_and_blocks_a_rollout():
    """Pass needs the one-sided upper bound at or below the max, not just the estimate: an
    error rate of 0.87% under a 1% max with an upper bound of 1.04% warns (it used to pass)."""
    sim = Sim(seed=50, n=6_000, fraud_lift=1.5, error_rate={"v1_3": 0.002, "v2_0": 0.0085})
    _, report = run(sim, **{"mde: 0.10": "mde: 0.30"})  # planned sample passed
    assert report.metric("fraud_caught").challengers["v2_0"].significant
    (g,) = checks(report, "error_rate")
    assert g.value < 0.01 < g.bound[1]
    assert g.status == "warn"
    assert "within the max 0.01, not yet with evidence" in g.evidence
    assert report.decision.decision == "extend"
    assert any(r.startswith("guardrail: error_rate") for r in report.decision.reasons)


@pytest.mark.parametrize(
    ("n", "rate", "status"),
    [(5_000, 0.012, "warn"), (20_000, 0.014, "fail"), (5_000, 0.005, "pass")],
)
def test_error_rate_bound_is_the_wilson_interval_of_the_requests(n, rate, status):
    """Serving sums without unit buckets (the simulation draws requests independently) are
    read as independent requests: Wilson on errors / requests. With buckets, see
    test_guardrails_clustered.py. (5,000, 0.005) passes on its upper bound, below 0.01."""
    sim = Sim(seed=44, n=n, error_rate={"v1_3": 0.002, "v2_0": rate})
    units, report = run(sim)
    (g,) = checks(report, "error_rate")
    requests = sim.requests(units).query("variant == 'v2_0'")
    errors, total = int(requests["error"].sum()), len(requests)
    lo, hi = proportion_confint(errors, total, alpha=0.10, method="wilson")
    assert g.value == pytest.approx(errors / total)
    assert g.bound == pytest.approx((lo, hi), rel=1e-9)
    assert g.status == status


def test_non_inferiority_passes_when_the_challenger_is_no_worse():
    sim = Sim(seed=45, n=40_000)
    units, report = run(sim)
    (g,) = checks(report, "false_positive")
    c = units.loc[units["variant"] == "v1_3", "false_positive"]
    t = units.loc[units["variant"] == "v2_0", "false_positive"]
    se = math.sqrt(c.mean() * (1 - c.mean()) / c.size + t.mean() * (1 - t.mean()) / t.size)
    # Lower is better: non-inferior when diff + z_.95 se < margin.
    upper = (t.mean() - c.mean()) + stats.norm.ppf(0.95) * se
    assert g.bound[1] == pytest.approx(upper, rel=1e-9)
    assert upper < 0.005
    assert g.status == "pass"


def test_non_inferiority_fails_when_the_challenger_is_worse_beyond_the_margin():
    sim = Sim(seed=46, n=40_000, fp_delta=0.02, fraud_lift=0.3)
    _, report = run(sim)
    (g,) = checks(report, "false_positive")
    assert g.status == "fail"
    assert g.bound[0] > 0.005
    assert report.decision.decision == "rollback"


def test_non_inferiority_is_inconclusive_on_a_small_sample():
    sim = Sim(seed=47, n=1_000)
    _, report = run(sim)
    (g,) = checks(report, "false_positive")
    assert g.status == "inconclusive"
    assert "not shown yet" in g.evidence


def test_a_latency_non_inferiority_margin_compares_the_two_p95s():
    text = "    - {name: latency_p95_ms, max: 200}"
    sim = Sim(seed=48, n=10_000, latency_ms={"v1_3": 80.0, "v2_0": 84.0})
    _, report = run(sim, **{text: "    - {name: latency_p95_ms, non_inferiority_margin: 2}"})
    (g,) = checks(report, "latency_p95_ms")
    assert g.rule == "non-inferiority margin 2"
    assert g.status == "fail"  # p95 about 7.7 ms slower: worse than a 2 ms margin
    assert g.value == pytest.approx(4.0 * math.exp(0.4 * stats.norm.ppf(0.95)), rel=0.15)


def test_a_guardrail_on_a_metric_without_data_is_refused_by_name():
    # Spec validation refuses undeclared guardrails; a stored spec edited by hand may not.
    base = spec()
    metrics = base.metrics.model_copy(update={"guardrails": [Guardrail(name="ctr", max=0.01)]})
    edited = base.model_copy(update={"metrics": metrics})
    data = analysis_data(Sim(seed=49, n=1_000))
    with pytest.raises(ValueError, match=r"guardrail='ctr' is invalid: names no analysed metric"):
        build_report(data, edited)


def test_the_latency_edges_of_the_simulation_are_those_of_the_design():
    assert len(EDGES) == 1401
    assert EDGES[0] == pytest.approx(0.01)
    assert EDGES[-1] == pytest.approx(100_000.0)
