"""A read-out before the attribution windows close says what it can: units exposed per arm,
how many wait for their window, when the first read-out is due, and early serving health."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import duckdb
import pytest
from tests.analysis._events import make_spec, write_experiment
from tests.cli._first_hour import invoke, one_line

from champion.spec import dump_spec

NAME = "checkout-v2"
WINDOW_DAYS = 3  # make_spec's primary metric


@pytest.fixture(scope="module")
def young(tmp_path_factory):
    """An experiment whose 600 units were all exposed in the last day: no window closed."""
    folder = tmp_path_factory.mktemp("young")
    spec = make_spec()
    (folder / "spec.yaml").write_text(dump_spec(spec), encoding="utf-8")
    start = datetime.now(UTC) - timedelta(hours=26)
    truth = write_experiment(folder / "events", spec, units=600, days=0.25, start=start, seed=5)
    return folder, truth


def _first_exposure(events) -> datetime:
    """The oracle: DuckDB straight on the Parquet files."""
    glob = str(events / "exposures" / "**" / "*.parquet")
    ((ts,),) = duckdb.sql(
        f"select min(ts) from read_parquet('{glob}', hive_partitioning = true) where exposed"
    ).fetchall()
    return ts.astimezone(UTC) if ts.tzinfo else ts.replace(tzinfo=UTC)


def _analyze(folder, *extra: str):
    return invoke("analyze", NAME, "--events", str(folder / "events"),
                  "--spec", str(folder / "spec.yaml"), *extra)  # fmt: skip


def test_json_says_units_per_arm_how_many_wait_and_when_the_first_readout_is_due(young):
    folder, truth = young
    result = _analyze(folder, "--json")
    assert result.exit_code == 0, result.output
    early = json.loads(result.stdout)["early"]
    assert early["exposed"] == truth.units
    assert early["waiting"] == sum(truth.units.values())
    assert early["counted"] == 0
    due = _first_exposure(folder / "events") + timedelta(days=WINDOW_DAYS)
    got = datetime.fromisoformat(early["first_readout_due"])
    assert abs((got - due).total_seconds()) < 1
    for variant, serving in early["serving"].items():
        assert serving["requests"] > 0
        assert 0 < serving["p95_ms"] < 1_000, variant


def test_the_terminal_explains_the_wait_instead_of_empty_metrics(young):
    folder, truth = young
    result = _analyze(folder)
    assert result.exit_code == 0, result.output
    text = one_line(result.stdout)
    assert "Before the windows close" in text
    exposed = ", ".join(f"{v} {n:,}" for v, n in truth.units.items())
    assert f"exposed {sum(truth.units.values()):,} units ({exposed})" in text
    assert "first read-out" in text
    assert "serving v1" in text
    assert "empty_arm" not in text
    assert "an arm has no units;" not in text
    assert "a unit counts once its window closes" in text


def test_once_the_windows_have_closed_the_early_summary_is_gone(young):
    folder, truth = young
    later = (truth.end + timedelta(days=WINDOW_DAYS + 1)).isoformat()
    result = _analyze(folder, "--json", "--as-of", later)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["early"] is None


def test_an_empty_cell_says_why_it_has_no_test_not_significant_no(young, tmp_path):
    """No window has closed: each metric's significance is its status (empty_arm), never
    "no", in --json and on the HTML page."""
    folder, _ = young
    result = _analyze(folder, "--json")
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)["metrics"]
    said = {r["significance"] for m in metrics.values() for r in m["challengers"].values()}
    assert said == {"empty_arm"}
    page = tmp_path / "report.html"
    assert _analyze(folder, "--html", str(page)).exit_code == 0
    table = page.read_text(encoding="utf-8").split('<table id="metrics">', 1)[1]
    cells = table.split("</table>", 1)[0]
    assert "<td>empty_arm</td>" in cells
    assert "<td>no</td>" not in cells
    assert "- to -" not in cells
