"""`champion shadow-report` through typer's runner, on an app assembled here."""

import json
import math

import pytest
import typer
from tests.shadow._data import EXPERIMENT, START, write_shadow_data
from typer.testing import CliRunner

from champion.cli.shadow import shadow_report
from champion.events import Shadow, open_writer
from champion.shadow.report import build_report

runner = CliRunner()
app = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
app.command(name="shadow-report")(shadow_report)


@app.callback()
def _root() -> None:
    """Test app."""


@pytest.fixture(scope="module")
def events(tmp_path_factory):
    root = tmp_path_factory.mktemp("events")
    write_shadow_data(root, n=800, seed=3)
    return root


def _run(*args):
    return runner.invoke(app, ["shadow-report", *map(str, args)])


def test_json_is_one_object_with_the_report_numbers(events):
    result = _run(EXPERIMENT, "--events", events, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["experiment"] == EXPERIMENT
    assert {"requests", "errors", "latency_ms", "models"} <= data["served"].keys()
    assert [s["model"] for s in data["shadows"]] == ["flaky", "noisy", "shifted"]
    for shadow in data["shadows"]:
        assert set(shadow["agreement"]) >= {"rate", "ci"}
        assert set(shadow["score_diff"]) >= {"mean", "p50", "p90", "p99", "max", "share_above",
                                             "share_above_ci", "threshold"}  # fmt: skip
        assert {"served", "shadow", "diff", "diff_ci", "timeouts"} <= shadow["errors"].keys()
        assert {"shadow", "served"} == shadow["latency_ms"].keys()
        assert set(shadow["latency_ms"]["shadow"]) >= {"p50", "p95", "p99"}
    oracle = build_report(events, EXPERIMENT)
    noisy = data["shadows"][1]
    assert noisy["psi"] == pytest.approx(oracle.shadows[1].psi_value, rel=1e-12)
    assert noisy["agreement"]["ci"] == pytest.approx(list(oracle.shadows[1].agreement.ci))
    assert noisy["requests"] == 810
    assert noisy["unmatched"] == 10


def test_threshold_option_reaches_the_report(events):
    data = json.loads(_run(EXPERIMENT, "--events", events, "--threshold", "0.2", "--json").stdout)
    assert {s["score_diff"]["threshold"] for s in data["shadows"]} == {0.2}
    noisy = data["shadows"][1]["score_diff"]
    default = json.loads(_run(EXPERIMENT, "--events", events, "--json").stdout)
    assert noisy["share_above"] < default["shadows"][1]["score_diff"]["share_above"]


def test_terminal_report_is_a_table(events):
    result = _run(EXPERIMENT, "--events", events)
    assert result.exit_code == 0, result.output
    assert "Shadow vs served" in result.stdout
    assert "agreement" in result.stdout
    assert "PSI" in result.stdout


def test_html_option_writes_a_page_sharing_plotly_or_inline(events, tmp_path):
    target = tmp_path / "report.html"
    result = _run(EXPERIMENT, "--events", events, "--html", target)
    assert result.exit_code == 0, result.output
    assert "HTML report written to" in result.stdout
    page = target.read_text(encoding="utf-8")
    assert 'id="shadow0-scores"' in page
    (js,) = tmp_path.glob("plotly-*.min.js")  # shared with other reports of the folder
    assert f'<script src="{js.name}"' in page
    inline = tmp_path / "alone.html"
    result = _run(EXPERIMENT, "--events", events, "--html", inline, "--html-inline")
    assert result.exit_code == 0, result.output
    assert "<script src" not in inline.read_text(encoding="utf-8")


def test_json_writes_nan_as_null(tmp_path):
    with open_writer(tmp_path) as writer:
        writer.log(Shadow(experiment="solo", unit_id="u", model="m", request_id="r",
                          prediction="0.3", score=0.3, latency_ms=4.0, ts=START))  # fmt: skip
    result = _run("solo", "--events", tmp_path, "--json")
    assert result.exit_code == 0, result.output
    shadow = json.loads(result.stdout)["shadows"][0]
    assert shadow["psi"] is None
    assert shadow["agreement"]["rate"] is None
    assert shadow["coverage"] is None
    assert not math.isnan(shadow["latency_ms"]["shadow"]["p50"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["fraud", "--events", "{tmp}/missing"], "does not exist; pass --events the folder"),
        (["nope", "--events", "{events}"], "no shadow events for experiment 'nope'"),
        (["fraud", "--events", "{events}", "--threshold", "-1"], "threshold=-1.0 is invalid"),
        (["fraud", "--events", "{events}", "--html", "{tmp}/no/such/r.html"],
         "does not exist; create it first"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_exit_2(events, tmp_path, args, message):
    result = _run(*(a.format(tmp=tmp_path, events=events) for a in args))
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""
