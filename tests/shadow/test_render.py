"""The terminal table and the self-contained HTML page."""

import re

import pytest
from rich.console import Console

from champion.shadow.html import render_html, write_html
from champion.shadow.metrics import Histogram
from champion.shadow.report import ShadowReport, build_report
from champion.shadow.terminal import render_terminal
from tests.shadow._data import EXPERIMENT


@pytest.fixture(scope="module")
def report(shadow_data) -> ShadowReport:
    return build_report(shadow_data.root, EXPERIMENT)


@pytest.fixture(scope="module")
def page(report, tmp_path_factory) -> str:
    path = write_html(report, tmp_path_factory.mktemp("html") / "shadow.html", inline_js=True)
    assert path.is_file()
    return path.read_text(encoding="utf-8")


def test_html_has_the_three_plots_of_every_shadow_model(page, report):
    for i, _ in enumerate(report.shadows):
        for kind in ("scores", "diff", "latency"):
            assert f'id="shadow{i}-{kind}"' in page


def test_html_embeds_plotly_once_and_loads_nothing_from_outside(page):
    assert not re.search(r"<script[^>]*\bsrc=", page)
    assert "<link" not in page
    assert page.count("Plotly.newPlot") == 9  # three plots for each of three models
    assert len(page) > 1_000_000  # plotly.js itself is inlined (about 4.6 MB)


def test_html_draws_the_threshold_line_and_the_summary_table(page, report):
    assert '"x0":0.1' in page.replace(" ", "")  # the vertical line's position
    assert '<table id="summary">' in page
    for c in report.shadows:
        assert f"<th>{c.model}</th>" in page


def test_html_escapes_names(report):
    from dataclasses import replace

    odd = replace(report, experiment="<b>x</b>")
    assert "<b>x</b>" not in render_html(odd)


def test_histograms_hold_every_compared_pair(report):
    c = next(s for s in report.shadows if s.model == "noisy")
    assert sum(c.histograms["scores"].counts["served"]) == c.score_diff.n
    assert sum(c.histograms["diff"].counts["shadow"]) == c.score_diff.n
    assert sum(c.histograms["latency"].counts["shadow"]) == c.latency_shadow.n
    assert c.histograms["scores"].edges[0] == 0.0
    assert c.histograms["scores"].edges[-1] == 1.0


def test_histogram_edges_are_equal_bins():
    h = Histogram(0.0, 2.0, {"shadow": (1, 2, 3, 4)})
    assert h.edges == (0.0, 0.5, 1.0, 1.5, 2.0)


def test_terminal_report_shows_one_column_per_model_and_the_notes(report):
    console = Console(record=True, width=160)
    render_terminal(report, console)
    text = console.export_text()
    assert "Shadow report fraud" in text
    for c in report.shadows:
        assert c.model in text
    assert "PSI (served deciles)" in text
    assert "large shift" in text
    assert "note (noisy): 10 of 4,010 shadow calls" in text
