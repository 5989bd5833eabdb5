"""The journal folder: spilled batches, the write-ahead log's locks and its group commit."""

import threading

import pytest

from champion.errors import JournalUnavailable
from champion.events._codec import encode
from champion.events.journal import Journal, WriteAheadLog
from tests.events._helpers import make_outcome


def test_a_spilled_batch_is_claimed_read_and_deleted(tmp_path):
    journal = Journal(tmp_path / "j")
    events = [make_outcome(i) for i in range(5)]
    journal.spill("0001-a", events)
    (path,) = journal.pending()
    assert path.name == "0001-a.log"
    assert journal.bytes == path.stat().st_size

    claim = journal.claim(path)
    assert claim is not None
    assert journal.claim(path) is None  # one replayer at a time
    assert claim.read() == (events, 0)
    claim.done()
    assert journal.pending() == []
    assert journal.bytes == 0


def test_a_journal_over_its_bound_refuses_more(tmp_path):
    journal = Journal(tmp_path, max_bytes=100)
    with pytest.raises(JournalUnavailable, match=r"max_journal_bytes is 100; bring the event"):
        journal.spill("b", [make_outcome(i) for i in range(10)])
    assert journal.pending() == []


def test_the_active_log_file_cannot_be_replayed_until_rotated(tmp_path):
    journal = Journal(tmp_path)
    wal = WriteAheadLog(journal)
    event = make_outcome(1)
    wal.append(encode(event))
    (path,) = journal.pending()
    assert journal.claim(path) is None  # still being written: locked by its writer
    assert wal.rotate() == path
    claim = journal.claim(path)
    assert claim is not None
    assert claim.read() == ([event], 0)
    claim.release()
    assert wal.rotate() is None  # nothing new: no empty files


def test_an_acknowledged_record_is_already_in_the_file(tmp_path):
    wal = WriteAheadLog(Journal(tmp_path))
    record = encode(make_outcome(7))
    wal.append(record)
    (path,) = tmp_path.glob("*.log")
    assert path.read_bytes() == record
    assert wal.records == 1
    wal.close()


def test_concurrent_appends_share_fsyncs(tmp_path):
    wal = WriteAheadLog(Journal(tmp_path))
    threads, per_thread = 8, 40
    start = threading.Barrier(threads)

    def append(t: int) -> None:
        start.wait()
        for i in range(per_thread):
            wal.append(encode(make_outcome(t * 1000 + i)))

    workers = [threading.Thread(target=append, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    path = wal.close()
    claim = Journal(tmp_path).claim(path)
    events, damaged = claim.read()
    claim.release()
    assert damaged == 0
    assert sorted(e.unit_id for e in events) == sorted(
        f"u{t * 1000 + i}" for t in range(threads) for i in range(per_thread)
    )
    # Group commit: callers waiting behind an fsync are written by the next one together.
    assert wal.syncs < threads * per_thread
