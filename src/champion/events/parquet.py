"""The default event store: Parquet segments in a Hive-partitioned folder tree.

    <root>/exposures/experiment=<name>/date=YYYY-MM-DD/part-<batch id>.parquet
    <root>/shadow/experiment=<name>/date=YYYY-MM-DD/part-<batch id>.parquet
    <root>/outcomes/date=YYYY-MM-DD/part-<batch id>.parquet

A segment is written under a hidden temporary name in its own folder, fsynced, and renamed
into place, so a reader (DuckDB, Spark, Trino) listing ``*.parquet`` sees whole files or
nothing. The file name is the batch id: storing a batch again replaces its segments with
the same rows, which is what makes journal replay idempotent.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import pyarrow.parquet as pq

from champion.errors import EventSinkUnavailable
from champion.events.schema import Event, to_table
from champion.events.sink import EventSink

__all__ = ["JOURNAL_FOLDER", "ParquetSink", "partition_folder"]

#: Under the root, beside the kinds; Spark and Trino skip names starting with "_".
JOURNAL_FOLDER = "_journal"

_FIX = (
    "free disk space or fix the folder (permissions, a file where a folder should be); "
    "events wait in the writer's journal and are stored once the folder takes writes"
)


def partition_folder(event: Event) -> str:
    """The event's folder under the root, e.g. ``exposures/experiment=x/date=2024-05-01``."""
    day = event.ts.date().isoformat()
    if event.kind == "outcomes":
        return f"outcomes/date={day}"
    return f"{event.kind}/experiment={event.experiment}/date={day}"  # type: ignore[union-attr]


def _fsync_path(path: Path, flags: int = os.O_RDONLY) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ParquetSink(EventSink):
    """Writes each batch as one Parquet segment per partition folder."""

    def __init__(self, root: str | os.PathLike[str], *, compression: str = "zstd") -> None:
        self.root = Path(root)
        self.target = str(self.root)
        self.compression = compression
        # pyarrow imports optional modules on first use; at interpreter exit (a writer's last
        # flush when the program ends without close()) such imports fail, so do it now.
        to_table("outcomes", [], partitions=False)

    def default_journal_dir(self) -> Path:
        return self.root / JOURNAL_FOLDER

    def write(self, events: Sequence[Event], batch_id: str) -> int:
        groups: defaultdict[tuple[str, str], list[Event]] = defaultdict(list)
        cache: dict[tuple, str] = {}
        for e in events:
            key = (e.kind, getattr(e, "experiment", None), e.ts.date())
            folder = cache.get(key)
            if folder is None:
                folder = cache[key] = partition_folder(e)
            groups[(e.kind, folder)].append(e)
        # Build every table before touching the disk: a bad event fails the batch cleanly.
        tables = [
            (self.root / folder, to_table(kind, rows, partitions=False))
            for (kind, folder), rows in groups.items()
        ]
        name = f"part-{batch_id}.parquet"
        temps: list[Path] = []
        staged: list[tuple[Path, Path, bool, int]] = []
        renamed: list[tuple[Path, bool]] = []
        try:
            for folder, table in tables:
                folder.mkdir(parents=True, exist_ok=True)
                temp = folder / f".{name}.tmp"
                temps.append(temp)
                with open(temp, "wb") as f:
                    pq.write_table(table, f, compression=self.compression)
                    f.flush()
                    os.fsync(f.fileno())
                final = folder / name
                staged.append((temp, final, final.exists(), table.num_rows))
            for temp, final, existed, _ in staged:
                os.replace(temp, final)
                renamed.append((final, existed))
            for folder, _ in tables:
                _fsync_path(folder, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as e:
            for temp in temps:
                temp.unlink(missing_ok=True)
            for final, existed in renamed:
                if not existed:  # undo only what this attempt added
                    final.unlink(missing_ok=True)
            where = f" ({e.filename})" if e.filename else ""
            raise EventSinkUnavailable(self.target, f"{e.strerror or e}{where}", _FIX) from e
        return sum(rows for _, _, existed, rows in staged if not existed)
