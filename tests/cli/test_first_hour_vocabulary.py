"""One vocabulary: ``--registry`` is experiment state, ``--events`` the event store, in every
command; the old ``--db`` keeps working with a warning; ``champion --version``."""

from __future__ import annotations

import json

import pytest
from tests.analysis._events import make_spec, write_experiment
from tests.cli._first_hour import invoke, one_line, registered

from champion import __version__
from champion.spec import dump_spec

NAME = "checkout-v2"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for key in ("CHAMPION_DB", "CHAMPION_REGISTRY", "CHAMPION_EVENTS"):
        monkeypatch.delenv(key, raising=False)


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def logged(folder):
    spec = make_spec()
    _, registry = registered(spec, folder)
    events = folder / "events"
    write_experiment(events, spec, units=400, seed=3)
    return registry, events


def test_version_prints_the_package_version():
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"champion {__version__}"


def test_the_registry_env_var_names_the_registry_for_experiment_commands(folder):
    spec_file = folder / "spec.yaml"
    spec_file.write_text(dump_spec(make_spec()), encoding="utf-8")
    env = {"CHAMPION_REGISTRY": str(folder / "elsewhere.db")}
    created = invoke("experiment", "create", "-f", str(spec_file), "--no-load", env=env)
    assert created.exit_code == 0, created.output
    listed = invoke("experiment", "list", "--json", env=env)
    assert listed.exit_code == 0, listed.output
    assert [e["name"] for e in json.loads(listed.stdout)] == [NAME]
    assert not (folder / "champion.db").exists()


def test_the_old_db_spelling_still_names_the_registry_with_a_warning(folder):
    _, registry = registered(make_spec(), folder)
    result = invoke("experiment", "list", "--db", str(registry), "--json")
    assert result.exit_code == 0, result.output
    assert [e["name"] for e in json.loads(result.stdout)] == [NAME]
    assert "--db is deprecated here: use --registry" in result.stderr


def test_assign_takes_the_registry_flag(folder):
    _, registry = registered(make_spec(), folder)
    result = invoke("assign", NAME, "--unit", "u1", "--registry", str(registry), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["variant"] in ("v1", "v2")


def test_analyze_finds_champion_db_by_default_and_the_events_from_the_env(logged):
    _, events = logged
    result = invoke("analyze", NAME, "--json", env={"CHAMPION_EVENTS": str(events)})
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["experiment"] == NAME


def test_analyze_with_the_registry_given_as_db_says_which_flag_to_use(logged):
    result = invoke("analyze", NAME, "--db", "champion.db")
    assert result.exit_code == 2
    text = one_line(result.output)
    assert "looks like the registry" in text
    assert "--registry champion.db" in text
    assert "say where the spec is" not in text


def test_analyze_still_reads_events_given_with_the_old_db_spelling(logged):
    _, events = logged
    result = invoke("analyze", NAME, "--db", str(events), "--json")
    assert result.exit_code == 0, result.output
    assert "--db is deprecated here: use --events" in result.stderr


def test_outcomes_load_with_the_registry_as_db_says_which_flag_to_use(logged, folder):
    labels = folder / "labels.csv"
    labels.write_text("ts,unit_id,metric,value\n2024-05-02T00:00:00Z,u1,converted,1\n")
    result = invoke("outcomes", "load", str(labels), "--db", "champion.db")
    assert result.exit_code == 2
    assert "looks like the registry" in one_line(result.output)
    assert "must be a database URL" not in one_line(result.output)


def test_outcomes_load_takes_the_events_folder_from_the_env(folder):
    labels = folder / "labels.csv"
    labels.write_text("ts,unit_id,metric,value\n2024-05-02T00:00:00Z,u1,converted,1\n")
    result = invoke(
        "outcomes", "load", str(labels), "--json", env={"CHAMPION_EVENTS": str(folder / "ev")}
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["rows"] == 1


@pytest.mark.parametrize("command", [["analyze"], ["outcomes", "load"], ["experiment", "list"]])
def test_help_shows_flags_without_a_type_placeholder(command):
    result = invoke(*command, "--help")
    assert result.exit_code == 0
    assert "<bool>" not in result.stdout
    assert "--json" in result.stdout


@pytest.mark.parametrize(
    "command",
    [["analyze", "x"], ["serve"], ["assign", "x"], ["monitor"], ["shadow-report", "x"],
     ["outcomes", "load", "f"], ["experiment", "list"], ["rollout", "status", "x"]],
)  # fmt: skip
def test_every_command_spells_the_stores_the_same_way(command):
    text = invoke(*command, "--help").stdout
    if command[0] not in ("shadow-report", "outcomes"):
        assert "--registry" in text
        assert "CHAMPION_REGISTRY" in text
    if command[0] not in ("assign", "experiment", "rollout"):
        assert "--events" in text
        assert "CHAMPION_EVENTS" in text


def test_assign_says_one_thing_about_its_units_file():
    text = one_line(invoke("assign", "--help").stdout)
    assert "one JSON object a line)" not in text.split("--units")[0]
    assert "one id a line" in text
    assert "A file of unit ids, one a line; prints JSON lines." in text
