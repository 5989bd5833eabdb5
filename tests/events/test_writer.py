"""The writer: batching from many threads, bounded buffers, spilling and replaying, sync mode."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from champion.errors import EventWriterClosed
from champion.events import EventWriter, ParquetSink, PostgresSink, open_sink, open_writer
from champion.events._codec import read_records
from champion.events.journal import Journal
from tests.events._helpers import count, eventually, make_exposure, make_outcome, rows


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_events_from_many_threads_are_all_stored_once(tmp_path):
    writer = EventWriter(ParquetSink(tmp_path), flush_interval=0.02, flush_events=500)
    threads, per_thread = 8, 2000

    def log(t: int) -> None:
        for i in range(per_thread):
            assert writer.log(make_exposure(request_id=f"{t}-{i}"))

    workers = [threading.Thread(target=log, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    writer.close()
    query = "SELECT count(*), count(DISTINCT request_id) FROM events"
    assert rows(tmp_path, "exposures", query) == [(threads * per_thread, threads * per_thread)]
    assert writer.stats().written == threads * per_thread


def test_flush_returns_once_everything_logged_is_stored(tmp_path):
    with EventWriter(ParquetSink(tmp_path), flush_interval=60) as writer:
        for i in range(10):
            writer.log(make_outcome(i))
        assert writer.flush(timeout=10)
        assert count(tmp_path, "outcomes") == 10
        stats = writer.stats()
        assert (stats.written, stats.buffered, stats.dropped) == (10, 0, 0)
        assert stats.last_flush_at is not None


def test_a_full_batch_is_written_without_waiting_for_the_interval(tmp_path):
    with EventWriter(ParquetSink(tmp_path), flush_interval=60, flush_events=100) as writer:
        for i in range(100):
            writer.log(make_outcome(i))
        assert eventually(lambda: writer.stats().written == 100, timeout=5)


def test_a_full_buffer_drops_and_counts(tmp_path):
    writer = EventWriter(ParquetSink(tmp_path), flush_interval=60, max_buffer=10)
    accepted = [writer.log(make_outcome(i)) for i in range(15)]
    assert accepted == [True] * 10 + [False] * 5
    assert (writer.stats().buffered, writer.stats().dropped) == (10, 5)
    writer.close()
    assert count(tmp_path, "outcomes") == 10


def test_a_failing_folder_spills_to_the_journal_and_replays_when_it_recovers(tmp_path):
    (tmp_path / "exposures").write_text("a file where the folder should be")
    writer = EventWriter(ParquetSink(tmp_path), flush_interval=60, retry_interval=0.05)
    for i in range(100):
        writer.log(make_exposure(i))
        writer.log(make_outcome(i))
    writer.flush()
    stats = writer.stats()
    assert (stats.written, stats.spilled, stats.buffered) == (0, 200, 0)
    assert stats.flush_errors >= 1
    assert stats.journal_bytes > 0
    assert not (tmp_path / "outcomes").exists()  # a batch is stored whole or not at all

    (tmp_path / "exposures").unlink()
    assert eventually(lambda: writer.flush() and writer.stats().replayed == 200)
    writer.close()
    assert (count(tmp_path, "exposures"), count(tmp_path, "outcomes")) == (100, 100)
    assert list((tmp_path / "_journal").iterdir()) == []
    assert writer.stats().journal_bytes == 0


def test_a_new_writer_replays_what_an_earlier_one_spilled(tmp_path):
    (tmp_path / "exposures").write_text("in the way")
    first = EventWriter(ParquetSink(tmp_path), flush_interval=60)
    for i in range(20):
        first.log(make_exposure(i))
    first.close()
    assert first.stats().spilled == 20
    (tmp_path / "exposures").unlink()

    second = EventWriter(ParquetSink(tmp_path), flush_interval=60)
    second.close()
    assert second.stats().replayed == 20
    assert count(tmp_path, "exposures") == 20


def test_a_journal_file_the_store_already_holds_is_not_stored_twice(tmp_path):
    """The state a crash leaves between storing a journal file and deleting it."""
    events = [make_outcome(i) for i in range(30)]
    Journal(tmp_path / "_journal").spill("0001-crashed", events)
    ParquetSink(tmp_path).write(events, "0001-crashed")

    writer = EventWriter(ParquetSink(tmp_path))
    writer.close()
    assert count(tmp_path, "outcomes") == 30
    assert list((tmp_path / "_journal").glob("*.log")) == []


def test_a_full_journal_keeps_batches_in_memory_then_counts_drops(tmp_path):
    (tmp_path / "outcomes").write_text("in the way")
    writer = EventWriter(
        ParquetSink(tmp_path), flush_interval=60, retry_interval=0.05, max_buffer=50,
        max_journal_bytes=1,
    )  # fmt: skip
    for i in range(50):
        writer.log(make_outcome(i))
    writer.flush()
    assert [writer.log(make_outcome(i)) for i in range(10)] == [False] * 10
    stats = writer.stats()
    assert (stats.buffered, stats.spilled, stats.dropped, stats.written) == (50, 0, 10, 0)

    (tmp_path / "outcomes").unlink()
    assert eventually(lambda: writer.flush() and writer.stats().written == 50)
    writer.close()
    assert count(tmp_path, "outcomes") == 50
    assert writer.stats().dropped == 10


def test_events_that_can_go_nowhere_at_close_are_counted_as_dropped():
    sink = PostgresSink(f"postgresql://nobody@127.0.0.1:{_closed_port()}/events")
    writer = EventWriter(sink, flush_interval=60)  # no journal: memory only
    for i in range(5):
        writer.log(make_outcome(i))
    writer.close()
    stats = writer.stats()
    assert (stats.written, stats.spilled, stats.dropped) == (0, 0, 5)
    assert stats.flush_errors == 1


def test_log_does_not_wait_for_a_store_that_hangs(tmp_path):
    """A peer that accepts connections and never answers holds the writer for 2 s."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        sink = PostgresSink(f"postgresql://nobody@127.0.0.1:{port}/events", connect_timeout=2)
        writer = EventWriter(sink, journal_dir=tmp_path, flush_events=1, flush_interval=60)
        writer.log(make_outcome(0))
        time.sleep(0.3)  # the writer is now inside the connection attempt
        started = time.perf_counter()
        for i in range(20_000):
            writer.log(make_outcome(i))
        elapsed = time.perf_counter() - started
        still_blocked = writer.stats().flush_errors == 0
        writer.close()
    assert still_blocked, "the store answered too early for this test to mean anything"
    assert elapsed < 1.0  # ~20k appends to a deque; the writer was stuck for seconds
    assert writer.stats().spilled == 20_001


def test_sync_mode_acknowledges_only_what_is_in_the_journal(tmp_path):
    writer = EventWriter(ParquetSink(tmp_path), sync=True, flush_interval=60)
    events = [make_outcome(i) for i in range(3)]
    for event in events:
        assert writer.log(event)
    (journal_file,) = (tmp_path / "_journal").glob("*.log")
    assert read_records(journal_file.read_bytes()) == (events, 0)
    assert writer.stats().buffered == 3
    assert writer.stats().journal_syncs == 3
    assert not (tmp_path / "outcomes").exists()

    writer.flush()
    assert count(tmp_path, "outcomes") == 3
    assert list((tmp_path / "_journal").glob("*.log")) == []
    writer.close()


def test_logging_after_close_is_an_error(tmp_path):
    writer = EventWriter(ParquetSink(tmp_path))
    writer.close()
    writer.close()  # twice is fine
    with pytest.raises(EventWriterClosed, match=r"writer for .* is closed; open a new writer"):
        writer.log(make_outcome())


def test_only_events_are_accepted(tmp_path):
    with (
        EventWriter(ParquetSink(tmp_path)) as writer,
        pytest.raises(ValueError, match=r"event=\{'unit_id': 'u1'\} is invalid: must be an Exp"),
    ):
        writer.log({"unit_id": "u1"})


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"flush_interval": 0}, r"flush_interval=0 is invalid: must be a positive number"),
        ({"flush_events": 1.5}, r"flush_events=1\.5 is invalid: must be a positive int"),
        ({"max_journal_bytes": -1}, r"max_journal_bytes=-1 is invalid"),
    ],
)
def test_bad_settings_are_refused_by_name(tmp_path, options, message):
    with pytest.raises(ValueError, match=message):
        EventWriter(ParquetSink(tmp_path), **options)


def test_sync_mode_needs_a_journal_folder():
    sink = PostgresSink("postgresql://nobody@127.0.0.1:5432/events")
    with pytest.raises(ValueError, match=r"journal_dir=None is invalid: sync mode needs a local"):
        EventWriter(sink, sync=True)


ACKNOWLEDGING = r"""
import sys, threading
from champion.events import EventWriter, Outcome, ParquetSink

root, run = sys.argv[1], sys.argv[2]
writer = EventWriter(ParquetSink(root), sync=True, flush_interval=0.02, flush_events=50)
printing = threading.Lock()

def log(t):
    i = 0
    while True:
        unit = f"{run}-{t}-{i}"
        writer.log(Outcome(unit_id=unit, metric="acked", value=1.0))
        with printing:  # printed only once log() has returned: an acknowledged event
            sys.stdout.write(unit + "\n")
            sys.stdout.flush()
        i += 1

for t in range(4):
    threading.Thread(target=log, args=(t,), daemon=True).start()
threading.Event().wait()
"""


def test_sync_mode_loses_no_acknowledged_event_when_killed(tmp_path):
    """Three writers in a row are SIGKILLed mid-stream on one folder; each replays the last."""
    acknowledged: set[str] = set()
    for run in range(3):
        child = subprocess.Popen(
            [sys.executable, "-c", ACKNOWLEDGING, str(tmp_path), str(run)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        guard = threading.Timer(60, child.kill)
        guard.start()
        try:
            for n, line in enumerate(child.stdout, start=1):
                acknowledged.add(line.strip())
                if n >= 400:
                    break
            os.kill(child.pid, signal.SIGKILL)
            rest, err = child.communicate(timeout=30)
        finally:
            guard.cancel()
        acknowledged.update(rest.split())
        assert child.returncode == -signal.SIGKILL, err
    assert len(acknowledged) >= 1200

    EventWriter(ParquetSink(tmp_path)).close()  # a restart replays the journal

    stored = rows(tmp_path, "outcomes", "SELECT unit_id, count(*) FROM events GROUP BY unit_id")
    assert all(n == 1 for _, n in stored), "an event was stored twice"
    assert acknowledged <= {unit for unit, _ in stored}
    assert list((tmp_path / "_journal").glob("*.log")) == []


def test_open_writer_picks_the_store_from_the_target(tmp_path):
    assert isinstance(open_sink(tmp_path), ParquetSink)
    assert isinstance(open_sink("postgresql://me@db.internal/events"), PostgresSink)
    with pytest.raises(ValueError, match=r"target='s3://\.\.\.' is invalid: must be a folder"):
        open_sink("s3://bucket/events")
    with open_writer(tmp_path, flush_interval=60) as writer:
        writer.log(make_outcome())
    assert count(tmp_path, "outcomes") == 1


LOGGING_WITH_TIMES = """
import sys, time
from champion.events import EventWriter, Outcome, ParquetSink

root, interval = sys.argv[1], float(sys.argv[2])
writer = EventWriter(ParquetSink(root), flush_interval=interval)
i = 0
while True:
    unit = f"u{i}"
    writer.log(Outcome(unit_id=unit, metric="logged", value=1.0))
    sys.stdout.write(f"{unit} {time.time()}\\n")
    sys.stdout.flush()
    i += 1
    time.sleep(0.0005)
"""


def test_default_mode_loses_at_most_the_flush_window_when_killed(tmp_path):
    """SIGKILL without sync: what was logged longer ago than the flush window is stored."""
    interval = 0.25
    child = subprocess.Popen(
        [sys.executable, "-c", LOGGING_WITH_TIMES, str(tmp_path), str(interval)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    guard = threading.Timer(60, child.kill)
    guard.start()
    logged: dict[str, float] = {}
    try:
        for line in child.stdout:
            unit, at = line.split()
            logged[unit] = float(at)
            if len(logged) >= 6000:
                break
        killed_at = time.time()
        os.kill(child.pid, signal.SIGKILL)
        child.communicate(timeout=30)
    finally:
        guard.cancel()
    assert child.returncode == -signal.SIGKILL
    stored = {unit for (unit,) in rows(tmp_path, "outcomes", "SELECT unit_id FROM events")}
    # One window, plus a second for writing the batch on a busy machine.
    settled = {unit for unit, at in logged.items() if at < killed_at - interval - 1.0}
    assert len(settled) > 1500
    assert settled <= stored


def test_sync_mode_logs_many_events_with_one_fsync(tmp_path):
    writer = EventWriter(ParquetSink(tmp_path), sync=True, flush_interval=60)
    events = [make_outcome(i) for i in range(10)]
    assert writer.log_many(events) == 10
    (journal_file,) = (tmp_path / "_journal").glob("*.log")
    assert read_records(journal_file.read_bytes()) == (events, 0)
    assert writer.stats().journal_syncs == 1
    writer.close()
    assert count(tmp_path, "outcomes") == 10


def test_alog_waits_for_the_fsync_in_a_thread_so_concurrent_callers_share_it(tmp_path):
    import asyncio

    writer = EventWriter(ParquetSink(tmp_path), sync=True, flush_interval=60)

    async def log_all() -> list[bool]:
        return await asyncio.gather(*(writer.alog(make_outcome(i)) for i in range(80)))

    assert all(asyncio.run(log_all()))
    assert 1 <= writer.stats().journal_syncs < 80
    writer.close()
    assert count(tmp_path, "outcomes") == 80
