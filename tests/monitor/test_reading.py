"""Outcome guardrails at the stage gates: judged on always-valid intervals, so a gate read
every tick does not inflate false stops; the fixed-horizon read-out is stricter per look."""

import math

import pytest

from champion.analysis.progress import always_valid_interval
from champion.analysis.readout import build_report
from champion.monitor.reading import outcome_harm
from champion.monitor.rules import DEFAULTS, family_size
from tests.analysis._sim import Sim, analysis_data, spec


def report_for(sim):
    s = spec()
    return s, build_report(analysis_data(sim, sim.units()), s)


def test_a_clear_harm_beyond_the_margin_stops_and_says_why():
    s, report = report_for(Sim(seed=1, n=40_000, fp_delta=0.03))
    said = outcome_harm(report, s, "v2_0")
    assert said.startswith("guardrail false_positive: v2_0 is worse than the champion")
    assert "margin 0.005" in said


def test_no_harm_is_no_stop():
    s, report = report_for(Sim(seed=2, n=40_000))
    assert outcome_harm(report, s, "v2_0") == ""


def test_the_bound_is_the_always_valid_one_at_the_monitors_share_of_alpha():
    s, report = report_for(Sim(seed=3, n=40_000, fp_delta=0.012))
    c = report.metric("false_positive").challengers["v2_0"].comparison
    alpha = DEFAULTS.alpha / (family_size(s) + 1)  # the outcome rule joins the family
    lo, _ = always_valid_interval(c, 2 * alpha)
    said = outcome_harm(report, s, "v2_0")
    assert (lo > 0.005) == bool(said)
    # the read-out's one-look check is narrower: it can fail where the gate does not stop
    fixed = next(g for g in report.guardrails if g.guardrail == "false_positive")
    assert fixed.bound[0] >= lo or math.isnan(lo)
    assert fixed.status == "fail"  # +1.2 points against a 0.5-point margin, one look
    assert said == ""  # not yet shown for a reader who may look at every tick


@pytest.mark.parametrize("seed", range(3))
def test_an_unknown_variant_or_metric_is_never_a_stop(seed):
    s, report = report_for(Sim(seed=seed, n=2_000))
    assert outcome_harm(report, s, "nope") == ""
