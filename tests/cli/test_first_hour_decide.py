"""``champion decide apply``: the read-out's decision applied for the right challenger, one
rollout stage at a time, holding each stage ``min_stage_hours`` unless forced with a reason;
``experiment ramp`` warns when it skips or reverses a stage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.analysis._events import make_spec, write_experiment
from tests.cli._first_hour import invoke, one_line

from champion.registry import Registry
from champion.spec import dump_spec

NAME = "checkout-v2"
MODELS = {v: {"kind": "python", "target": "models:score"} for v in ("v1", "v2", "v3")}


def _spec(stages, hours):
    return make_spec(
        models=MODELS, challengers=["v2", "v3"], allocation={"v1": 0.8, "v2": 0.1, "v3": 0.1},
        rollout={"stages": stages, "min_stage_hours": hours},
    )  # fmt: skip


@pytest.fixture(scope="module")
def events(tmp_path_factory) -> Path:
    """v3 converts at 16% against 10% for v1 and v2: the read-out picks v3, not the first."""
    folder = tmp_path_factory.mktemp("decide") / "events"
    values = {"converted": {"v1": 0.10, "v2": 0.10, "v3": 0.16}}
    write_experiment(folder, _spec([10, 25, 50, 100], 24), units=30_000, values=values, seed=2)
    return folder


@pytest.fixture(autouse=True)
def _env(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for key in ("CHAMPION_DB", "CHAMPION_REGISTRY", "CHAMPION_EVENTS"):
        monkeypatch.delenv(key, raising=False)


def _running(tmp_path, stages=(10, 25, 50, 100), hours=24.0) -> str:
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(dump_spec(_spec(list(stages), hours)), encoding="utf-8")
    registry = str(tmp_path / "champion.db")
    for args in (["create", "-f", str(spec_file)], ["start", NAME]):  # no models to load
        result = invoke("experiment", *args, "--registry", registry, "--no-load")
        assert result.exit_code == 0, result.output
    return registry


def _apply(registry, events, *extra):
    return invoke("decide", "apply", NAME, "--events", str(events), "--registry", registry,
                  *extra)  # fmt: skip


def _state(registry):
    with Registry(registry) as r:
        return r.get(NAME), r.history(NAME)


def test_the_readout_picks_v3(tmp_path, events):
    """The oracle for the tests below: the read-out itself, as analyze prints it."""
    registry = _running(tmp_path)
    result = invoke("analyze", NAME, "--events", str(events), "--registry", registry, "--json")
    assert result.exit_code == 0, result.output
    decision = json.loads(result.stdout)
    assert (decision["decision"], decision["decision_variant"]) == ("rollout_full", "v3")


def test_a_stage_held_less_than_min_stage_hours_is_refused(tmp_path, events):
    registry = _running(tmp_path)
    result = _apply(registry, events)
    assert result.exit_code == 2
    text = one_line(result.stderr)
    assert "ramp v3 from 10% to the next stage, 25%: refused" in text
    assert "rollout.min_stage_hours" in text
    assert "--force --reason" in text
    state, _ = _state(registry)
    assert state.version == 2


def test_force_needs_a_reason(tmp_path, events):
    registry = _running(tmp_path)
    result = _apply(registry, events, "--force")
    assert result.exit_code == 2
    assert "--force needs --reason" in result.stderr


def test_force_with_a_reason_ramps_the_winner_to_the_next_stage(tmp_path, events):
    registry = _running(tmp_path)
    result = _apply(registry, events, "--force", "--reason", "launch review signed off", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert (out["action"], out["variant"], out["to_percent"], out["applied"]) == (
        "ramp", "v3", 25, True)  # fmt: skip
    state, history = _state(registry)
    assert state.allocation == pytest.approx({"v1": 0.65, "v2": 0.10, "v3": 0.25})
    assert history[-1].action == "ramp"
    assert "launch review signed off" in history[-1].reason
    assert history[-1].reason.startswith("decide apply: rollout_full (v3)")


def test_dry_run_says_what_it_would_do_and_changes_nothing(tmp_path, events):
    registry = _running(tmp_path)
    result = _apply(registry, events, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "would ramp v3 from 10% to the next stage, 25%" in one_line(result.stdout)
    assert "needs --force --reason" in one_line(result.stdout)
    state, _ = _state(registry)
    assert state.version == 2


def test_each_apply_moves_one_stage_and_the_last_promotes_the_winner(tmp_path, events):
    registry = _running(tmp_path, stages=(10, 25, 50, 100), hours=0)
    seen = []
    for _ in range(3):
        result = _apply(registry, events, "--json")
        assert result.exit_code == 0, result.output
        out = json.loads(result.stdout)
        seen.append((out["action"], out["to_percent"]))
    assert seen == [("ramp", 25), ("ramp", 50), ("promote", 100)]
    state, _ = _state(registry)
    assert state.allocation == {"v1": 0.0, "v2": 0.0, "v3": 1.0}
    assert state.state.value not in ("running", "paused")


def test_experiment_ramp_warns_when_it_skips_a_stage(tmp_path):
    registry = _running(tmp_path, hours=0)
    result = invoke("experiment", "ramp", NAME, "--to", "50", "--registry", registry)
    assert result.exit_code == 0, result.output
    assert "ramping v2 from 10% to 50% skips the stage(s) 25%" in one_line(result.stderr)


def test_experiment_ramp_warns_when_it_reverses_and_before_min_stage_hours(tmp_path):
    registry = _running(tmp_path, hours=24)
    up = invoke("experiment", "ramp", NAME, "--to", "25", "--registry", registry)
    assert up.exit_code == 0, up.output
    assert "of the 24 h the spec holds each stage" in one_line(up.stderr)
    down = invoke("experiment", "ramp", NAME, "--to", "10", "--registry", registry)
    assert down.exit_code == 0, down.output
    assert "from 25% down to 10% reverses the rollout" in one_line(down.stderr)


def test_a_ramp_along_the_plan_says_nothing(tmp_path):
    registry = _running(tmp_path, hours=0)
    result = invoke("experiment", "ramp", NAME, "--to", "25", "--registry", registry)
    assert result.exit_code == 0, result.output
    assert "warning" not in result.stderr


def test_the_audit_log_names_the_login_without_user_in_the_environment(tmp_path, monkeypatch):
    import getpass

    registry = _running(tmp_path, hours=0)
    monkeypatch.delenv("USER", raising=False)
    expected = getpass.getuser()  # the oracle: the account's name, found without $USER
    result = invoke("experiment", "ramp", NAME, "--to", "25", "--registry", registry)
    assert result.exit_code == 0, result.output
    _, history = _state(registry)
    assert history[-1].by == expected != "unknown"
