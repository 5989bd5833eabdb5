"""The event writer: ``log()`` on the request path, batching and durability in one thread.

Default mode: ``log()`` appends to an in-memory deque and returns (no lock, no I/O); a
background thread takes everything every ``flush_interval`` seconds or ``flush_events``
events and hands it to the sink as one batch. A crash loses at most that window.

Sync mode: ``log()`` returns once the event is fsynced in the local write-ahead journal
(group commit: concurrent callers share one fsync); the thread then moves closed journal
files into the sink. A crash loses no acknowledged event: the next writer on the same
journal replays what the sink did not store.

When the sink fails (disk full, database down), batches spill to the journal and the
thread retries every ``retry_interval`` seconds, replaying the journal once the sink takes
writes again. Nothing is dropped silently: a full buffer or journal counts its drops in
:meth:`EventWriter.stats`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from champion.errors import EventSinkUnavailable, EventWriterClosed, InvalidArgument
from champion.events._codec import encode
from champion.events.journal import Claim, Journal, WriteAheadLog, new_batch_id
from champion.events.schema import EVENT_TYPES, Event
from champion.events.sink import EventSink

__all__ = ["EventWriter", "WriterStats"]

logger = logging.getLogger("champion.events")

_EVENT_CLASSES = frozenset(EVENT_TYPES.values())
_POLL = 0.25  # how often the thread checks that the program is still running
_WRITER_THREADS: weakref.WeakSet[threading.Thread] = weakref.WeakSet()


def _program_ending() -> bool:
    """The main thread has returned and only writers (and daemons) are left.

    Writer threads are not daemons, so the interpreter waits for them at exit; each one
    notices this, flushes and stops, instead of losing its last batch.
    """
    if threading.main_thread().is_alive():
        return False
    return not any(
        t.is_alive() and not t.daemon and t not in _WRITER_THREADS for t in threading.enumerate()
    )


@dataclass(frozen=True, slots=True)
class WriterStats:
    """Counters since the writer started (gauges: ``buffered``, ``journal_bytes``).

    ``written`` counts events the sink stored, ``replayed`` those of them that came from
    the journal (spilled, or left by an earlier run); ``spilled`` events went to the
    journal because the sink failed; ``dropped`` were refused because the buffer or the
    journal was full (or could not be saved at close); ``flush_errors`` counts failed
    sink writes. ``buffered`` is accepted but not yet stored or spilled.
    """

    written: int
    buffered: int
    spilled: int
    replayed: int
    dropped: int
    flush_errors: int
    last_flush_at: datetime | None
    journal_bytes: int
    journal_syncs: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _positive(name: str, value: object, whole: bool = False) -> None:
    kinds = int if whole else (int, float)
    if not isinstance(value, kinds) or isinstance(value, bool) or not value > 0:
        raise InvalidArgument(name, value, f"must be a positive {'int' if whole else 'number'}")


class EventWriter:
    """Logs events to a sink in the background; see the module docstring for the modes.

    ``journal_dir`` defaults to the sink's own (``<root>/_journal`` for Parquet); a sink
    without one keeps unsent batches in memory only, bounded by ``max_buffer``.
    Use it as a context manager, or call :meth:`close`: it flushes everything.
    """

    def __init__(
        self,
        sink: EventSink,
        *,
        sync: bool = False,
        flush_interval: float = 1.0,
        flush_events: int = 10_000,
        max_buffer: int = 200_000,
        journal_dir: str | os.PathLike[str] | None = None,
        max_journal_bytes: int | None = None,
        retry_interval: float = 5.0,
    ) -> None:
        _positive("flush_interval", flush_interval)
        _positive("flush_events", flush_events, whole=True)
        _positive("max_buffer", max_buffer, whole=True)
        _positive("retry_interval", retry_interval)
        if max_journal_bytes is not None:
            _positive("max_journal_bytes", max_journal_bytes, whole=True)
        folder = Path(journal_dir) if journal_dir is not None else sink.default_journal_dir()
        if sync and folder is None:
            raise InvalidArgument(
                "journal_dir", None, "sync mode needs a local folder for its write-ahead journal"
            )
        self._sink = sink
        self._flush_interval = float(flush_interval)
        self._flush_events = flush_events
        self._max_buffer = max_buffer
        self._retry_interval = float(retry_interval)
        self._journal = Journal(folder, max_bytes=max_journal_bytes) if folder else None
        self._wal = WriteAheadLog(self._journal) if sync and self._journal else None

        self._buffer: deque[Event] = deque()
        self._held: list[tuple[str, list[Event]]] = []  # neither stored nor spilled yet
        self._held_count = 0
        self._wake = threading.Event()
        self._flushed = threading.Condition()
        self._requested = 0
        self._done = 0
        self._closed = False
        self._stopping = False
        self._down_until = 0.0  # monotonic time before which the sink is not retried
        self._refused: dict[str, float] = {}  # batches the sink refused, and when to retry
        self._drop_lock = threading.Lock()

        self._written = self._spilled = self._replayed = self._dropped = self._flush_errors = 0
        self._last_flush_at: datetime | None = None

        self._thread = threading.Thread(target=self._run, name="champion-events", daemon=False)
        _WRITER_THREADS.add(self._thread)
        self._thread.start()

    # -- the caller's side ----------------------------------------------------------------

    def log(self, event: Event) -> bool:
        """Accept one event; False if it was dropped because the buffer is full.

        In sync mode it returns once the event is durable, and raises
        :class:`~champion.errors.JournalUnavailable` if it cannot be made durable.
        """
        if self._closed:
            raise EventWriterClosed(self._sink.target)
        if type(event) not in _EVENT_CLASSES:
            raise InvalidArgument("event", event, "must be an Exposure, Shadow or Outcome")
        if self._wal is not None:
            return self._log_sync(event)
        buffer = self._buffer
        if len(buffer) + self._held_count >= self._max_buffer:
            self._count_dropped(1)
            return False
        buffer.append(event)
        # Event.set takes a lock and notifies: once per wake-up, not once per event.
        if len(buffer) >= self._flush_events and not self._wake.is_set():
            self._wake.set()
        return True

    def log_many(self, events: Sequence[Event]) -> int:
        """Accept several events; how many were kept (the rest dropped: the buffer is full).

        In sync mode they share one journal write and fsync.
        """
        if self._wal is None:
            return sum(self.log(event) for event in events)
        if self._closed:
            raise EventWriterClosed(self._sink.target)
        for event in events:
            if type(event) not in _EVENT_CLASSES:
                raise InvalidArgument("event", event, "must be an Exposure, Shadow or Outcome")
        self._append_sync([encode(event) for event in events])
        return len(events)

    async def alog(self, event: Event) -> bool:
        """:meth:`log` for an event loop: in sync mode the wait for the fsync runs in a
        worker thread, so the loop serves other requests (and their events join the same
        group commit) meanwhile."""
        if self._wal is None:
            return self.log(event)
        return await asyncio.to_thread(self.log, event)

    async def alog_many(self, events: Sequence[Event]) -> int:
        """:meth:`log_many` for an event loop (see :meth:`alog`)."""
        if self._wal is None:
            return self.log_many(events)
        return await asyncio.to_thread(self.log_many, events)

    def _log_sync(self, event: Event) -> bool:
        self._append_sync([encode(event)])
        return True

    def _append_sync(self, records: list[bytes]) -> None:
        assert self._wal is not None
        try:
            self._wal.append_many(records)
        except Exception:
            self._count_dropped(len(records))
            raise
        if self._wal.records >= self._flush_events:
            self._wake.set()

    def _count_dropped(self, n: int) -> None:
        with self._drop_lock:
            self._dropped += n

    def flush(self, timeout: float | None = None) -> bool:
        """Hand everything logged so far to the sink (or the journal); False on timeout."""
        with self._flushed:
            self._requested += 1
            ticket = self._requested
        self._wake.set()
        with self._flushed:
            return self._flushed.wait_for(
                lambda: self._done >= ticket or not self._thread.is_alive(), timeout
            )

    def close(self, timeout: float | None = 30.0) -> None:
        """Flush everything and stop; safe to call twice. Waits at most ``timeout`` seconds."""
        if self._closed:
            return
        self._closed = True
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            logger.error(
                "event writer for %s did not finish within %ss; %d events still in memory",
                self._sink.target, timeout, len(self._buffer) + self._held_count,
            )  # fmt: skip
            return
        late = self._drain()  # logged by a thread that raced with close()
        if late:
            self._store(late, final=True)
            self._sink.close()

    def __enter__(self) -> EventWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def stats(self) -> WriterStats:
        wal = self._wal
        return WriterStats(
            written=self._written,
            buffered=wal.records if wal else len(self._buffer) + self._held_count,
            spilled=self._spilled,
            replayed=self._replayed,
            dropped=self._dropped,
            flush_errors=self._flush_errors,
            last_flush_at=self._last_flush_at,
            journal_bytes=self._journal.bytes if self._journal else 0,
            journal_syncs=wal.syncs if wal else 0,
        )

    @property
    def target(self) -> str:
        return self._sink.target

    # -- the background thread -------------------------------------------------------------

    def _run(self) -> None:
        next_flush = time.monotonic()  # first pass at once: replay what an earlier run left
        while True:
            self._wake.wait(max(0.0, min(next_flush - time.monotonic(), _POLL)))
            self._wake.clear()
            stopping = self._stopping or _program_ending()
            wanted = self._requested > self._done
            full = len(self._buffer) >= self._flush_events or (
                self._wal is not None and self._wal.records >= self._flush_events
            )
            if not (stopping or wanted or full or time.monotonic() >= next_flush):
                continue
            ticket = self._requested
            try:
                self._cycle(final=stopping)
            except Exception:  # never let the thread die: the caller keeps logging
                self._flush_errors += 1
                logger.exception("event writer for %s: unexpected error", self._sink.target)
            next_flush = time.monotonic() + self._flush_interval
            with self._flushed:
                self._done = max(self._done, ticket)
                self._flushed.notify_all()
            if stopping:
                self._closed = True  # also when the program ended without close()
                self._finish()
                return

    def _cycle(self, *, final: bool) -> None:
        deadline = time.monotonic() + self._flush_interval
        if self._wal is not None:
            path = self._wal.close() if final else self._wal.rotate()
            if path is not None:
                claim = self._journal.claim(path) if self._journal else None
                if claim is not None:
                    self._replay(claim)
        else:
            batch = self._drain()
            if batch or self._held:
                self._store(batch, final=final)
        self._replay_journal(deadline=None if final else deadline)

    def _drain(self) -> list[Event]:
        buffer = self._buffer
        return [buffer.popleft() for _ in range(len(buffer))]

    def _sink_ready(self) -> bool:
        return time.monotonic() >= self._down_until

    def _sink_failed(self, error: Exception, batch_id: str) -> None:
        """A store that is down is left alone for ``retry_interval``; a refused batch too."""
        self._flush_errors += 1
        retry_at = time.monotonic() + self._retry_interval
        if not isinstance(error, EventSinkUnavailable):
            self._refused[batch_id] = retry_at  # this batch is at fault, not the store
            logger.error(
                "event store %s refused batch %s; it stays in the journal and is retried",
                self._sink.target, batch_id, exc_info=error,
            )  # fmt: skip
            return
        if self._down_until == 0.0:
            logger.warning(
                "event store %s failed (%s); spilling to the journal and retrying every %ss",
                self._sink.target, error, self._retry_interval,
            )  # fmt: skip
        self._down_until = retry_at

    def _sink_ok(self, batch_id: str) -> None:
        if self._down_until:
            logger.warning("event store %s takes writes again", self._sink.target)
        self._down_until = 0.0
        self._refused.pop(batch_id, None)
        self._last_flush_at = datetime.now(UTC)

    def _write(self, events: list[Event], batch_id: str) -> bool:
        if not self._sink_ready() or self._refused.get(batch_id, 0.0) > time.monotonic():
            return False
        try:
            self._sink.write(events, batch_id)
        except Exception as e:
            self._sink_failed(e, batch_id)
            return False
        self._written += len(events)
        self._sink_ok(batch_id)
        return True

    def _store(self, batch: list[Event], *, final: bool) -> None:
        """Write held batches and this one; what the sink refuses goes to the journal."""
        batches = self._held
        if batch:
            batches = [*batches, (new_batch_id(), batch)]
        held: list[tuple[str, list[Event]]] = []
        for batch_id, events in batches:
            if self._write(events, batch_id):
                continue
            if self._journal is not None:
                try:
                    self._journal.spill(batch_id, events)
                except Exception as e:
                    logger.error("cannot spill %d events to the journal: %s", len(events), e)
                else:
                    self._spilled += len(events)
                    continue
            held.append((batch_id, events))
        if final and held:
            lost = sum(len(events) for _, events in held)
            logger.error(
                "event writer for %s closed with %d events neither stored nor spilled",
                self._sink.target, lost,
            )  # fmt: skip
            self._count_dropped(lost)
            held = []
        self._held = held
        self._held_count = sum(len(events) for _, events in held)

    def _replay_journal(self, *, deadline: float | None) -> None:
        if self._journal is None:
            return
        now = time.monotonic()
        for path in self._journal.pending():
            if not self._sink_ready() or (deadline is not None and time.monotonic() > deadline):
                return
            if self._refused.get(path.stem, 0.0) > now:
                continue
            claim = self._journal.claim(path)
            if claim is not None:
                self._replay(claim)

    def _replay(self, claim: Claim) -> None:
        """Store one journal file's events in the sink, then delete the file."""
        wal = self._wal
        own = wal is not None and claim.batch_id in wal.own
        try:
            events, damaged = claim.read()
        except OSError as e:
            claim.release()
            logger.error("cannot read journal file %s: %s", claim.path, e)
            return
        if damaged:
            logger.warning("journal file %s: skipped %d damaged line(s)", claim.path, damaged)
        if events and not self._write(events, claim.batch_id):
            claim.release()
            if own and wal is not None:
                wal.own.discard(claim.batch_id)  # from now on a backlog file like any other
                self._spilled += len(events)
            return
        claim.done()
        if wal is not None:
            wal.own.discard(claim.batch_id)
        if not own:
            self._replayed += len(events)

    def _finish(self) -> None:
        if self._wal is not None:
            self._wal.close()
        try:
            self._sink.close()
        except Exception:
            logger.exception("closing event store %s", self._sink.target)
