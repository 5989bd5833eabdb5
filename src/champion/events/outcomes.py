"""Outcome files (CSV or Parquet with columns ts, unit_id, metric, value) into an event store.

A file is checked whole before anything is written, and refused whole: the error lists
each column at fault with the first bad value, the rows and the fix. A loaded file is
stored under a batch id made from its content, so loading the same file twice stores it
once.
"""

from __future__ import annotations

import csv
import difflib
import gzip
import hashlib
import math
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from champion.errors import OutcomeFileError
from champion.events._fields import NAME_RULE, is_name
from champion.events.schema import Outcome, from_epoch_us
from champion.events.sink import EventSink

__all__ = ["COLUMNS", "LoadResult", "load_outcome_file", "read_outcome_file"]

COLUMNS = ("ts", "unit_id", "metric", "value")
_SHOWN_ROWS = 5
_BAD: Any = object()  # a cell that failed its check (reported already; not "empty" too)
_TS_FIX = "write ISO 8601 times such as 2024-05-01T12:30:00Z (no offset means UTC)"
_TS_RANGE_FIX = "in UTC it falls outside years 1-9999; check the year and the offset"
_VALUE_FIX = "write plain numbers such as 1, 0 or 12.5 (1/0 for conversions)"
_UNIT_FIX = "unit ids must be the ids the gateway logged exposures for"
_METRIC_FIX = f"metric names are {NAME_RULE}, as in the experiment spec"


@dataclass(frozen=True, slots=True)
class LoadResult:
    """What a load stored; ``stored`` is 0 when this very file was loaded before."""

    source: str
    target: str
    rows: int
    stored: int
    metrics: dict[str, int] = field(default_factory=dict)
    first_ts: datetime | None = None
    last_ts: datetime | None = None
    batch_id: str = ""

    @property
    def already_loaded(self) -> bool:
        return self.rows > 0 and self.stored == 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "target": self.target,
            "rows": self.rows,
            "stored": self.stored,
            "already_loaded": self.already_loaded,
            "metrics": self.metrics,
            "first_ts": self.first_ts.isoformat() if self.first_ts else None,
            "last_ts": self.last_ts.isoformat() if self.last_ts else None,
            "batch_id": self.batch_id,
        }


class _Problems:
    """Problems grouped by column and rule: the first bad value, its rows, the fix."""

    def __init__(self, unit: str = "row", offset: int = 0) -> None:
        self.general: list[str] = []
        self._by_rule: dict[tuple[str, str], tuple[object, list[int], str]] = {}
        self._unit = unit  # CSV: "line", counted as an editor does (the header is line 1)
        self._offset = offset

    def add(self, column: str, rule: str, value: object, row: int, fix: str) -> None:
        entry = self._by_rule.setdefault((column, rule), (value, [], fix))
        entry[1].append(row)

    def messages(self) -> list[str]:
        out = list(self.general)
        for (column, rule), (value, rows, fix) in self._by_rule.items():
            shown = ", ".join(str(r + self._offset) for r in rows[:_SHOWN_ROWS])
            more = f" and {len(rows) - _SHOWN_ROWS} more" if len(rows) > _SHOWN_ROWS else ""
            label = self._unit if len(rows) == 1 else f"{self._unit}s"
            what = f"{value!r} {rule}" if value is not None else rule
            out.append(f"column {column!r}, {label} {shown}{more}: {what}; {fix}")
        return out

    def __bool__(self) -> bool:
        return bool(self.general or self._by_rule)


# -- reading ---------------------------------------------------------------------------------


def _kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith((".csv", ".csv.gz")):
        return "csv"
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    raise OutcomeFileError(
        str(path), [f"unknown file type {path.suffix or '(none)'!r}: save it as .csv or .parquet"]
    )


def _csv_header(path: Path) -> list[str]:
    opener: Any = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8-sig", newline="") as f:
        return next(csv.reader(f), [])


def _ragged_lines(path: Path) -> list[str]:
    """Every line whose field count differs from the header's, in one pass (the CSV reader
    stops at the first); empty when the file is not ragged or cannot be read as text."""
    opener: Any = gzip.open if path.name.lower().endswith(".gz") else open
    bad: dict[int, list[int]] = {}
    try:
        with opener(path, "rt", encoding="utf-8-sig", newline="") as f:
            reader = csv.reader(f)
            width = len(next(reader, []))
            for fields in reader:
                if fields and len(fields) != width:
                    bad.setdefault(len(fields), []).append(reader.line_num)
    except (OSError, UnicodeDecodeError, csv.Error):
        return []
    out = []
    for count, lines in bad.items():
        shown = ", ".join(str(n) for n in lines[:_SHOWN_ROWS])
        more = f" and {len(lines) - _SHOWN_ROWS} more" if len(lines) > _SHOWN_ROWS else ""
        label = "line" if len(lines) == 1 else "lines"
        out.append(
            f"{label} {shown}{more}: {count} fields where the header has {width}; every row "
            "needs ts,unit_id,metric,value (quote a value that holds a comma)"
        )
    return out


def _read_table(path: Path, kind: str) -> pa.Table:
    if kind == "parquet":
        return pq.read_table(path)
    header = _csv_header(path)
    strings = {name: pa.string() for name in header}
    options = pa_csv.ConvertOptions(column_types=strings, strings_can_be_null=False)
    return pa_csv.read_csv(path, convert_options=options)


def _check_columns(names: list[str], problems: _Problems) -> None:
    if len(names) == 1:
        separator = next((sep for sep in (";", "\t", "|") if sep in names[0]), None)
        if separator is not None:
            problems.general.append(
                f"the header {names[0]!r} is one column: the file is separated by "
                f"{separator!r}; save it comma-separated"
            )
            return
    for name, count in Counter(names).items():
        if count > 1:
            problems.general.append(f"column {name!r} appears {count} times; keep one")
    for name in COLUMNS:
        if name not in names:
            close = difflib.get_close_matches(name, [n for n in names if n not in COLUMNS], 1)
            hint = f" (is {close[0]!r} meant to be {name!r}? rename it)" if close else ""
            problems.general.append(
                f"missing column {name!r}{hint}; an outcome file has columns "
                f"{', '.join(COLUMNS)} (found: {', '.join(names) or 'none'})"
            )
    for name in names:
        if name not in COLUMNS:
            problems.general.append(
                f"unknown column {name!r}; keep only {', '.join(COLUMNS)} (outcomes are not "
                "tied to an experiment: the analysis joins them to exposures by unit_id)"
            )


# -- columns to Python values, with a problem per bad cell -----------------------------------


def _texts(column: pa.ChunkedArray) -> list[str | None]:
    values = column.to_pylist()
    return [v.strip() if isinstance(v, str) else v for v in values]


def _ts_column(column: pa.ChunkedArray, problems: _Problems) -> list[datetime | None]:
    kind = column.type
    if pa.types.is_timestamp(kind):
        per_us = {"s": 1_000_000, "ms": 1_000, "us": 1, "ns": None}[kind.unit]
        ints = column.cast(pa.int64()).to_pylist()  # UTC instants (naive ones read as UTC)
        return [
            None if v is None else from_epoch_us(v * per_us if per_us else v // 1_000) for v in ints
        ]
    if pa.types.is_date(kind):
        days = column.to_pylist()
        return [None if d is None else datetime(d.year, d.month, d.day, tzinfo=UTC) for d in days]
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        problems.general.append(f"column 'ts' has type {kind}; {_TS_FIX}")
        return []
    out: list[datetime | None] = []
    for row, text in enumerate(_texts(column), start=1):
        parsed = None
        if text:
            try:
                parsed = datetime.fromisoformat(text)
            except ValueError:
                problems.add("ts", "is not a timestamp", text, row, _TS_FIX)
                parsed = _BAD
            else:
                parsed = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed
                try:
                    parsed.astimezone(UTC)
                except OverflowError:
                    problems.add("ts", "is out of range", text, row, _TS_RANGE_FIX)
                    parsed = _BAD
        out.append(parsed)
    return out


def _unit_column(column: pa.ChunkedArray, problems: _Problems) -> list[str | None]:
    kind = column.type
    if pa.types.is_integer(kind):
        return [None if v is None else str(v) for v in column.to_pylist()]
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        problems.general.append(f"column 'unit_id' has type {kind}; {_UNIT_FIX} (text)")
        return []
    return _texts(column)


def _metric_column(column: pa.ChunkedArray, problems: _Problems) -> list[str | None]:
    kind = column.type
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        problems.general.append(f"column 'metric' has type {kind}; {_METRIC_FIX}")
        return []
    values = _texts(column)
    for row, text in enumerate(values, start=1):
        if text and not is_name(text):
            problems.add("metric", "is not a metric name", text, row, _METRIC_FIX)
    return values


def _value_column(column: pa.ChunkedArray, problems: _Problems) -> list[float | None]:
    kind = column.type
    if pa.types.is_boolean(kind) or pa.types.is_integer(kind) or pa.types.is_decimal(kind):
        column = pc.cast(column, pa.float64())
        kind = column.type
    if pa.types.is_floating(kind):
        values = column.to_pylist()
        for row, v in enumerate(values, start=1):
            if v is not None and not math.isfinite(v):
                problems.add("value", "is not a finite number", v, row, _VALUE_FIX)
        return values
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        problems.general.append(f"column 'value' has type {kind}; {_VALUE_FIX}")
        return []
    out: list[float | None] = []
    for row, text in enumerate(_texts(column), start=1):
        number = None
        if text:
            try:
                number = float(text)
            except ValueError:
                problems.add("value", "is not a number", text, row, _VALUE_FIX)
                number = _BAD
            else:
                if not math.isfinite(number):
                    problems.add("value", "is not a finite number", text, row, _VALUE_FIX)
        out.append(number)
    return out


def read_outcome_file(path: str | os.PathLike[str]) -> list[Outcome]:
    """Every row of a CSV or Parquet outcome file, or OutcomeFileError naming what is wrong."""
    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise OutcomeFileError(source, ["file not found; check the path"])
    kind = _kind(path)
    try:
        table = _read_table(path, kind)
    except (pa.ArrowException, OSError, UnicodeDecodeError) as e:
        ragged = _ragged_lines(path) if kind == "csv" else []
        if ragged:
            raise OutcomeFileError(source, ragged) from e
        reading = "CSV (UTF-8, comma-separated, one header row)" if kind == "csv" else "Parquet"
        raise OutcomeFileError(source, [f"cannot be read as {reading}: {e}"]) from e
    problems = _Problems("line", 1) if kind == "csv" else _Problems()
    _check_columns(table.column_names, problems)
    if problems:
        raise OutcomeFileError(source, problems.messages())
    if table.num_rows == 0:
        raise OutcomeFileError(source, ["the file has no rows; nothing to load"])
    ts = _ts_column(table["ts"], problems)
    units = _unit_column(table["unit_id"], problems)
    metrics = _metric_column(table["metric"], problems)
    values = _value_column(table["value"], problems)
    fixes = {"ts": _TS_FIX, "unit_id": _UNIT_FIX, "metric": _METRIC_FIX, "value": _VALUE_FIX}
    for name, cells in (("ts", ts), ("unit_id", units), ("metric", metrics), ("value", values)):
        for row, cell in enumerate(cells, start=1):
            if cell is None or cell == "":
                problems.add(name, "is empty", None, row, f"fill it in; {fixes[name]}")
    if problems:
        raise OutcomeFileError(source, problems.messages())
    return [
        Outcome(ts=t, unit_id=u, metric=m, value=v)  # type: ignore[arg-type]
        for t, u, m, v in zip(ts, units, metrics, values, strict=True)
    ]


def _content_id(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return f"load-{digest.hexdigest()[:32]}"


def load_outcome_file(
    path: str | os.PathLike[str],
    sink: EventSink,
    check: Callable[[list[Outcome]], object] | None = None,
) -> LoadResult:
    """Check the whole file, then store it in one batch (all or nothing) in ``sink``;
    ``check`` sees every row first and may refuse the file by raising."""
    path = Path(path)
    outcomes = read_outcome_file(path)
    if check is not None:
        check(outcomes)
    batch_id = _content_id(path)
    stored = sink.write(outcomes, batch_id)
    times = [o.ts for o in outcomes]
    return LoadResult(
        source=str(path),
        target=sink.target,
        rows=len(outcomes),
        stored=stored,
        metrics=dict(sorted(Counter(o.metric for o in outcomes).items())),
        first_ts=min(times),
        last_ts=max(times),
        batch_id=batch_id,
    )
