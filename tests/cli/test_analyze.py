"""`champion analyze` through typer's runner: outputs, the registry, and bad input (exit 2)."""

import importlib
import json
from dataclasses import replace
from datetime import timedelta

import pytest
import typer
from tests.analysis._events import make_spec, write_experiment
from tests.analysis._sim import SPEC, Sim, analysis_data
from typer.testing import CliRunner

from champion.analysis.aggregates import MetricAggregates
from champion.cli.analyze import analyze
from champion.registry import Registry
from champion.spec import dump_spec

# The module itself (champion.cli re-exports a function of the same name).
analyze_module = importlib.import_module("champion.cli.analyze")
runner = CliRunner()
NAME = "fraud-detector-v2"

app = typer.Typer()
app.command(name="analyze")(analyze)


@app.callback()
def _root() -> None:
    """Test harness: analyze under a root, as the champion command mounts it."""


@pytest.fixture
def spec_file(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC.replace("LOOKS", "5"), encoding="utf-8")
    return path


@pytest.fixture
def events(tmp_path):
    folder = tmp_path / "events"
    folder.mkdir()
    return folder


@pytest.fixture
def data():
    return analysis_data(Sim(seed=61, n=8_000, fraud_lift=0.3))


class Store:
    """Stands in for the event store: answers with ``data`` and records each call."""

    def __init__(self, data):
        self.data = data
        self.calls = []

    def load(self, target, spec, as_of):
        self.calls.append((target, spec.name, as_of))
        return self.data


@pytest.fixture
def loaded(monkeypatch, data):
    store = Store(data)
    monkeypatch.setattr(analyze_module, "load_data", store.load)
    return store


def invoke(*args: str):
    return runner.invoke(app, ["analyze", *args])


def test_json_carries_the_decision_srm_and_metrics(events, spec_file, loaded):
    result = invoke(NAME, "--events", str(events), "--spec", str(spec_file), "--json")
    assert result.exit_code == 0, result.output
    d = json.loads(result.stdout)
    assert d["decision"] in ("rollout_full", "rollout_gradual", "keep", "extend", "rollback")
    assert d["reasons"]
    assert "p_value" in d["srm"]
    entry = d["metrics"]["fraud_caught"]["challengers"]["v2_0"]
    assert {"diff", "diff_ci", "p_value"} <= set(entry)
    assert loaded.calls == [(str(events), NAME, None)]


def test_the_terminal_report_puts_health_first_and_ends_with_the_decision(
    events, spec_file, loaded
):
    result = invoke(NAME, "--events", str(events), "--spec", str(spec_file))
    assert result.exit_code == 0, result.output
    assert result.stdout.index("Health") < result.stdout.index("Decision")


def test_as_of_is_passed_on_in_utc(events, spec_file, loaded):
    result = invoke(
        NAME,
        "--events",
        str(events),
        "--spec",
        str(spec_file),
        "--json",
        "--as-of",
        "2024-03-05T12:00+02:00",
    )
    assert result.exit_code == 0, result.output
    assert loaded.calls[0][2].isoformat() == "2024-03-05T10:00:00+00:00"


def test_html_is_written_to_the_file(tmp_path, events, spec_file, loaded):
    target = tmp_path / "report.html"
    result = invoke(NAME, "--events", str(events), "--spec", str(spec_file), "--html", str(target))
    assert result.exit_code == 0, result.output
    page = target.read_text(encoding="utf-8")
    (js,) = tmp_path.glob("plotly-*.min.js")  # plotly's JavaScript, once per folder
    assert f'<script src="{js.name}"' in page
    assert "HTML report written to" in result.stdout


def test_the_spec_and_state_come_from_the_registry(tmp_path, events, spec_file, loaded):
    from champion.spec import load_spec

    url = f"sqlite:///{tmp_path / 'registry.db'}"
    with Registry(url) as registry:
        registry.create(load_spec(spec_file))
        registry.start(NAME)
    result = invoke(NAME, "--events", str(events), "--registry", url, "--json")
    assert result.exit_code == 0, result.output
    d = json.loads(result.stdout)
    assert d["state"]["state"] == "running"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--spec", "SPEC"], "say where the events live"),
        (["--events", "EVENTS", "--db", "postgresql://x/y", "--spec", "SPEC"], "not both"),
        (["--events", "EVENTS"], "say where the spec is"),
        (["--events", "MISSING", "--spec", "SPEC"], "does not exist: give the event folder"),
        (["--events", "EVENTS", "--spec", "SPEC", "--as-of", "yesterday"], "ISO 8601"),
        (["--events", "EVENTS", "--spec", "SPEC", "--html", "NOFOLDER/r.html"], "does not exist"),
    ],
)
def test_bad_options_exit_2_with_a_message(args, message, tmp_path, events, spec_file, loaded):
    paths = {
        "SPEC": str(spec_file),
        "EVENTS": str(events),
        "MISSING": str(tmp_path / "none"),
        "NOFOLDER/r.html": str(tmp_path / "none" / "r.html"),
    }
    result = invoke(NAME, *[paths.get(a, a) for a in args])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_a_spec_for_another_experiment_is_refused(events, spec_file, loaded):
    result = invoke("other-experiment", "--events", str(events), "--spec", str(spec_file))
    assert result.exit_code == 2
    assert "describes experiment 'fraud-detector-v2', not 'other-experiment'" in result.stderr


def test_an_experiment_unknown_to_the_registry_exits_2(tmp_path, events, loaded):
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    result = invoke("nobody", "--events", str(events), "--registry", url)
    assert result.exit_code == 2
    assert "no experiment named 'nobody'" in result.stderr


def test_no_exposures_exit_2_with_a_message(events, spec_file, loaded, data):
    loaded.data = replace(data, health=replace(data.health, exposed_units=0, analysed_units=0))
    result = invoke(NAME, "--events", str(events), "--spec", str(spec_file), "--json")
    assert result.exit_code == 2
    assert "no exposures for experiment 'fraud-detector-v2'" in result.stderr
    assert result.stdout == ""


def test_a_metric_without_outcomes_prints_the_report_then_exits_2(events, spec_file, loaded, data):
    outcomes = {**data.health.outcomes, "false_positive": 0}
    loaded.data = replace(data, health=replace(data.health, outcomes=outcomes))
    result = invoke(NAME, "--events", str(events), "--spec", str(spec_file), "--json")
    assert result.exit_code == 2
    assert json.loads(result.stdout)["metrics"]["false_positive"]["status"] == "no_outcomes"
    assert "no outcomes for false_positive" in result.stderr


def test_a_metric_missing_from_the_data_exits_2(events, spec_file, loaded, data):
    metrics = {k: v for k, v in data.metrics.items() if k != "review_minutes"}
    loaded.data = replace(data, metrics=metrics)
    result = invoke(NAME, "--events", str(events), "--spec", str(spec_file))
    assert result.exit_code == 2
    assert "metric='review_minutes' is invalid: is not in the analysed data" in result.stderr


def test_a_store_failure_is_one_line_and_exit_2(monkeypatch, events, spec_file):
    def broken(target, spec, as_of):
        raise analyze_module.InvalidArgument("--events/--db", target, "cannot read the events")

    monkeypatch.setattr(analyze_module, "load_data", broken)
    result = invoke(NAME, "--db", "postgresql://nobody@127.0.0.1:1/none", "--spec", str(spec_file))
    assert result.exit_code == 2
    assert "cannot read the events" in result.stderr
    assert "Traceback" not in result.output


def test_a_broken_database_url_through_the_real_store_exits_2(spec_file):
    pytest.importorskip("champion.analysis.aggregate")
    result = invoke(NAME, "--db", "postgresql://nobody@127.0.0.1:1/none", "--spec", str(spec_file))
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "127.0.0.1" in result.stderr


def test_an_empty_metric_table_is_a_status_not_a_crash(events, spec_file, loaded, data):
    metrics = {**data.metrics, "review_minutes": MetricAggregates("review_minutes", "mean", ())}
    loaded.data = replace(data, metrics=metrics)
    result = invoke(NAME, "--events", str(events), "--spec", str(spec_file), "--json")
    assert "Traceback" not in result.output
    d = json.loads(result.stdout)
    assert d["metrics"]["review_minutes"]["status"] in ("empty_arm", "no_outcomes")


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    """A small experiment logged through the real event writer, and its spec on disk."""
    root = tmp_path_factory.mktemp("logged")
    spec = make_spec(design={"mde": 0.2, "relative": True, "baseline": 0.1, "looks": 3})
    truth = write_experiment(root / "events", spec, units=3_000, lift={"converted": 0.3}, seed=5)
    (root / "spec.yaml").write_text(dump_spec(spec), encoding="utf-8")
    return root, spec, truth


def test_a_logged_experiment_reads_out_through_the_real_store(logged):
    root, spec, truth = logged
    result = invoke(
        spec.name,
        "--events",
        str(root / "events"),
        "--spec",
        str(root / "spec.yaml"),
        "--json",
        "--as-of",
        (truth.end + timedelta(days=60)).isoformat(),  # every metric's window has closed
    )
    assert result.exit_code == 0, result.output
    d = json.loads(result.stdout)
    assert d["health"]["exposed_units"] == sum(truth.units.values())
    assert set(d["metrics"]) == {"converted", "revenue", "spend_per_visit", "load_seconds"}
    for name, metric in d["metrics"].items():
        entry = metric["challengers"]["v2"]
        assert entry["status"] == "ok", name
        lo, hi = entry["diff_ci"]
        assert lo < entry["diff"] < hi
    assert d["metrics"]["revenue"]["challengers"]["v2"]["cuped"]["variance_reduction"] > 0
    assert d["metrics"]["converted"]["challengers"]["v2"]["sequential"]["looks"] == 3


def test_an_experiment_without_exposures_in_the_real_store_exits_2(logged):
    root, _, _ = logged
    other = root / "other.yaml"
    other.write_text(
        (root / "spec.yaml").read_text(encoding="utf-8").replace("checkout-v2", "nobody-here"),
        encoding="utf-8",
    )
    result = invoke("nobody-here", "--events", str(root / "events"), "--spec", str(other))
    assert result.exit_code == 2
    assert "nobody-here" in result.stderr
    assert "Traceback" not in result.output
