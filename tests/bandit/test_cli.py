"""``champion bandit update|report`` on a real SQLite registry: the refusals a user can run
into (exit 2, one line naming the field and the fix), and what an empty event folder gives."""

from __future__ import annotations

import json
import textwrap

import pytest
from typer.testing import CliRunner

from champion.cli import app
from champion.registry import Registry
from champion.spec import parse_spec

SPEC = textwrap.dedent("""\
    name: {name}
    models:
      a: {{kind: python, target: "m:a"}}
      b: {{kind: python, target: "m:b"}}
    champion: a
    challengers: [b]
    allocation: {{a: 0.5, b: 0.5}}
    metrics:
      primary: {{name: converted, kind: proportion}}
    """)


@pytest.fixture
def setup(tmp_path):
    db = f"sqlite:///{tmp_path / 'registry.db'}"
    events = tmp_path / "events"
    events.mkdir()
    with Registry(db) as registry:
        for name, block in (("race", "bandit: {reward: converted}\n"), ("plain", "")):
            registry.create(parse_spec(SPEC.format(name=name) + block), by="test")
            registry.start(name, by="test")
    return db, str(events)


def _run(*args: str):
    return CliRunner().invoke(app, ["bandit", *args])


@pytest.mark.parametrize(
    ("name", "events", "message"),
    [
        ("plain", None, "name='plain' is invalid: is not a bandit: its spec has no 'bandit'"),
        ("nope", None, "no experiment named 'nope'"),
        ("race", "postgresql://h/db", "event store postgresql://h/db cannot be read"),
        ("race", "/no/such/folder", "does not exist: give the event folder"),
    ],
)
@pytest.mark.parametrize("command", ["update", "report"])
def test_a_bad_name_or_event_store_exits_2_with_one_line(setup, command, name, events, message):
    db, folder = setup
    done = _run(command, name, "--registry", db, "--events", events or folder)
    assert done.exit_code == 2, done.output
    assert message in done.output
    assert "Traceback" not in done.output


def test_a_dry_run_without_rewards_gives_uniform_weights_and_publishes_nothing(setup):
    db, folder = setup
    with Registry(db) as registry:
        before = registry.get("race").version
    done = _run("update", "race", "--registry", db, "--events", folder, "--dry-run", "--json")
    assert done.exit_code == 0, done.output
    out = json.loads(done.output)
    assert out["weights"] == {"a": 0.5, "b": 0.5}
    assert out["version"] is None
    with Registry(db) as registry:
        assert registry.get("race").version == before


def test_a_report_without_closed_windows_says_it_is_empty_and_how_to_decide(setup):
    db, folder = setup
    done = _run("report", "race", "--registry", db, "--events", folder, "--json")
    assert done.exit_code == 0, done.output
    out = json.loads(done.output)
    assert (out["status"], out["units"]) == ("empty", 0)
    assert "bandit_vs_holdout" in out["launch_decision"]
