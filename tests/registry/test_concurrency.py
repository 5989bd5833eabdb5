"""Optimistic concurrency: writers racing on one version; exactly one wins, nothing is lost."""

import multiprocessing
import sqlite3
import threading
from collections import Counter
from pathlib import Path

import pytest
from tests.registry._race import ramp_once

from champion.errors import RegistryUnavailable, StaleVersion
from champion.registry import Registry

WRITERS = 6
ROOT = Path(__file__).resolve().parents[2]


def _running(registry, make_spec) -> str:
    registry.create(make_spec("race"))
    registry.start("race")
    return "race"


def _check_one_winner(registry, name, outcomes, start_version):
    won = [o for o in outcomes if o[0] == "won"]
    stale = [o for o in outcomes if o[0] == "stale"]
    assert len(won) == 1
    assert len(stale) == len(outcomes) - 1
    assert all(o[2:] == (start_version, start_version + 1) for o in stale)
    winner = won[0][1]
    log = registry.history(name)
    assert [e.version for e in log] == list(range(1, start_version + 2))
    assert log[-1].by == winner
    state = registry.get(name)
    assert state.version == start_version + 1
    assert state.allocation == log[-1].allocation  # the row holds what the winner wrote
    assert registry.global_version() == start_version + 1


def test_threads_racing_on_one_version_one_wins_the_rest_are_stale(registry, make_spec):
    name = _running(registry, make_spec)
    barrier = threading.Barrier(WRITERS)
    outcomes = []

    def writer(i: int) -> None:
        version = registry.get(name).version
        barrier.wait(timeout=30)
        try:
            registry.ramp(name, 10 + i, expected_version=version, by=f"w{i}")
            outcomes.append(("won", f"w{i}"))
        except StaleVersion as e:
            outcomes.append(("stale", f"w{i}", e.expected, e.current))

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(outcomes) == WRITERS
    _check_one_winner(registry, name, outcomes, start_version=2)


def test_threads_that_retry_on_stale_version_lose_no_update(registry, make_spec):
    name = _running(registry, make_spec)
    rounds, errors = 5, []

    def writer(i: int) -> None:
        done = 0
        while done < rounds:
            state = registry.get(name)
            try:
                registry.ramp(name, 10 + i, expected_version=state.version, by=f"w{i}")
            except StaleVersion:
                continue
            except Exception as e:  # surfaced by the assertion below
                errors.append(e)
                return
            done += 1

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    log = registry.history(name)
    assert [e.version for e in log] == list(range(1, 2 + 4 * rounds + 1))
    assert Counter(e.by for e in log[2:]) == {f"w{i}": rounds for i in range(4)}
    assert registry.get(name).version == 2 + 4 * rounds


def test_processes_racing_on_one_version_one_wins_the_rest_are_stale(
    registry_url, make_spec, monkeypatch
):
    with Registry(registry_url) as registry:
        name = _running(registry, make_spec)
    monkeypatch.syspath_prepend(str(ROOT))  # spawned children import tests.registry._race
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(4), ctx.Queue()
    procs = [
        ctx.Process(target=ramp_once, args=(registry_url, name, 10 + i, f"p{i}", barrier, results))
        for i in range(4)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
    assert [p.exitcode for p in procs] == [0] * 4
    outcomes = [results.get(timeout=5) for _ in procs]
    with Registry(registry_url) as registry:
        _check_one_winner(registry, name, outcomes, start_version=2)


def test_sqlite_writer_past_the_busy_timeout_gets_a_readable_error(tmp_path, make_spec):
    path = tmp_path / "busy.db"
    with Registry(f"sqlite:///{path}", busy_timeout=0.05) as registry:
        registry.create(make_spec("a"))
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
            with pytest.raises(
                RegistryUnavailable, match="database is locked; another process held the write"
            ):
                registry.start("a")
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert registry.start("a").version == 2


def test_a_write_committed_between_read_and_update_makes_the_update_stale(postgres_url, make_spec):
    """PostgreSQL only: SQLite's writer holds the database lock from its first read."""
    with Registry(postgres_url) as rival:
        rival.create(make_spec("a"))

        def rival_commits_first(spec, old, new):
            if new["b"] == 0.3:  # only inside the slow writer's transaction
                rival.ramp("a", 0.2 * 100, by="rival")

        with Registry(postgres_url, allocation_check=rival_commits_first) as slow:
            slow.start("a")
            with pytest.raises(StaleVersion, match="expected version 2 but it is at version 3"):
                slow.ramp("a", 30, expected_version=2, by="slow")
        assert [(e.version, e.by) for e in rival.history("a")][-1] == (3, "rival")
        assert rival.global_version() == 3
