"""Outcome metric names are checked against the registered experiments: an unknown name is
loaded with a warning naming the close match; ``--strict`` refuses the file."""

from __future__ import annotations

import json

import pytest
from tests.analysis._events import make_spec
from tests.cli._first_hour import invoke, one_line, registered

ROWS = "ts,unit_id,metric,value\n"


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for key in ("CHAMPION_DB", "CHAMPION_REGISTRY", "CHAMPION_EVENTS"):
        monkeypatch.delenv(key, raising=False)
    registered(make_spec(), tmp_path)  # champion.db here: converted, revenue, spend/visits...
    return tmp_path


def _file(folder, *lines: str):
    path = folder / "labels.csv"
    path.write_text(ROWS + "".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


def _stored(folder) -> int:
    return len(list((folder / "events").rglob("*.parquet")))


def test_a_misspelled_metric_is_loaded_with_a_warning_naming_the_close_match(folder):
    path = _file(folder, "2024-05-02,u1,convertd,1", "2024-05-02,u2,convertd,0",
                 "2024-05-02,u3,revenue,9.5")  # fmt: skip
    result = invoke("outcomes", "load", str(path), "--events", "events", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["rows"] == 3
    text = one_line(result.stderr)
    assert "metric 'convertd' (2 rows) is read by no registered experiment" in text
    assert "did you mean 'converted'?" in text
    assert "revenue" not in text
    assert _stored(folder) > 0


def test_strict_refuses_the_file_and_stores_nothing(folder):
    path = _file(folder, "2024-05-02,u1,convertd,1", "2024-05-02,u3,revenue,9.5")
    result = invoke("outcomes", "load", str(path), "--events", "events", "--strict")
    assert result.exit_code == 2
    text = one_line(result.stderr)
    assert text.startswith("error: refused (--strict), nothing was loaded")
    assert "did you mean 'converted'?" in text
    assert _stored(folder) == 0


def test_the_outcome_names_of_ratio_metrics_and_covariates_are_known(folder):
    path = _file(folder, "2024-05-02,u1,spend,3", "2024-05-02,u1,visits,1",
                 "2024-05-02,u1,load_seconds,1.2", "2024-05-02,u2,converted,1")  # fmt: skip
    result = invoke("outcomes", "load", str(path), "--events", "events", "--strict")
    assert result.exit_code == 0, result.output
    assert "warning" not in result.stderr


def test_strict_without_a_registry_says_what_it_needs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CHAMPION_REGISTRY", raising=False)
    monkeypatch.delenv("CHAMPION_DB", raising=False)
    path = _file(tmp_path, "2024-05-02,u1,converted,1")
    result = invoke("outcomes", "load", str(path), "--events", "events", "--strict")
    assert result.exit_code == 2
    assert "give --registry URL|PATH" in one_line(result.stderr)
