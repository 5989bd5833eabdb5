"""A significant effect says which way it went for the metric, in words: "yes, WORSE" when it
is in the metric's bad direction (per the spec's ``direction``), never a bare "yes" or
"sig", in the terminal read-out, the HTML report and ``analyze --json``, for metrics and
for segments alike.

The data: v2 converts at 10% against 20% for v1, 4,000 units. Read against a spec where
higher is better, every ``converted`` segment is significantly worse; read against the same
spec with ``direction: lower``, the same effects are significantly better. The oracle is the
sign of each difference and the spec's direction, not champion's ``better``."""

from __future__ import annotations

import json
import re
from html import unescape
from pathlib import Path

import pytest
from tests.analysis._events import make_spec, write_experiment
from tests.cli._first_hour import invoke, one_line

from champion.spec import dump_spec, spec_to_dict
from champion.spec.models import Experiment

NAME = "checkout-v2"


def _spec(direction: str) -> Experiment:
    data = spec_to_dict(make_spec())
    data["metrics"]["primary"]["direction"] = direction
    return Experiment.model_validate(data)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("significance")
    values = {"converted": {"v1": 0.2, "v2": 0.1}}
    write_experiment(root / "events", _spec("higher"), units=4_000, values=values, seed=8)
    for direction in ("higher", "lower"):
        (root / f"{direction}.yaml").write_text(dump_spec(_spec(direction)), encoding="utf-8")
    return root


def _analyze(folder: Path, direction: str, *extra: str):
    # The CLI's console took its width when first imported (by whichever test came first):
    # set it here, as COLUMNS would for a fresh process.
    from champion.cli._output import console

    before = console._width  # None: the width follows the terminal
    console.width = 220
    try:
        spec = str(folder / f"{direction}.yaml")
        result = invoke("analyze", NAME, "--events", str(folder / "events"), "--spec", spec,
                        *extra, env={"COLUMNS": "220"})  # fmt: skip
    finally:
        console._width = before
    assert result.exit_code == 0, result.output
    return result


def _expected(diff: float, higher_is_better: bool) -> str:
    return "yes, better" if (diff > 0) == higher_is_better else "yes, WORSE"


@pytest.mark.parametrize("direction", ["higher", "lower"])
def test_json_says_the_direction_of_every_significant_metric_and_segment(folder, direction):
    data = json.loads(_analyze(folder, direction, "--json").stdout)
    directions = {m["name"]: m.get("direction", "higher") for m in _metric_specs(direction)}
    checked = 0
    for s in data["segments"]:
        if s["significant"]:
            higher = directions[s["metric"]] == "higher"
            assert s["significance"] == _expected(s["diff"], higher), s
            checked += 1
        else:
            assert not s["significance"].startswith("yes"), s
    converted = [s for s in data["segments"] if s["metric"] == "converted"]
    assert len(converted) == 4
    want = "yes, WORSE" if direction == "higher" else "yes, better"
    assert {s["significance"] for s in converted} == {want}
    for name, metric in data["metrics"].items():
        for r in metric["challengers"].values():
            if r["significant"]:
                assert r["significance"] == _expected(r["diff"], directions[name] == "higher")
            else:
                assert not r["significance"].startswith("yes"), (name, r)
    assert data["metrics"]["converted"]["challengers"]["v2"]["significance"] == want
    assert checked >= 4


def _metric_specs(direction: str) -> list[dict]:
    metrics = spec_to_dict(_spec(direction))["metrics"]
    return [metrics["primary"], *metrics.get("secondary", [])]


def _segments_panel(text: str) -> list[str]:
    block = text.split("Segments", 1)[1].split("╰", 1)[0]
    return [line for line in block.splitlines() if line.strip("│ ").startswith("converted")]


def test_the_terminal_segments_table_says_worse_for_a_bad_direction(folder):
    out = _analyze(folder, "higher").stdout
    rows = _segments_panel(out)
    assert len(rows) == 4
    for row in rows:
        assert "yes, WORSE" in row
        assert "better" not in row
    assert "WORSE: its bad direction" in one_line(out)


def test_the_terminal_segments_table_says_better_when_lower_is_better(folder):
    rows = _segments_panel(_analyze(folder, "lower").stdout)
    assert len(rows) == 4
    for row in rows:
        assert "yes, better" in row
        assert "WORSE" not in row


def test_the_html_segments_table_says_worse_for_a_bad_direction(folder, tmp_path):
    page = tmp_path / "report.html"
    _analyze(folder, "higher", "--html", str(page))
    text = page.read_text(encoding="utf-8")
    table = text.split('<table id="segments">', 1)[1].split("</table>", 1)[0]
    rows = [[unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]
            for row in table.split("<tr>")[2:]]  # fmt: skip
    converted = [r for r in rows if r[0] == "converted"]
    assert len(converted) == 4
    assert {r[-1] for r in converted} == {"yes, WORSE"}
    assert all(r[-1] != "significant" for r in rows)
    metrics = text.split('<table id="metrics">', 1)[1].split("</table>", 1)[0]
    assert "yes, WORSE" in unescape(metrics)
