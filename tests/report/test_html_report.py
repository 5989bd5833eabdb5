"""The HTML read-out says what the terminal says, with sensible axes, numbers for people and
one shared copy of plotly's JavaScript per folder."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime, timedelta

import pytest
from tests.analysis._events import make_spec, write_experiment

from champion.analysis.aggregate import load_analysis_data
from champion.analysis.readout import build_report
from champion.analysis.store import open_store
from champion.report import render_html, write_html
from champion.report.early import early_readout


def _figure(page: str, div: str) -> dict:
    """The plotly figure drawn into ``div``: its data and layout, as plotly wrote them."""
    start = page.index(f'id="{div}"')
    script = page[start : page.index("</script>", start)]
    call = script[script.index("Plotly.newPlot(") :]
    args = json.JSONDecoder().raw_decode(call[call.index("[") :])[0]
    rest = call[call.index("[") :]
    _, end = json.JSONDecoder().raw_decode(rest)
    layout = json.JSONDecoder().raw_decode(rest[end:].lstrip(", "))[0]
    return {"data": args, "layout": layout}


def test_the_page_has_the_terminals_sections(page):
    for table in ("health", "metrics", "confidence", "segments", "guardrails", "serving"):
        assert f'id="{table}"' in page, table
    for title in ("Health", "Power and remaining sample", "Segments", "Serving"):
        assert f"<h2>{title}</h2>" in page


def test_the_latency_chart_axis_spans_the_data_not_ten_to_the_64(page, report):
    layout = _figure(page, "latency")["layout"]
    lo, hi = layout["xaxis"]["range"]
    assert 0 <= lo < hi < 5  # log10 of milliseconds: 1 ms to 100 s at most
    p95 = report.latency["v2_0"][0.95].estimate
    lines = [s for s in layout["shapes"] if s.get("type") == "line"]
    assert any(math.isclose(s["x0"], math.log10(p95)) for s in lines)
    assert all(lo <= s["x0"] <= hi for s in lines)


def test_numbers_are_for_people(page):
    tables = re.sub(r"<script.*?</script>", "", page, flags=re.S)
    for bad in (r"0\.0000<", r"- to -", r"-inf\b", r"\binf ms", r"\de-\d"):
        assert not re.search(bad, tables), bad


@pytest.fixture(scope="module")
def one_day(tmp_path_factory):
    """A day-old experiment: one day of data, every window still open."""
    experiment = make_spec()
    events = tmp_path_factory.mktemp("one-day") / "events"
    start = datetime.now(UTC) - timedelta(hours=20)
    write_experiment(events, experiment, units=800, days=0.3, start=start, seed=9)
    with open_store(str(events), experiment=experiment.name) as store:
        data = load_analysis_data(store, experiment)
    return build_report(data, experiment), experiment


def test_a_one_day_experiment_gets_whole_day_ticks_and_the_early_readout(one_day):
    report, experiment = one_day
    early = early_readout(report, experiment)
    assert early is not None
    page = render_html(report, early)
    assert "<h2>Before the windows close</h2>" in page
    assert f"{early.waiting:,} units still inside their window" in page
    for div in re.findall(r'id="(cumulative-[^"]+)"', page):
        xaxis = _figure(page, div)["layout"]["xaxis"]
        assert xaxis["dtick"] == 86_400_000
        assert xaxis["type"] == "date"


def test_reports_in_one_folder_share_one_plotly_script(tmp_path, report):
    first = write_html(report, tmp_path / "a.html")
    second = write_html(report, tmp_path / "b.html")
    scripts = list(tmp_path.glob("plotly-*.min.js"))
    assert len(scripts) == 1
    assert scripts[0].stat().st_size > 1_000_000
    for path in (first, second):
        text = path.read_text(encoding="utf-8")
        assert f'<script src="{scripts[0].name}"' in text
        assert len(text.encode()) < 500_000


def test_inline_js_makes_a_page_that_travels_alone(tmp_path, report):
    path = write_html(report, tmp_path / "alone.html", inline_js=True)
    assert not list(tmp_path.glob("plotly-*.min.js"))
    assert "<script src" not in path.read_text(encoding="utf-8")
