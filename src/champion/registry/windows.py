"""The monitor's window ledger: serving sums per closed guardrail window, written once.

A monitor that keeps its counts in memory forgets them when it restarts, and two monitors
would count twice. Here each closed window's sums are inserted once per (experiment,
start, variant): a second writer of the same window finds it stored and keeps the stored
row, so the window ledger is what every monitor reads its k/K and its cumulative sums
from. Like looks, windows are not changes: they leave versions and the audit log alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from champion.errors import InvalidArgument
from champion.registry.connection import translate_errors
from champion.registry.records import WindowRecord, as_utc
from champion.registry.schema import windows

__all__ = ["read_windows", "record_windows"]


def _row(w: WindowRecord) -> dict[str, Any]:
    if not isinstance(w, WindowRecord):
        raise InvalidArgument("window", type(w).__name__, "a WindowRecord")
    if not isinstance(w.start, datetime) or w.start.utcoffset() is None:
        raise InvalidArgument("start", w.start, "a timezone-aware datetime")
    if not (isinstance(w.seconds, int | float) and math.isfinite(w.seconds) and w.seconds > 0):
        raise InvalidArgument("seconds", w.seconds, "the window's length in seconds, above 0")
    for field in ("requests", "errors"):
        value = getattr(w, field)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidArgument(field, value, "a count, 0 or more")
    return {
        "experiment": w.experiment, "start": w.start.astimezone(UTC), "seconds": float(w.seconds),
        "variant": w.variant, "requests": w.requests, "errors": w.errors, "sums": w.sums,
    }  # fmt: skip


def record_windows(writer: sa.Engine, shown: str, rows: Sequence[WindowRecord]) -> int:
    """Insert the windows not stored yet; returns how many this call inserted.

    One transaction inserts every window not found stored (a backfill of thousands of
    windows is one write). If a concurrent writer stored some of them in between, its unique
    key refuses the batch, and each window is then written in a transaction of its own, the
    stored ones kept.
    """
    checked = [_row(w) for w in rows]
    if not checked:
        return 0
    try:
        with translate_errors(shown), writer.begin() as conn:
            fresh = _missing(conn, checked)
            if fresh:
                conn.execute(sa.insert(windows), fresh)
            return len(fresh)
    except sa.exc.IntegrityError:  # another monitor stored some of them first
        inserted = 0
        for row in checked:
            try:
                with translate_errors(shown), writer.begin() as conn:
                    if _missing(conn, [row]):
                        conn.execute(sa.insert(windows).values(**row))
                        inserted += 1
            except sa.exc.IntegrityError:
                continue
        return inserted


def _missing(conn: sa.Connection, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows whose (experiment, start, variant) is not stored."""
    names = {r["experiment"] for r in rows}
    first, last = min(r["start"] for r in rows), max(r["start"] for r in rows)
    stored = conn.execute(
        sa.select(windows.c.experiment, windows.c.start, windows.c.variant).where(
            windows.c.experiment.in_(names), windows.c.start >= first, windows.c.start <= last
        )
    ).all()
    keys = {(e, as_utc(s), v) for e, s, v in stored}
    return [r for r in rows if (r["experiment"], r["start"], r["variant"]) not in keys]


def read_windows(
    engine: sa.Engine, shown: str, name: str, since: datetime | None = None,
    *, newest: int | None = None, before: datetime | None = None,
) -> list[WindowRecord]:  # fmt: skip
    """The stored windows of ``name`` starting at or after ``since``, oldest first; with
    ``before``, only those that start before it; with ``newest``, only the newest that many
    windows (every variant of each)."""
    conds = [windows.c.experiment == name]
    if since is not None:
        conds.append(windows.c.start >= since.astimezone(UTC))
    if before is not None:
        conds.append(windows.c.start < before.astimezone(UTC))
    if newest is not None:
        recent = (
            sa.select(windows.c.start).where(*conds).distinct()
            .order_by(windows.c.start.desc()).limit(newest).subquery()
        )  # fmt: skip
        conds.append(windows.c.start >= sa.select(sa.func.min(recent.c.start)).scalar_subquery())
    query = sa.select(windows).where(*conds).order_by(windows.c.start, windows.c.variant)
    with translate_errors(shown), engine.connect() as conn:
        found = conn.execute(query).all()
    return [_record(r) for r in found]


def _record(r: Any) -> WindowRecord:
    return WindowRecord(
        r.experiment, as_utc(r.start), float(r.seconds), r.variant, int(r.requests),
        int(r.errors), dict(r.sums),
    )  # fmt: skip
