"""`champion assign`: one unit or a file of units, from the registry or a spec file."""

import json

import pytest
from typer.testing import CliRunner

from champion.assign import Assigner
from champion.cli import app
from champion.registry import Registry
from champion.spec import load_spec

runner = CliRunner()


@pytest.fixture
def registry_url(tmp_path, fraud_spec):
    url = f"sqlite:///{tmp_path / 'reg.db'}"
    with Registry(url) as registry:
        registry.create(load_spec(fraud_spec))
        registry.start("fraud-detector-v2")
        registry.ramp("fraud-detector-v2", 50)
    return url


def test_units_file_prints_one_json_object_a_line_matching_the_assigner(registry_url, tmp_path,
                                                                         fraud_spec):  # fmt: skip
    ids = [f"user-{i}" for i in range(200)]
    units = tmp_path / "ids.txt"
    units.write_text("\n".join(ids) + "\n\n")
    result = runner.invoke(app, ["assign", "fraud-detector-v2", "--units", str(units),
                                 "--registry", registry_url])  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    oracle = Assigner.from_spec(load_spec(fraud_spec), allocation={"v1_3": 0.5, "v2_0": 0.5})
    assert [r["unit"] for r in rows] == ids
    for row in rows:
        expected = oracle.assign(row["unit"])
        assert (row["variant"], row["bucket"]) == (expected.variant, expected.bucket)
    assert {r["variant"] for r in rows} == {"v1_3", "v2_0"}


def test_one_unit_as_json(registry_url):
    result = runner.invoke(app, ["assign", "fraud-detector-v2", "--unit", "user-42", "--registry",
                                 registry_url, "--json"])  # fmt: skip
    data = json.loads(result.stdout)
    assert {"unit", "variant", "bucket"} <= set(data)
    assert data["unit"] == "user-42"


def test_a_stopped_experiment_assigns_the_champion_and_counts_nobody(registry_url):
    with Registry(registry_url) as registry:
        registry.stop("fraud-detector-v2", reason="test")
    args = ["assign", "fraud-detector-v2", "--unit", "u1", "--registry", registry_url, "--json"]
    data = json.loads(runner.invoke(app, args).stdout)
    assert (data["variant"], data["exposed"], data["state"]) == ("v1_3", False, "stopped")


def test_from_a_spec_file(fraud_spec):
    result = runner.invoke(app, ["assign", "fraud-detector-v2", "--unit", "user-42", "-f",
                                 str(fraud_spec), "--json"])  # fmt: skip
    assert json.loads(result.stdout)["bucket"] == 2101  # docs/assignment.md's worked example


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope", "--unit", "x"], "no experiment named 'nope'"),
        (["fraud-detector-v2"], "exactly one of --unit ID or --units FILE"),
        (["fraud-detector-v2", "--units", "/no/such/file"], "cannot read it"),
        (["fraud-detector-v2", "--unit", "x", "--attr", "country"], "key=value"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(registry_url, args, message):
    result = runner.invoke(app, ["assign", *args, "--registry", registry_url])
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_a_database_that_does_not_connect_is_a_clear_error():
    result = runner.invoke(app, ["assign", "x", "--unit", "u", "--registry",
                                 "postgresql://nobody@127.0.0.1:1/none"])  # fmt: skip
    assert result.exit_code == 2
    assert "127.0.0.1:1" in result.stderr
    assert "Traceback" not in result.output
