"""The HTML read-out: one self-contained page with every chart and the decision."""

import re
from dataclasses import replace

from champion.report import render_html, write_html


def test_the_page_is_self_contained(page):
    assert "<script src" not in page.lower()
    assert 'src="http' not in page
    assert page.count("Plotly.newPlot") >= 4
    assert len(page) > 1_000_000  # plotly.js is inlined, once
    assert page.count("plotly.js v") == 1


def test_each_chart_is_on_the_page(page):
    for div in ("cumulative-fraud_caught", "cumulative-false_positive", "forest", "latency"):
        assert f'id="{div}"' in page


def test_the_cumulative_chart_has_a_ci_band_and_the_sequential_boundaries(page):
    chart = page[page.index('id="cumulative-fraud_caught"') :]
    chart = chart[: chart.index("</script>")]
    assert "tonexty" in chart
    assert "decision boundary" in chart
    assert "always-valid interval" in chart


def test_the_forest_plot_lists_metrics_and_segments(page):
    forest = page[page.index('id="forest"') :]
    forest = forest[: forest.index("</script>")]
    assert "fraud_caught \\u00b7 v2_0" in forest or "fraud_caught · v2_0" in forest
    assert "device=mobile" in forest


def test_the_decision_is_on_the_page(page, report):
    assert 'id="decision"' in page
    assert f"Decision: {report.decision.decision}" in page


def test_text_from_the_data_is_escaped(report):
    hostile = "</script><script>alert(1)</script>"
    seg = replace(report.segments[0], value=hostile, against=True)
    page = render_html(replace(report, segments=(seg,), warnings=(hostile,)))
    assert hostile not in page
    assert "&lt;/script&gt;" in page  # the warning, escaped


def test_write_html_writes_the_page(tmp_path, report):
    path = write_html(report, tmp_path / "report.html")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert re.search(r"<title>Experiment report: fraud-detector-v2</title>", text)
