"""The terminal read-out: health first, then metrics, segments, guardrails and the decision."""

import pytest
from rich.console import Console
from tests.analysis._sim import Sim, analysis_data, spec

from champion.analysis.readout import build_report
from champion.report import render_terminal


@pytest.fixture(scope="module")
def text() -> str:
    sim = Sim(seed=51, n=20_000, fraud_lift=0.2, mobile_lift=-0.3)
    report = build_report(analysis_data(sim), spec(looks=5))
    console = Console(width=140, record=True, color_system=None)
    render_terminal(report, console)
    return console.export_text()


def test_sections_come_health_first_and_decision_last(text):
    order = [text.index(title) for title in
             ("Health", "Metrics", "Segments", "Guardrails", "Serving", "Decision")]  # fmt: skip
    assert order == sorted(order)


def test_health_names_each_check(text):
    for check in ("sample ratio (SRM)", "crossovers", "data freshness", "outcomes to come"):
        assert check in text


def test_metrics_show_every_metric_with_its_numbers(text):
    for metric in ("fraud_caught *", "false_positive", "review_minutes"):
        assert metric in text
    assert "design (fraud_caught, v2_0, 5 looks):" in text
    assert " pp [" in text  # proportions' differences in percentage points with their CI


def test_the_mobile_segment_is_flagged_against_the_aggregate(text):
    assert "device=mobile" in text
    assert "against" in text


def test_the_decision_and_its_reasons_are_printed(text):
    tail = text[text.index("Decision") :]
    assert any(d in tail for d in ("rollout_full", "rollout_gradual", "keep", "extend", "rollback"))
    assert "- " in tail
