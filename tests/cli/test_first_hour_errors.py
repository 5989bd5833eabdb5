"""Every error a user can cause ends in one readable line and exit 2: user text is never
read as rich markup, a taken port says so, a model that cannot load fails ``validate`` with
its line, and an outcome file's problems are all listed in one pass."""

from __future__ import annotations

import json
import shutil
import socket
import sys
from pathlib import Path

import pytest
from tests.cli._first_hour import invoke, one_line

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SPEC = EXAMPLES / "fraud-detector.yaml"


@pytest.fixture
def example(tmp_path) -> Path:
    """The README's example spec and its models, copied to a fresh folder."""
    shutil.copy(SPEC, tmp_path / "spec.yaml")
    shutil.copy(EXAMPLES / "fraud_models.py", tmp_path / "fraud_models.py")
    return tmp_path / "spec.yaml"


def _edit(path: Path, old: str, new: str) -> Path:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def _line_of(path: Path, needle: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, start=1) if needle in line)


@pytest.fixture(autouse=True)
def _gateway_env(monkeypatch):
    """``champion serve`` exports its settings to the environment; restore it afterwards."""
    for key in ("CHAMPION_SPECS", "CHAMPION_MODELS_DIR", "CHAMPION_DB", "CHAMPION_EVENTS",
                "CHAMPION_EVENTS_SYNC", "CHAMPION_REGISTRY"):  # fmt: skip
        monkeypatch.setenv(key, "")
        monkeypatch.delenv(key)


def test_a_value_holding_markup_is_printed_as_written_not_a_traceback(example):
    _edit(example, "name: fraud-detector-v2", 'name: "x[/b]y"')
    result = invoke("validate", str(example), "--no-load")
    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "'x[/b]y'" in result.stderr


def test_a_spec_error_keeps_the_brackets_of_the_values_it_quotes(example):
    """Rich markup once ate "[v2_0]" out of spec errors: the quoted names stay as written."""
    _edit(example, "allocation: {v1_3: 0.95, v2_0: 0.05}",
          'allocation: {v1_3: 0.95, "[v2_0]": 0.05}')  # fmt: skip
    result = invoke("validate", str(example), "--no-load")
    assert result.exit_code == 2
    text = one_line(result.stderr)
    assert "names ['[v2_0]'], which are not variants" in text
    assert "gives no share to ['v2_0']" in text


def test_a_missing_model_file_fails_validate_with_the_spec_line(example):
    _edit(example, '{kind: python, target: "fraud_models:score_v2_0"}',
          '{kind: sklearn, target: "v2_0.joblib"}')  # fmt: skip
    line = _line_of(example, "v2_0.joblib")
    result = invoke("validate", str(example))
    assert result.exit_code == 2
    text = one_line(result.stderr)
    assert f"models.v2_0.target ({example}:{line})" in text
    assert "file not found" in text
    assert "v2_0.joblib" in text


def _missing_model(example: Path) -> int:
    """The example with v2_0 served from a model file that does not exist; its line."""
    _edit(example, '{kind: python, target: "fraud_models:score_v2_0"}',
          '{kind: sklearn, target: "v2_0.joblib"}')  # fmt: skip
    return _line_of(example, "v2_0.joblib")


def _experiments(registry: Path) -> list[str]:
    result = invoke("experiment", "list", "--json", "--registry", str(registry))
    assert result.exit_code == 0, result.output
    return [e["name"] for e in json.loads(result.stdout)]


def test_create_refuses_a_spec_whose_model_file_is_missing(example):
    line = _missing_model(example)
    registry = example.parent / "champion.db"
    result = invoke("experiment", "create", "-f", str(example), "--registry", str(registry))
    assert result.exit_code == 2
    text = one_line(result.stderr)
    assert f"models.v2_0.target ({example}:{line}): model 'v2_0' cannot be served" in text
    assert f"file not found: {example.parent / 'v2_0.joblib'}" in text
    assert "--no-load" in text
    assert "Traceback" not in result.output
    assert _experiments(registry) == []


def test_start_refuses_a_registered_spec_whose_model_file_is_missing(example):
    _missing_model(example)
    registry = str(example.parent / "champion.db")
    created = invoke("experiment", "create", "-f", str(example), "--registry", registry,
                     "--no-load")  # fmt: skip
    assert created.exit_code == 0, created.output
    for how in ([], ["--shadow"]):
        result = invoke("experiment", "start", "fraud-detector-v2", *how, "--registry", registry,
                        "--models-dir", str(example.parent))  # fmt: skip
        assert result.exit_code == 2
        text = one_line(result.stderr)
        assert "models.v2_0.target (the spec registered as 'fraud-detector-v2')" in text
        assert f"file not found: {example.parent / 'v2_0.joblib'}" in text
        assert "--models-dir DIR" in text
        assert "--no-load" in text
    shown = invoke("experiment", "show", "fraud-detector-v2", "--registry", registry, "--json")
    assert '"state": "draft"' in shown.stdout
    forced = invoke("experiment", "start", "fraud-detector-v2", "--registry", registry,
                    "--no-load")  # fmt: skip
    assert forced.exit_code == 0, forced.output


def test_start_loads_the_models_from_models_dir_as_serve_does(example, tmp_path, monkeypatch):
    registry = str(example.parent / "champion.db")
    assert invoke("experiment", "create", "-f", str(example), "--registry", registry).exit_code == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.delitem(sys.modules, "fraud_models", raising=False)
    here = invoke("experiment", "start", "fraud-detector-v2", "--registry", registry)
    assert here.exit_code == 2
    assert f"module 'fraud_models' not found in {elsewhere}" in one_line(here.stderr)
    there = invoke("experiment", "start", "fraud-detector-v2", "--registry", registry,
                   "--models-dir", str(example.parent))  # fmt: skip
    assert there.exit_code == 0, there.output


def test_no_load_checks_the_file_only(example):
    _edit(example, '{kind: python, target: "fraud_models:score_v2_0"}',
          '{kind: sklearn, target: "v2_0.joblib"}')  # fmt: skip
    result = invoke("validate", str(example), "--no-load")
    assert result.exit_code == 0, result.output
    assert "models not loaded" in result.stdout


def test_validate_loads_and_calls_the_example_models(example):
    result = invoke("validate", str(example), "--json")
    assert result.exit_code == 0, result.output
    assert '"models_loaded": true' in result.stdout


def test_an_install_hint_keeps_its_extra(example, monkeypatch, tmp_path):
    (tmp_path / "v2_0.joblib").write_bytes(b"not read: joblib is missing")
    _edit(example, '{kind: python, target: "fraud_models:score_v2_0"}',
          '{kind: sklearn, target: "v2_0.joblib"}')  # fmt: skip
    monkeypatch.setitem(sys.modules, "joblib", None)  # as if not installed
    result = invoke("validate", str(example))
    assert result.exit_code == 2
    assert "pip install 'champion[sklearn]'" in one_line(result.stderr)


def test_a_port_in_use_is_one_line_and_exit_2(example):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = invoke("serve", "-f", str(example), "--port", str(port))
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: port {port} is in use: pick another with --port"
    assert "champion gateway on" not in result.output


def test_every_ragged_line_of_an_outcome_file_is_listed(tmp_path):
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "ts,unit_id,metric,value\n"
        "2024-05-01,u1,converted,1\n"
        "2024-05-01,u2,converted,1,extra\n"
        "2024-05-01,u3\n"
        "2024-05-01,u4,converted,1\n"
        "2024-05-01,u5,converted,1,2\n"
    )
    result = invoke("outcomes", "load", str(labels), "--events", str(tmp_path / "ev"))
    assert result.exit_code == 2
    text = one_line(result.stderr)
    assert "lines 3, 6: 5 fields where the header has 4" in text
    assert "line 4: 2 fields where the header has 4" in text
    assert not (tmp_path / "ev").exists() or not any((tmp_path / "ev").rglob("*.parquet"))


def test_bad_rows_of_every_kind_are_listed_in_one_pass(tmp_path):
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "ts,unit_id,metric,value\n"
        "2024-05-01,u1,converted,1\n"
        "not-a-time,u2,converted,1\n"
        "2024-05-01,u3,converted,abc\n"
        "2024-05-01,u4,,1\n"
        "later,u6,converted,1\n"
    )
    result = invoke("outcomes", "load", str(labels), "--events", str(tmp_path / "ev"))
    assert result.exit_code == 2
    text = one_line(result.stderr)
    assert "column 'ts', lines 3, 6" in text
    assert "column 'value', line 4" in text
    assert "column 'metric', line 5" in text


def test_an_outcome_time_out_of_range_is_a_clear_error_not_a_traceback(tmp_path):
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "ts,unit_id,metric,value\n"
        "2024-05-01,u1,converted,1\n"
        "0001-01-01T00:00:00+05:00,u2,converted,1\n"
    )
    result = invoke("outcomes", "load", str(labels), "--events", str(tmp_path / "ev"))
    assert result.exit_code == 2
    assert isinstance(result.exception, SystemExit)
    text = one_line(result.stderr)
    assert "column 'ts', line 3: '0001-01-01T00:00:00+05:00' is out of range" in text


def test_a_registry_from_the_environment_does_not_clash_with_spec_files(example, monkeypatch):
    monkeypatch.setenv("CHAMPION_REGISTRY", str(example.parent / "champion.db"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = invoke("serve", "-f", str(example), "--port", str(port))
    assert result.exit_code == 2
    assert "not both" not in result.stderr
    assert f"port {port} is in use" in result.stderr
