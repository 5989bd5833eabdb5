"""The Registry on SQLite and PostgreSQL: lifecycle, versions, audit log, stored spec, errors."""

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from champion.errors import (
    ExperimentExists,
    ExperimentNotFound,
    InvalidArgument,
    InvalidTransition,
    SpecError,
    StaleVersion,
)
from champion.registry import Registry, State
from champion.spec import load_spec, parse_spec


def test_create_registers_a_draft_at_version_1_serving_only_the_champion(registry, spec):
    state = registry.create(spec, by="alice", reason="first try")
    assert (state.name, state.state, state.version) == ("fraud-detector-v2", State.DRAFT, 1)
    assert state.allocation == {"v1_3": 1.0, "v2_0": 0.0}
    assert state.stage is None
    assert state.updated_by == "alice"
    assert registry.get(spec.name) == state


def test_stored_spec_rebuilds_the_loaded_spec(registry, fraud_spec):
    loaded = load_spec(fraud_spec)
    registry.create(loaded)
    assert registry.spec(loaded.name) == loaded
    assert registry.get(loaded.name).spec == loaded


def test_stored_spec_round_trips_every_optional_block(sqlite_registry, fraud_spec):
    registry = sqlite_registry
    text = fraud_spec.read_text() + (
        "targeting: [{attribute: country, op: in, value: [FR, DE]}]\n"
        "overrides: {'42': v2_0}\n"
        "holdout: {share: 0.05}\n"
        "layer: {name: checkout, start: 0.0, end: 0.5}\n"
        "salt: fraud-2026\n"
    )
    spec = parse_spec(text, "full.yaml")
    registry.create(spec)
    assert registry.spec(spec.name) == parse_spec(text, "again.yaml")


def test_full_lifecycle_writes_one_version_and_one_log_row_per_change(registry, spec):
    name = spec.name
    registry.create(spec, by="alice", reason="plan approved")
    registry.start(name, shadow=True, by="alice")
    registry.start(name, by="bob", reason="shadow looked fine")
    registry.ramp(name, 25, by="bob", reason="stage 2")
    final = registry.complete(name, by="carol", reason="v2_0 wins")
    assert final.version == 5
    log = registry.history(name)
    assert [(e.version, e.action, e.state.value, e.by, e.reason) for e in log] == [
        (1, "create", "draft", "alice", "plan approved"),
        (2, "shadow", "shadow", "alice", ""),
        (3, "start", "running", "bob", "shadow looked fine"),
        (4, "ramp", "running", "bob", "stage 2"),
        (5, "complete", "completed", "carol", "v2_0 wins"),
    ]
    assert [e.allocation["v2_0"] for e in log] == [0.0, 0.0, 0.05, 0.25, 0.25]
    assert [e.stage for e in log] == [None, None, None, 1, 1]


def test_log_times_are_utc_and_in_order(registry, spec):
    before = datetime.now(UTC)
    registry.create(spec)
    registry.start(spec.name)
    after = datetime.now(UTC)
    times = [e.at for e in registry.history(spec.name)]
    assert all(t.tzinfo is not None and t.utcoffset() == timedelta(0) for t in times)
    assert before <= times[0] <= times[1] <= after
    assert registry.get(spec.name).updated_at == times[1]


def test_writer_defaults_to_the_user_variable(sqlite_registry, spec, monkeypatch):
    registry = sqlite_registry
    monkeypatch.setenv("USER", "dana")
    registry.create(spec)
    monkeypatch.delenv("USER")
    registry.start(spec.name)
    assert [e.by for e in registry.history(spec.name)] == ["dana", "unknown"]


def test_stop_and_rollback_give_everything_back_to_the_champion(registry, make_spec):
    for name, end in (("a", "stop"), ("b", "rollback")):
        registry.create(make_spec(name))
        registry.start(name)
        registry.ramp(name, 50)
        state = getattr(registry, end)(name, reason="guardrail breached")
        assert state.allocation == {"champ": 1.0, "b": 0.0}
        assert state.stage is None
    assert [registry.get(n).state for n in "ab"] == [State.STOPPED, State.ROLLED_BACK]


def test_start_serves_the_spec_allocation_and_its_stage(sqlite_registry, make_spec):
    registry = sqlite_registry
    spec = make_spec(stages=(10, 25))
    registry.create(spec)
    state = registry.start(spec.name)
    assert state.allocation == {"champ": 0.9, "b": 0.1}
    assert state.stage == 0


def test_ramp_with_several_challengers_moves_one_at_a_time(sqlite_registry, make_spec):
    registry = sqlite_registry
    spec = make_spec(challengers=("b", "c"))
    registry.create(spec)
    registry.start(spec.name)
    registry.ramp(spec.name, 25, challenger="c")
    state = registry.ramp(spec.name, 10)
    assert state.allocation == {"champ": 0.65, "b": 0.1, "c": 0.25}
    assert state.stage == 0  # b, the challenger just ramped, sits on the 10% stage


def test_refused_transition_names_state_and_next_steps_and_changes_nothing(registry, spec):
    registry.create(spec)
    with pytest.raises(InvalidTransition, match="is draft: cannot ramp it; allowed next: shadow"):
        registry.ramp(spec.name, 10)
    registry.start(spec.name)
    registry.stop(spec.name, reason="done")
    for write in (
        lambda: registry.start(spec.name),
        lambda: registry.ramp(spec.name, 10),
        lambda: registry.rollback(spec.name, reason="x"),
    ):
        with pytest.raises(InvalidTransition, match=r"is stopped: .* stopped is final"):
            write()
    assert registry.get(spec.name).version == 3
    assert len(registry.history(spec.name)) == 3


def test_expected_version_in_the_past_raises_stale_version(registry, spec):
    registry.create(spec)
    registry.start(spec.name, expected_version=1)
    with pytest.raises(StaleVersion, match="expected version 1 but it is at version 2; re-read"):
        registry.ramp(spec.name, 10, expected_version=1)
    assert registry.get(spec.name).version == 2


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda r, n: r.ramp(n, 101), "to=101 is invalid: a percentage between 0 and 100"),
        (lambda r, n: r.ramp(n, -5), "to=-5 is invalid"),
        (lambda r, n: r.ramp(n, 10, challenger="v9"), r"challenger='v9' is invalid.*\['v2_0'\]"),
        (lambda r, n: r.stop(n, reason="  "), "reason='  ' is invalid: say why"),
        (lambda r, n: r.ramp(n, 10, by=""), "by='' is invalid"),
        (lambda r, n: r.ramp(n, 10, expected_version="2"), "expected_version='2' is invalid"),
    ],
)
def test_bad_write_arguments_are_refused_without_a_new_version(
    sqlite_registry, spec, call, message
):
    registry = sqlite_registry
    registry.create(spec)
    registry.start(spec.name)
    with pytest.raises(InvalidArgument, match=message):
        call(registry, spec.name)
    assert registry.get(spec.name).version == 2


def test_allocation_check_hook_sees_old_and_new_and_can_refuse(tmp_path, spec):
    registry_url = f"sqlite:///{tmp_path / 'hook.db'}"
    seen = []

    def check(exp, old, new):
        seen.append((exp.name, dict(old), dict(new)))
        if new["v2_0"] > 0.5:
            raise InvalidArgument("to", new["v2_0"] * 100, "the layout cannot move past 50%")

    with Registry(registry_url, allocation_check=check) as registry:
        registry.create(spec)
        registry.start(spec.name)
        with pytest.raises(InvalidArgument, match="cannot move past 50%"):
            registry.ramp(spec.name, 60)
        assert registry.get(spec.name).version == 2
    assert seen[0] == (spec.name, {"v1_3": 1.0, "v2_0": 0.0}, {"v1_3": 0.95, "v2_0": 0.05})
    assert seen[1][2] == {"v1_3": 0.4, "v2_0": 0.6}


def test_creating_an_existing_name_says_so(registry, spec):
    registry.create(spec)
    registry.start(spec.name)
    with pytest.raises(ExperimentExists, match=r"'fraud-detector-v2' already exists .*running"):
        registry.create(spec)
    assert len(registry.history(spec.name)) == 2


def test_create_refuses_anything_but_an_experiment(sqlite_registry):
    with pytest.raises(InvalidArgument, match="spec='dict' is invalid: an Experiment"):
        sqlite_registry.create({"name": "x"})


def test_missing_experiment_names_it_and_lists_the_first_few(registry, make_spec):
    with pytest.raises(ExperimentNotFound, match=r"'ghost' .*holds no experiments yet"):
        registry.get("ghost")
    for i in range(7):
        registry.create(make_spec(f"exp-{i}"))
    for read in (registry.get, registry.history, registry.spec, registry.start):
        with pytest.raises(
            ExperimentNotFound,
            match=r"no experiment named 'ghost' \(existing: exp-0, exp-1, exp-2, exp-3, exp-4 "
            r"and 2 more\); check the name",
        ):
            read("ghost")


def test_audit_log_is_only_ever_appended(registry_url, spec):
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(" ".join(statement.split()).lower())

    sa.event.listen(sa.Engine, "before_cursor_execute", record)
    try:
        with Registry(registry_url) as registry:
            registry.create(spec)
            seen = []
            for step in (
                lambda: registry.start(spec.name, shadow=True),
                lambda: registry.start(spec.name),
                lambda: registry.ramp(spec.name, 50),
                lambda: registry.rollback(spec.name, reason="errors"),
            ):
                before = registry.history(spec.name)
                step()
                after = registry.history(spec.name)
                assert after[: len(before)] == before
                assert len(after) == len(before) + 1
                seen.append(after[-1].version)
    finally:
        sa.event.remove(sa.Engine, "before_cursor_execute", record)
    assert seen == [2, 3, 4, 5]
    touched = [s for s in statements if "champion_audit_log" in s]
    assert any(s.startswith("insert into champion_audit_log") for s in touched)
    assert not [s for s in touched if s.startswith(("update", "delete"))]


def test_a_stored_spec_edited_into_nonsense_reports_every_problem(tmp_path, spec):
    url = f"sqlite:///{tmp_path / 'edited.db'}"
    with Registry(url) as registry:
        registry.create(spec)
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE champion_experiments SET spec = 'name: x\nbogus: 1\n'"))
        engine.dispose()
        with pytest.raises(SpecError, match=r"registry:fraud-detector-v2: \d+ problem"):
            registry.spec(spec.name)


def test_ramp_refuses_an_allocation_the_assignment_layout_cannot_build(sqlite_registry, make_spec):
    registry = sqlite_registry
    spec = make_spec(challengers=("b", "c", "d"))
    registry.create(spec)
    registry.start(spec.name)
    registry.ramp(spec.name, 20, challenger="c")
    with pytest.raises(InvalidArgument, match=r"cannot give b 50\.00%: beyond its own sector"):
        registry.ramp(spec.name, 50, challenger="b")
    assert registry.get(spec.name).version == 3
    assert registry.ramp(spec.name, 46, challenger="b").allocation["b"] == 0.46
