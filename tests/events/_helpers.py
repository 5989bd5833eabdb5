"""Shared by the event tests: events with defaults, and counts read back through DuckDB."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import duckdb

from champion.events import Exposure, Outcome, Shadow
from champion.events.readers import relation


def make_exposure(i: int = 0, **fields) -> Exposure:
    fields.setdefault("experiment", "fraud-v2")
    fields.setdefault("unit_id", f"u{i}")
    fields.setdefault("variant", "challenger" if i % 2 else "champion")
    fields.setdefault("model", "fraud@2" if i % 2 else "fraud@1")
    fields.setdefault("allocation_version", 3)
    fields.setdefault("probability", 0.5)
    fields.setdefault("request_id", f"r{i}")
    fields.setdefault("latency_ms", 1.5)
    fields.setdefault("prediction", '{"label":"ok","probability":0.25}')
    fields.setdefault("score", 0.25)
    fields.setdefault("attributes", {"country": "FR", "device": "ios"})
    return Exposure(**fields)


def make_shadow(i: int = 0, **fields) -> Shadow:
    fields.setdefault("experiment", "fraud-v2")
    fields.setdefault("unit_id", f"u{i}")
    fields.setdefault("model", "fraud@3")
    fields.setdefault("request_id", f"r{i}")
    fields.setdefault("prediction", "0.4")
    fields.setdefault("score", 0.4)
    fields.setdefault("served_score", 0.25)
    fields.setdefault("latency_ms", 3.0)
    return Shadow(**fields)


def make_outcome(i: int = 0, **fields) -> Outcome:
    fields.setdefault("unit_id", f"u{i}")
    fields.setdefault("metric", "converted")
    fields.setdefault("value", 1.0)
    return Outcome(**fields)


def rows(root: Path, kind: str, sql: str = "SELECT * FROM events") -> list[tuple]:
    """Rows of a query over one kind's Parquet segments, read by DuckDB."""
    con = duckdb.connect()
    try:
        events = relation(root, kind, con)  # noqa: F841 (named in the SQL)
        return con.sql(sql).fetchall()
    finally:
        con.close()


def count(root: Path, kind: str) -> int:
    return rows(root, kind, "SELECT count(*) FROM events")[0][0]


def eventually(check: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll until ``check()`` holds; background threads need a moment, not a fixed sleep."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return check()
