"""`champion outcomes load`: a good file is stored once; a bad one exits 2 with nothing written."""

import json
import re

import pytest
import typer
from typer.testing import CliRunner

from champion.cli.outcomes import outcomes_app
from tests.events._helpers import count

runner = CliRunner()

GOOD = "ts,unit_id,metric,value\n2024-05-01T12:00:00Z,u1,converted,1\n2024-05-02,u2,revenue,9.5\n"


def _plain(text: str) -> str:
    """Usage errors come in a box that wraps lines: compare words only."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(outcomes_app, name="outcomes")

    @app.callback()
    def _root() -> None:
        """Root of the test app."""

    return app


def test_a_good_file_is_loaded_and_summarised(app, tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text(GOOD)
    result = runner.invoke(app, ["outcomes", "load", str(path), "--events", str(tmp_path / "ev")])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == (
        f"loaded 2 outcomes (converted 1, revenue 1; 2024-05-01 12:00 to 2024-05-02 00:00 UTC) "
        f"from {path} into {tmp_path / 'ev'}"
    )
    assert count(tmp_path / "ev", "outcomes") == 2


def test_json_output_and_a_second_load_that_stores_nothing(app, tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text(GOOD)
    args = ["outcomes", "load", str(path), "--events", str(tmp_path / "ev"), "--json"]
    first = json.loads(runner.invoke(app, args).stdout)
    again = json.loads(runner.invoke(app, args).stdout)
    assert (first["rows"], first["stored"], first["already_loaded"]) == (2, 2, False)
    assert first["metrics"] == {"converted": 1, "revenue": 1}
    assert first["first_ts"] == "2024-05-01T12:00:00+00:00"
    assert (again["stored"], again["already_loaded"]) == (0, True)
    assert count(tmp_path / "ev", "outcomes") == 2


def test_a_bad_file_exits_2_naming_the_column_and_writes_nothing(app, tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("ts,unit_id,metric,value\n2024-05-01,u1,converted,yes\n")
    result = runner.invoke(app, ["outcomes", "load", str(path), "--events", str(tmp_path / "ev")])
    assert result.exit_code == 2
    assert "refused, nothing was loaded (1 problem(s))" in result.stderr
    assert "column 'value', line 2: 'yes' is not a number" in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "ev").exists()


def test_an_event_store_must_be_named_once(app, tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text(GOOD)
    neither = runner.invoke(app, ["outcomes", "load", str(path)])
    both = runner.invoke(
        app, ["outcomes", "load", str(path), "--events", "ev", "--db", "postgresql://h/db"]
    )
    assert (neither.exit_code, both.exit_code) == (2, 2)
    assert "--events FOLDER (Parquet) or --events postgresql" in _plain(neither.stderr)
    assert "give one event store, not both" in _plain(both.stderr)


def test_an_unreachable_database_exits_2_with_the_fix(app, tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text(GOOD)
    result = runner.invoke(
        app, ["outcomes", "load", str(path), "--db", "postgresql://me:secret@127.0.0.1:1/events"]
    )
    assert result.exit_code == 2
    assert "event store postgresql+psycopg://me:***@127.0.0.1:1/events is unavailable" in (
        result.stderr
    )
    assert "secret" not in result.output


def test_outcomes_load_into_postgresql(app, tmp_path, postgres_url):
    path = tmp_path / "labels.csv"
    path.write_text(GOOD)
    result = runner.invoke(app, ["outcomes", "load", str(path), "--db", postgres_url, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["stored"] == 2
