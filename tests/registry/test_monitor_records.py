"""What the monitor keeps in the registry: the window ledger (written once), evidence beside
audit rows, and the pause / resume / promote moves; on SQLite and PostgreSQL."""

import threading
from datetime import UTC, datetime, timedelta

import pytest

from champion.errors import InvalidArgument, InvalidTransition, StaleVersion
from champion.registry import Registry
from champion.registry.records import WindowRecord

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _window(start, variant="b", requests=10, errors=1, exp="exp"):
    sums = {"requests": [requests], "errors": [errors], "latency": [50.0 * requests], "bins": {}}
    return WindowRecord(exp, start, 60.0, variant, requests, errors, sums)


def test_windows_are_stored_once_and_read_back_in_order(registry, make_spec):
    registry.create(make_spec())
    rows = [_window(T0 + timedelta(minutes=k), v) for k in (1, 0) for v in ("champ", "b")]
    assert registry.record_windows(rows) == 4
    again = [_window(T0, "b", requests=999), _window(T0 + timedelta(minutes=2))]
    assert registry.record_windows(again) == 1  # the stored (T0, b) wins
    stored = registry.windows("exp")
    assert [(w.start, w.variant) for w in stored] == [
        (T0, "b"), (T0, "champ"), (T0 + timedelta(minutes=1), "b"),
        (T0 + timedelta(minutes=1), "champ"), (T0 + timedelta(minutes=2), "b"),
    ]  # fmt: skip
    first = stored[0]
    assert (first.requests, first.errors, first.sums["requests"]) == (10, 1, [10])
    assert [w.start for w in registry.windows("exp", since=T0 + timedelta(minutes=2))] == [
        T0 + timedelta(minutes=2)
    ]


def test_two_writers_of_the_same_windows_store_each_once(registry_url, make_spec):
    with Registry(registry_url) as reg:
        reg.create(make_spec())
    rows = [_window(T0 + timedelta(minutes=k)) for k in range(20)]
    counts: list[int] = []

    def write() -> None:
        with Registry(registry_url) as reg:
            counts.append(reg.record_windows(rows))

    threads = [threading.Thread(target=write) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(counts) == 20
    with Registry(registry_url) as reg:
        assert len(reg.windows("exp")) == 20


@pytest.mark.parametrize(
    ("field", "window"),
    [
        ("start", WindowRecord("exp", datetime(2026, 3, 1), 60.0, "b", 1, 0, {})),
        ("seconds", WindowRecord("exp", T0, 0.0, "b", 1, 0, {})),
        ("requests", WindowRecord("exp", T0, 60.0, "b", -1, 0, {})),
        ("errors", WindowRecord("exp", T0, 60.0, "b", 1, True, {})),
    ],
)
def test_a_bad_window_names_its_field(sqlite_registry, make_spec, field, window):
    sqlite_registry.create(make_spec())
    with pytest.raises(InvalidArgument) as info:
        sqlite_registry.record_windows([window])
    assert info.value.name == field
    assert sqlite_registry.windows("exp") == []


def test_a_stop_with_evidence_keeps_it_beside_the_audit_row(registry, make_spec):
    registry.create(make_spec())
    running = registry.start("exp")
    evidence = {"rules": [{"guardrail": "error_rate", "estimate": 0.05, "k": 3, "stop_after": 3}]}
    stopped = registry.stop(
        "exp", reason="guardrail stop", evidence=evidence, by="champion-monitor",
        expected_version=running.version,
    )  # fmt: skip
    assert stopped.state.value == "stopped"
    assert stopped.allocation == {"champ": 1.0, "b": 0.0}
    entries = registry.history("exp")
    assert [e.evidence for e in entries] == [None, None, evidence]
    assert entries[-1].to_dict()["evidence"] == evidence
    assert "evidence" not in entries[0].to_dict()


def test_a_stale_stop_writes_neither_the_change_nor_its_evidence(registry, make_spec):
    registry.create(make_spec())
    running = registry.start("exp")
    registry.ramp("exp", 25)
    with pytest.raises(StaleVersion):
        registry.stop("exp", reason="late", evidence={"x": 1}, expected_version=running.version)
    assert [e.evidence for e in registry.history("exp")] == [None, None, None]
    assert registry.get("exp").state.value == "running"


def test_pause_holds_the_allocation_resume_lets_it_move_promote_ends_on_the_challenger(
    registry, make_spec
):
    registry.create(make_spec(challengers=("b", "c")))
    registry.start("exp")
    ramped = registry.ramp("exp", 20, challenger="c")
    paused = registry.pause("exp", reason="look first")
    assert paused.state.value == "paused"
    assert paused.allocation == ramped.allocation
    with pytest.raises(InvalidTransition):
        registry.ramp("exp", 50, challenger="c")
    registry.resume("exp", reason="fine")
    done = registry.promote("exp", reason="winner", challenger="c")
    assert done.state.value == "completed"
    assert done.allocation == {"champ": 0.0, "b": 0.0, "c": 1.0}
    assert [e.action for e in registry.history("exp")] == [
        "create", "start", "ramp", "pause", "resume", "promote"
    ]  # fmt: skip


def test_promote_refuses_a_variant_that_is_no_challenger(registry, make_spec):
    registry.create(make_spec())
    registry.start("exp")
    with pytest.raises(InvalidArgument, match="challenger"):
        registry.promote("exp", reason="winner", challenger="champ")
    assert registry.get("exp").state.value == "running"
