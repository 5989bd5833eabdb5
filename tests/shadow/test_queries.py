"""The query layer's rules: which pairs agree, what is unmatched, and what bad input says."""

import math
from datetime import UTC, datetime, timedelta

import pytest

from champion.events import Exposure, Shadow, open_writer
from champion.shadow.queries import EventsNotFound, NoShadowEvents, open_shadow_events
from champion.shadow.report import build_report

T0 = datetime(2024, 6, 1, tzinfo=UTC)

# (served prediction, served score, shadow prediction, shadow score, expected outcome):
# True/False agree or not, None left out of the agreement (no decision, or different kinds).
DECISION_CASES = [
    ("0.7", 0.7, "0.55", 0.55, True),  # both >= 0.5
    ("0.7", 0.7, "0.45", 0.45, False),
    ("0.5", 0.5, "0.49999", 0.49999, False),  # 0.5 itself is positive
    ("[0.3,0.7]", 0.7, '{"probability":0.8}', 0.8, True),  # [P(neg), P(pos)] is a score
    ('{"label":"fraud","probability":0.4}', 0.4, '"fraud"', None, True),  # labels win
    ('{"label":"fraud","probability":0.9}', 0.9, '{"label":"ok","probability":0.9}', 0.9, False),
    ('{"class":2}', None, "2", 2.0, True),  # an integer class, as key or value
    ("2", 2.0, "1", 1.0, False),
    ("true", 1.0, "true", 1.0, True),
    ("[0.1,0.2,0.7]", None, "[0.3,0.1,0.6]", None, True),  # argmax over >= 3 classes
    ("[0.1,0.2,0.7]", None, "[0.5,0.1,0.4]", None, False),
    ("fraud", None, '"fraud"', None, True),  # text that is not JSON is a label
    ("12.5", 12.5, "13.0", 13.0, None),  # a score outside [0, 1] has no decision
    ('"fraud"', None, "0.9", 0.9, None),  # a label against a score: not comparable
    (None, 0.8, None, 0.6, True),  # no prediction text: the score decides
]


def _write_pairs(root, cases, experiment="kinds"):
    with open_writer(root) as writer:
        for i, (e_pred, e_score, s_pred, s_score, _) in enumerate(cases):
            ts = T0 + timedelta(seconds=i)
            writer.log(
                Exposure(
                    experiment=experiment,
                    unit_id=f"u{i}",
                    variant="a",
                    model="m1",
                    allocation_version=1,
                    probability=1.0,
                    request_id=f"r{i}",
                    prediction=e_pred,
                    score=e_score,
                    latency_ms=1.0,
                    ts=ts,
                )
            )
            writer.log(
                Shadow(
                    experiment=experiment,
                    unit_id=f"u{i}",
                    model="m2",
                    request_id=f"r{i}",
                    prediction=s_pred,
                    score=s_score,
                    latency_ms=2.0,
                    ts=ts,
                )
            )


def test_decision_rule_for_labels_scores_and_class_vectors(tmp_path):
    _write_pairs(tmp_path, DECISION_CASES)
    (c,) = build_report(tmp_path, "kinds").shadows
    outcomes = [case[-1] for case in DECISION_CASES]
    assert c.agreement.agree == outcomes.count(True)
    assert c.agreement.compared == outcomes.count(True) + outcomes.count(False)
    assert c.agreement.incomparable == outcomes.count(None)
    assert any("left out of the agreement" in note for note in c.notes)


@pytest.mark.parametrize("case", DECISION_CASES, ids=lambda case: f"{case[0]}~{case[2]}")
def test_each_decision_case_alone(tmp_path, case):
    _write_pairs(tmp_path, [case])
    (c,) = build_report(tmp_path, "kinds").shadows
    expected = case[-1]
    assert c.agreement.compared == (expected is not None)
    assert c.agreement.agree == (expected is True)


def test_failed_calls_are_left_out_of_every_answer_comparison(tmp_path):
    with open_writer(tmp_path) as writer:
        for i in range(4):
            writer.log(
                Exposure(experiment="e", unit_id=f"u{i}", variant="a", model="m1",
                         allocation_version=1, probability=1.0, request_id=f"r{i}",
                         prediction="0.9", score=0.9, error="boom" if i == 0 else None, ts=T0)
            )  # fmt: skip
            writer.log(
                Shadow(experiment="e", unit_id=f"u{i}", model="m2", request_id=f"r{i}",
                       prediction="0.1", score=0.1, error="timeout after 50 ms" if i == 1 else None,
                       latency_ms=50.0, ts=T0)
            )  # fmt: skip
    (c,) = build_report(tmp_path, "e").shadows
    assert (c.agreement.compared, c.score_diff.n) == (2, 2)
    assert (c.errors.served.successes, c.errors.shadow.successes, c.errors.timeouts) == (1, 1, 1)


def test_shadow_events_without_any_exposure_report_errors_and_latency_only(tmp_path):
    with open_writer(tmp_path) as writer:
        for i in range(20):
            writer.log(
                Shadow(experiment="lonely", unit_id=f"u{i}", model="m2", request_id=f"r{i}",
                       prediction="0.4", score=0.4, latency_ms=float(i), ts=T0)
            )  # fmt: skip
    report = build_report(tmp_path, "lonely")
    (c,) = report.shadows
    assert (c.requests, c.matched, c.unmatched) == (20, 0, 20)
    assert math.isnan(c.agreement.rate)
    assert math.isnan(c.coverage)
    assert c.psi is None
    assert c.errors.test is None
    assert c.latency_shadow.p50 == pytest.approx(9.5)
    assert c.notes[0].startswith("no shadow call matched a served request")
    assert report.served.requests == 0
    assert report.to_dict()["shadows"][0]["psi"] != report.to_dict()["shadows"][0]["psi"]  # NaN


def test_missing_events_folder_is_named_with_the_fix(tmp_path):
    with pytest.raises(
        EventsNotFound, match=r"event folder .*nowhere does not exist; pass --events"
    ):
        open_shadow_events(tmp_path / "nowhere", "fraud")


def test_a_file_is_not_an_events_folder(tmp_path):
    (tmp_path / "events.parquet").write_bytes(b"")
    with pytest.raises(EventsNotFound, match="is a file, not a folder"):
        open_shadow_events(tmp_path / "events.parquet", "fraud")


def test_no_shadow_events_for_the_name_lists_those_that_exist(tmp_path):
    _write_pairs(tmp_path, DECISION_CASES[:2], experiment="fraud-v2")
    with pytest.raises(
        NoShadowEvents,
        match=r"no shadow events for experiment 'fraud' in .* \(shadow events exist for: "
        r"fraud-v2\); check the name, or add a shadow model",
    ):
        open_shadow_events(tmp_path, "fraud")


def test_a_folder_without_shadow_events_says_so(tmp_path):
    with open_writer(tmp_path) as writer:
        writer.log(
            Exposure(experiment="fraud", unit_id="u", variant="a", model="m1",
                     allocation_version=1, probability=1.0, request_id="r", ts=T0)
        )  # fmt: skip
    with pytest.raises(NoShadowEvents, match="it holds no shadow events at all"):
        open_shadow_events(tmp_path, "fraud")


def test_experiment_name_must_follow_the_spec_rule(tmp_path):
    with pytest.raises(ValueError, match=r"experiment='\.\./x' is invalid: must be an experiment"):
        open_shadow_events(tmp_path, "../x")
