"""A local folder of append-only event files: sync mode's write-ahead log, and spilled batches.

Every ``<id>.log`` file in the folder is one unit of replay. Its id becomes the batch id
under which the sink stores its events, and sinks store a batch id at most once, so a file
replayed twice (a crash after the sink stored it but before the file was deleted) leaves
no duplicates. A file is deleted only after the sink has stored it.

Several writers (processes or threads) may share a folder. A writer holds an exclusive
``flock`` on the file it is appending to, and a file is only visible under its final name
once it is locked, so a replaying writer never takes a file that is still growing; a lock
dies with its process, so a killed writer's files are replayed by the next one.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from champion.errors import JournalUnavailable
from champion.events._codec import encode, read_records
from champion.events.schema import Event

__all__ = ["Claim", "Journal", "WriteAheadLog", "new_batch_id"]

_STALE_TEMP_SECONDS = 60.0


def new_batch_id() -> str:
    """Sorts by creation time, unique across processes."""
    return f"{time.time_ns():020d}-{uuid.uuid4().hex[:12]}"


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class Journal:
    """The folder, its size bound, spilling a batch and claiming files to replay."""

    def __init__(self, folder: str | os.PathLike[str], *, max_bytes: int | None = None) -> None:
        self.folder = Path(folder)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._bytes = 0
        if self.folder.is_dir():
            now = time.time()
            for path in self.folder.iterdir():
                try:
                    stat = path.stat()
                    if path.suffix == ".log":
                        self._bytes += stat.st_size
                    elif path.name.startswith(".") and now - stat.st_mtime > _STALE_TEMP_SECONDS:
                        path.unlink()  # a spill cut short by a crash: never acknowledged
                except FileNotFoundError:
                    continue

    @property
    def bytes(self) -> int:
        """Bytes in files waiting for replay, as this process counts them."""
        return self._bytes

    def _grow(self, size: int) -> None:
        with self._lock:
            self._bytes = max(0, self._bytes + size)

    def check_room(self, size: int) -> None:
        if self.max_bytes is not None and self._bytes + size > self.max_bytes:
            raise JournalUnavailable(
                str(self.folder),
                f"it holds {self._bytes:,} bytes and max_journal_bytes is {self.max_bytes:,}",
                "bring the event store back (the journal drains into it) or raise "
                "max_journal_bytes",
            )

    def ensure_folder(self) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise JournalUnavailable(
                str(self.folder), e.strerror or str(e), "point journal_dir at a writable folder"
            ) from e

    def spill(self, batch_id: str, events: list[Event]) -> None:
        """Keep a batch the sink refused: written, fsynced, then renamed into view."""
        data = b"".join(encode(e) for e in events)
        self.check_room(len(data))
        self.ensure_folder()
        temp = self.folder / f".{batch_id}.tmp"
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
            try:
                _write_all(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temp, self.folder / f"{batch_id}.log")
            _fsync_folder(self.folder)
        except OSError as e:
            temp.unlink(missing_ok=True)
            raise JournalUnavailable(
                str(self.folder), e.strerror or str(e), "free disk space in the journal folder"
            ) from e
        self._grow(len(data))

    def pending(self) -> list[Path]:
        """Files waiting for replay, oldest first (some may be locked by their writer)."""
        try:
            return sorted(self.folder.glob("*.log"))
        except OSError:
            return []

    def claim(self, path: Path) -> Claim | None:
        """Exclusive hold on a file to replay, or None if a writer holds it or it is gone."""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        if os.fstat(fd).st_nlink == 0:  # replayed and deleted while we waited
            os.close(fd)
            return None
        return Claim(self, path, fd)


class Claim:
    """A journal file held for replay: read it, then ``done()`` (delete) or ``release()``."""

    def __init__(self, journal: Journal, path: Path, fd: int) -> None:
        self.journal = journal
        self.path = path
        self.batch_id = path.stem
        self._fd = fd
        self.size = os.fstat(fd).st_size

    def read(self) -> tuple[list[Event], int]:
        """The file's intact events and the number of damaged lines skipped."""
        chunks = []
        while chunk := os.read(self._fd, 1 << 20):
            chunks.append(chunk)
        return read_records(b"".join(chunks))

    def done(self) -> None:
        try:
            self.path.unlink(missing_ok=True)
            self.journal._grow(-self.size)
        finally:
            self.release()

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class _Group:
    """Records waiting for the same write and fsync."""

    __slots__ = ("data", "done", "error")

    def __init__(self) -> None:
        self.data: list[bytes] = []
        self.done = False
        self.error: OSError | None = None


class WriteAheadLog:
    """Sync mode's active file. ``append`` returns once the record is on disk.

    Group commit: callers that arrive while a write is in flight queue their records in
    the next group, and one caller writes and fsyncs the whole group for everyone.
    """

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self._cond = threading.Condition()
        self._group = _Group()
        self._writing = False
        self._fd = -1
        self._path: Path | None = None
        self._records = 0  # in the active file
        self.syncs = 0
        self.own: set[str] = set()  # batch ids of files this log created

    @property
    def records(self) -> int:
        """Records in the active file, not yet handed to the sink."""
        return self._records

    def append(self, record: bytes) -> None:
        self.append_many((record,))

    def append_many(self, records: Sequence[bytes]) -> None:
        """Append ``records`` in one group: one write and fsync for all of them at most."""
        with self._cond:
            self.journal.check_room(sum(len(r) for r in records))
            group = self._group
            group.data.extend(records)
            while not group.done:
                if self._writing:
                    self._cond.wait()
                else:
                    self._lead()
            if group.error is not None:
                e = group.error
                raise JournalUnavailable(
                    str(self.journal.folder),
                    f"the write or fsync failed ({e.strerror or e})",
                    "free disk space or fix the journal folder; the event was not logged",
                ) from e

    def _lead(self) -> None:
        """Write the open group; called and returns with the lock held."""
        group, self._group = self._group, _Group()
        self._writing = True
        data = b"".join(group.data)
        self._cond.release()
        try:
            if self._fd < 0:
                self._open()
            _write_all(self._fd, data)
            os.fsync(self._fd)
        except OSError as e:
            group.error = e
        except JournalUnavailable as e:
            group.error = OSError(str(e))
        finally:
            self._cond.acquire()
        if group.error is None:
            self._records += len(group.data)
            self.syncs += 1
            self.journal._grow(len(data))
        else:
            self._close_file()  # a torn record may end the file: start a clean one
        group.done = True
        self._writing = False
        self._cond.notify_all()

    def _open(self) -> None:
        self.journal.ensure_folder()
        batch_id = new_batch_id()
        temp = self.journal.folder / f".{batch_id}.open"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)
        path = self.journal.folder / f"{batch_id}.log"
        os.replace(temp, path)  # visible only once locked
        _fsync_folder(self.journal.folder)
        self._fd, self._path = fd, path
        self.own.add(batch_id)

    def _close_file(self) -> Path | None:
        path = self._path
        if self._fd >= 0:
            os.close(self._fd)  # releases the lock: the file is ready for replay
        self._fd, self._path, self._records = -1, None, 0
        return path

    def rotate(self) -> Path | None:
        """Close the active file if it holds records, and return it for the sink."""
        with self._cond:
            while self._writing:
                self._cond.wait()
            if self._records == 0:
                return None
            return self._close_file()

    def close(self) -> Path | None:
        with self._cond:
            while self._writing:
                self._cond.wait()
            return self._close_file()
