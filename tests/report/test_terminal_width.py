"""Piped into an 80-column log, the read-out wraps; it never cuts a name to "fraud_ca…"."""

from __future__ import annotations

import pytest
from rich.console import Console
from tests.analysis._events import make_spec, write_experiment

from champion.analysis.aggregate import load_analysis_data
from champion.analysis.readout import build_report
from champion.analysis.store import open_store
from champion.report import render_terminal

LONG = "fraud_caught_within_the_first_thirty_days"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    spec = make_spec(
        metrics={"primary": {"name": LONG, "kind": "proportion", "window_days": 3},
                 "guardrails": [{"name": "latency_p95_ms", "max": 200}]},
        segments=["country_of_the_card_holder"],
    )  # fmt: skip
    events = tmp_path_factory.mktemp("narrow") / "events"
    write_experiment(events, spec, units=1_500, seed=4,
                     segments={"country_of_the_card_holder": {"Deutschland": 0.5,
                                                              "United-States": 0.5}})  # fmt: skip
    with open_store(str(events), experiment=spec.name) as store:
        return build_report(load_analysis_data(store, spec), spec)


@pytest.mark.parametrize("width", [80, 100])
def test_no_cell_is_cut_at_the_terminal_width(report, width):
    console = Console(width=width, record=True, color_system=None)
    render_terminal(report, console)
    text = console.export_text()
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= width
    squeezed = "".join(text.split())
    assert "fraud_caught_within" in squeezed
