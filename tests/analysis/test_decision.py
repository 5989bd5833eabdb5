"""The decision rules, one row per branch, and how challengers combine."""

import math
from dataclasses import replace

import pytest

from champion.analysis.decision import DECISIONS, Evidence, decide, decide_one
from champion.spec.models import DecisionRules

RULES = DecisionRules()  # full > 20 %, gradual >= 5 %
BASE = Evidence(
    variant="v2_0",
    metric="fraud_caught",
    improvement=0.10,
    improvement_ci=(0.04, 0.16),
    p_value=0.001,
    significant=True,
    worse=False,
    more_units=0,
    more_days=0,
)

CASES = [
    # (name, changes to BASE, srm reason, decision, words in the first reason)
    ("failed guardrail", {"failed_guardrails": ("latency_p95_ms too slow",)}, "",
     "rollback", "guardrail failed: latency_p95_ms too slow"),
    ("failed guardrail beats a big lift", {"improvement": 0.5,
     "failed_guardrails": ("error_rate",)}, "", "rollback", "guardrail failed"),
    ("significantly worse", {"improvement": -0.08, "improvement_ci": (-0.12, -0.04),
     "worse": True}, "", "rollback", "significantly worse on fraud_caught -8.0%"),
    ("worse beats an SRM", {"improvement": -0.08, "worse": True}, "SRM: split off",
     "rollback", "significantly worse"),
    ("SRM", {"improvement": 0.5}, "SRM: observed split 52/48", "keep",
     "SRM: observed split 52/48: results untrustworthy"),
    ("no usable test", {"usable": False, "usable_note": "no outcomes yet"}, "", "extend",
     "fraud_caught: no outcomes yet"),
    ("full rollout", {"improvement": 0.25}, "", "rollout_full",
     "above the full-rollout threshold 20%"),
    ("gradual rollout", {"improvement": 0.10}, "", "rollout_gradual", "between the gradual (5%)"),
    ("gradual at its threshold", {"improvement": 0.05}, "", "rollout_gradual", "improves"),
    ("full needs more than 20 %", {"improvement": 0.20}, "", "rollout_gradual", "improves"),
    ("significant but small", {"improvement": 0.03}, "", "keep", "below the 5% gradual-rollout"),
    ("a guardrail not yet clear", {"improvement": 0.25,
     "blocking_guardrails": ("latency_p95_ms above 200, not yet with evidence",)}, "",
     "extend", "but a guardrail is not yet clear"),
    ("not significant, within reach", {"significant": False, "p_value": 0.2,
     "more_units": 12_000, "more_days": 4}, "", "extend",
     "12,000 more units (about 4 more days at the current rate)"),
    ("not significant, out of reach, time left", {"significant": False, "p_value": 0.2,
     "more_units": 900_000, "more_days": 90, "within_reach": False}, "", "extend",
     "beyond the maximum duration at this rate"),
    ("not significant, maximum duration reached", {"significant": False, "p_value": 0.2,
     "more_units": 900_000, "more_days": 90, "within_reach": False, "time_up": True}, "",
     "keep", "the maximum duration is reached"),
    ("not significant at the final look", {"significant": False, "p_value": 0.2,
     "more_units": 0, "final": True}, "", "keep", "at the final look"),
    ("decided at an earlier look", {"significant": False, "p_value": 0.2,
     "verdict": "rollout_gradual", "improvement": 0.08}, "", "rollout_gradual",
     "decided at an earlier look"),
    ("not significant, sample reached", {"significant": False, "p_value": 0.4,
     "more_units": 0}, "", "keep", "the sample the design needs is reached"),
    ("not significant, no design", {"significant": False, "p_value": 0.4,
     "more_units": None, "more_days": None}, "", "extend", "add a design block"),
    ("lower-is-better improvement", {"metric": "review_minutes", "improvement": 0.3,
     "improvement_ci": (0.2, 0.4)}, "", "rollout_full", "review_minutes +30.0%"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "srm", "expected", "words"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_each_rule_gives_its_decision_and_says_why(changes, srm, expected, words):
    decision, reasons = decide_one(replace(BASE, **changes), RULES, srm_reason=srm)
    assert decision == expected
    assert words in reasons[0]


def test_every_branch_is_covered_by_the_table():
    assert {case[3] for case in CASES} == set(DECISIONS)


def test_thresholds_come_from_the_spec_rules():
    rules = DecisionRules(full_rollout_lift=0.08, gradual_rollout_lift=0.02)
    assert decide_one(BASE, rules)[0] == "rollout_full"
    assert decide_one(replace(BASE, improvement=0.03), rules)[0] == "rollout_gradual"
    assert decide_one(replace(BASE, improvement=0.01), rules)[0] == "keep"


def test_reasons_carry_the_numbers():
    _, reasons = decide_one(BASE, RULES)
    assert reasons[0] == (
        "v2_0 improves fraud_caught +10.0% (CI +4.0% to +16.0%), p = 0.001: between the "
        "gradual (5%) and full (20%) rollout thresholds"
    )


def test_one_challenger_to_roll_back_rolls_the_experiment_back():
    good = replace(BASE, variant="a", improvement=0.3)
    bad = replace(BASE, variant="b", failed_guardrails=("error_rate above 0.01",))
    d = decide([good, bad], RULES)
    assert d.decision == "rollback"
    assert d.variant == "b"
    assert d.per_challenger["a"][0] == "rollout_full"
    assert d.reasons == ("guardrail failed: error_rate above 0.01",)


def test_the_best_rollout_wins_across_challengers():
    small = replace(BASE, variant="a", improvement=0.08)
    big = replace(BASE, variant="b", improvement=0.3)
    waiting = replace(BASE, variant="c", significant=False, more_units=100)
    d = decide([small, waiting, big], RULES)
    assert (d.decision, d.variant) == ("rollout_full", "b")
    d = decide([small, waiting], RULES)
    assert (d.decision, d.variant) == ("rollout_gradual", "a")


def test_extend_wins_over_keep_across_challengers():
    small = replace(BASE, variant="a", improvement=0.01)
    waiting = replace(BASE, variant="b", significant=False, more_units=100, more_days=1)
    assert decide([small, waiting], RULES).decision == "extend"


def test_no_exposures_extend_with_the_reason():
    d = decide([BASE], RULES, no_data_reason="no exposures for x yet: nothing to decide")
    assert d.decision == "extend"
    assert d.reasons == ("no exposures for x yet: nothing to decide",)


def test_a_nan_improvement_never_rolls_out():
    d = decide_one(replace(BASE, improvement=math.nan, significant=False, more_units=10), RULES)
    assert d[0] == "extend"
