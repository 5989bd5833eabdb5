"""`champion plan` through typer's runner and once as the installed console script."""

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from statsmodels.stats.power import normal_sample_size_one_tail
from typer.testing import CliRunner

from champion.cli import app

runner = CliRunner()


def test_plan_json_has_the_contract_fields():
    result = runner.invoke(app, ["plan", "--baseline", "0.05", "--mde", "0.01", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {k: data[k] for k in ("n_control", "n_treatment", "total", "days")} == {
        "n_control": 8155,
        "n_treatment": 8155,
        "total": 16310,
        "days": None,
    }


def test_plan_days_and_ratio_and_one_sided():
    args = ["plan", "--baseline", "0.05", "--mde", "0.01", "--ratio", "0.5", "--one-sided",
            "--daily-units", "1000", "--json"]  # fmt: skip
    data = json.loads(runner.invoke(app, args).stdout)
    p1, p2, ratio = 0.05, 0.06, 0.5
    oracle = normal_sample_size_one_tail(
        0.01, 0.8, 0.05, std_null=math.sqrt(p1 * (1 - p1) + p2 * (1 - p2) / ratio)
    )
    assert data["n_control"] == math.ceil(oracle) == 9911
    assert data["n_treatment"] == math.ceil(oracle * ratio)
    assert data["days"] == 15
    assert data["design"]["alternative"] == "larger"


def test_plan_relative_mde():
    data = json.loads(
        runner.invoke(
            app, ["plan", "--baseline", "0.05", "--mde", "0.2", "--relative", "--json"]
        ).stdout
    )
    assert data["n_control"] == 8155


def test_plan_from_spec_reads_design_and_allocation(fraud_spec):
    result = runner.invoke(
        app, ["plan", "--spec", str(fraud_spec), "--daily-units", "20000", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["fixed_horizon"] == {"n_control": 95765, "n_treatment": 5041, "total": 100806}
    assert data["n_treatment"] == 10_000  # the spec's min_sample_size per arm
    assert data["days"] == 10


def test_plan_table_shows_the_trade_off():
    result = runner.invoke(app, ["plan", "--baseline", "0.05", "--mde", "0.01"])
    assert result.exit_code == 0
    for number in ("31,231", "8,155", "3,778", "2,210", "1,057", "432"):
        assert number in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--baseline", "1.5", "--mde", "0.01"], "baseline=1.5 is invalid"),
        (["--baseline", "0.05", "--mde", "0.01", "--alpha", "2"], "alpha=2.0 is invalid"),
        (["--mde", "0.01"], "--baseline required"),
        (["--spec", "does-not-exist.yaml"], "file not found"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message):
    result = runner.invoke(app, ["plan", *args])
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_console_script_runs():
    beside = Path(sys.executable).with_name("champion")
    exe = str(beside) if beside.exists() else shutil.which("champion")
    if exe is None:
        pytest.fail("the champion console script is not installed (pip install -e .)")
    done = subprocess.run(
        [exe, "plan", "--baseline", "0.12", "--mde", "0.02", "--json"],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    assert json.loads(done.stdout)["n_control"] == 4435
