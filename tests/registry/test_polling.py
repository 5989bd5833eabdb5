"""Readers: snapshot in one query, a global version that moves with every change, polling."""

import threading

import pytest
import sqlalchemy as sa

from champion.errors import InvalidArgument, InvalidTransition, StaleVersion
from champion.registry import Registry


class _Selects:
    """Counts the SELECT statements any engine sends while active."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    def _record(self, conn, cursor, statement, *args) -> None:
        if statement.lstrip().lower().startswith("select"):
            self.statements.append(statement)

    def __enter__(self) -> "_Selects":
        sa.event.listen(sa.Engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc: object) -> None:
        sa.event.remove(sa.Engine, "before_cursor_execute", self._record)


def test_empty_registry_is_at_global_version_0(registry):
    assert registry.global_version() == 0
    assert registry.snapshot().global_version == 0
    assert registry.snapshot().experiments == ()
    assert not registry.poll_changes(0)


def test_every_committed_change_moves_the_global_version_by_one(registry, make_spec):
    versions = [registry.global_version()]
    for step in (
        lambda: registry.create(make_spec("a")),
        lambda: registry.create(make_spec("b")),
        lambda: registry.start("a"),
        lambda: registry.ramp("a", 20),
        lambda: registry.stop("b", reason="not needed"),
    ):
        step()
        versions.append(registry.global_version())
    assert versions == [0, 1, 2, 3, 4, 5]
    assert [registry.get(n).seq for n in "ab"] == [4, 5]


def test_refused_changes_leave_the_global_version_alone(registry, make_spec):
    registry.create(make_spec("a"))
    with pytest.raises(InvalidTransition):
        registry.ramp("a", 10)
    with pytest.raises(StaleVersion):
        registry.start("a", expected_version=7)
    with pytest.raises(InvalidArgument):
        registry.stop("a", reason="")
    assert registry.global_version() == 1


def test_snapshot_reads_every_experiment_in_one_query(registry, make_spec):
    for name in ("c", "a", "b"):
        registry.create(make_spec(name))
    registry.start("b")
    registry.ramp("b", 25)
    with _Selects() as selects:
        snap = registry.snapshot()
    assert len(selects.statements) == 1
    assert [e.name for e in snap.experiments] == ["a", "b", "c"]
    assert snap.global_version == registry.global_version() == 5
    b = snap.get("b")
    assert (b.state.value, b.version, b.allocation, b.stage) == (
        "running", 3, {"champ": 0.75, "b": 0.25}, 1
    )  # fmt: skip
    assert b.spec == make_spec("b")
    assert snap.get("zzz") is None


def test_global_version_is_one_query(sqlite_registry, make_spec):
    registry = sqlite_registry
    registry.create(make_spec("a"))
    with _Selects() as selects:
        registry.global_version()
    assert len(selects.statements) == 1


def test_poll_returns_only_what_changed_since_in_commit_order(registry, make_spec):
    for name in ("a", "b", "c"):
        registry.create(make_spec(name))
    seen = registry.global_version()
    registry.start("c")
    registry.start("a")
    changes = registry.poll_changes(seen)
    assert [e.name for e in changes.experiments] == ["c", "a"]
    assert (changes.since, changes.global_version) == (3, 5)
    assert [e.name for e in registry.poll_changes(0).experiments] == ["b", "c", "a"]


def test_poll_with_nothing_new_costs_one_query_and_returns_nothing(registry, make_spec):
    registry.create(make_spec("a"))
    with _Selects() as selects:
        changes = registry.poll_changes(1)
    assert len(selects.statements) == 1
    assert not changes
    assert changes.global_version == 1


def test_poll_from_a_version_the_registry_never_reached_resyncs_everything(registry, make_spec):
    registry.create(make_spec("a"))
    registry.create(make_spec("b"))
    changes = registry.poll_changes(99)
    assert [e.name for e in changes.experiments] == ["a", "b"]
    assert changes.global_version == 2


def test_poll_refuses_a_non_integer_version(sqlite_registry):
    with pytest.raises(InvalidArgument, match="since_version='3' is invalid"):
        sqlite_registry.poll_changes("3")


def test_watch_yields_changes_written_by_another_registry(registry_url, make_spec):
    with Registry(registry_url) as reader, Registry(registry_url) as writer:
        writer.create(make_spec("a"))
        stop = threading.Event()
        batches = []
        for changes in reader.watch(interval=0.01, stop=stop):
            batches.append([(e.name, e.version) for e in changes.experiments])
            if len(batches) == 1:
                writer.start("a")
                writer.create(make_spec("b"))
            else:
                stop.set()
    assert batches == [[("a", 1)], [("a", 2), ("b", 1)]]
