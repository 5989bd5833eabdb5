"""`champion validate`: a valid spec prints its plan; a bad one lists problems and exits 2."""

import json

from typer.testing import CliRunner

from champion.cli import app

runner = CliRunner()


def test_validate_prints_the_plan_next_to_the_spec(fraud_spec):
    result = runner.invoke(app, ["validate", str(fraud_spec), "--daily-units", "20000"])
    assert result.exit_code == 0, result.output
    assert "fraud-detector-v2" in result.stdout
    assert "200,000 units" in result.stdout
    assert "10 days" in result.stdout


def test_validate_json(fraud_spec):
    data = json.loads(runner.invoke(app, ["validate", str(fraud_spec), "--json"]).stdout)
    assert data["valid"] is True
    assert data["plan"]["fixed_horizon"]["n_treatment"] == 5041


def test_validate_lists_every_problem_and_exits_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: x\nmodels: {a: {kind: python, target: 'm:f'}}\nchampion: a\n"
        "challengers: [b]\nallocation: {a: 0.5, b: 0.6}\nmetrics: {primary: {name: m}}\n"
        "colour: red\n"
    )
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 2
    assert "3 problem(s)" in result.stderr
    assert "colour" in result.stderr
    assert "'b' is not declared under models" in result.stderr
    assert "sum to 1.1" in result.stderr
    assert "Traceback" not in result.output


def test_validate_missing_file_exits_2(tmp_path):
    result = runner.invoke(app, ["validate", str(tmp_path / "none.yaml")])
    assert result.exit_code == 2
    assert "file not found" in result.stderr
