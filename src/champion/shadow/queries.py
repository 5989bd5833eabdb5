"""The query layer: shadow answers joined to served ones, reduced to aggregates in DuckDB.

Rows never reach Python. One pass over the Parquet log builds a compact ``pairs`` table in
DuckDB (one row per shadow call: the join's outcome, both scores, both latencies, error
flags and each side's *decision*, no prediction text); every number of the report is then
a ``GROUP BY model`` or a histogram over it.

A served request is the first exposure (by ``ts``) with its ``request_id``: a retried
request logged twice is compared once. A shadow row whose ``request_id`` is missing or not
among the exposures is *unmatched*: counted, and kept out of every paired comparison.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import duckdb

from champion.errors import ChampionError, InvalidArgument
from champion.events.readers import parquet_source
from champion.shadow._sql import (
    COLUMNS,
    DECILES,
    DECISION_MACROS,
    PAIRS_TABLE,
    SERVED_DUPLICATES,
    SERVED_IN_RANGE,
    SERVED_SUMMARY,
    SERVED_TABLE,
    SERVED_TABLE_PLAIN,
    SHADOW_SUMMARY,
    literal,
)
from champion.spec.models import NAME_PATTERN

__all__ = [
    "EventsNotFound",
    "Latency",
    "NoShadowEvents",
    "ServedAggregates",
    "ShadowAggregates",
    "ShadowEvents",
    "open_shadow_events",
]


class EventsNotFound(ChampionError):
    """The event folder given does not exist (or is a file)."""

    def __init__(self, folder: str, problem: str) -> None:
        self.folder = folder
        super().__init__(
            f"event folder {folder} {problem}; pass --events the folder the gateway writes "
            "events to (the one holding exposures/ and shadow/)"
        )


class NoShadowEvents(ChampionError, LookupError):
    """The event folder holds no shadow call for this experiment; lists those it holds."""

    def __init__(self, experiment: str, folder: str, others: list[str]) -> None:
        self.experiment = experiment
        self.others = others
        if others:
            shown = ", ".join(others[:10]) + (
                f" and {len(others) - 10} more" if len(others) > 10 else ""
            )
            known = f"shadow events exist for: {shown}"
        else:
            known = "it holds no shadow events at all"
        super().__init__(
            f"no shadow events for experiment {experiment!r} in {folder} ({known}); check the "
            "name, or add a shadow model to the experiment's spec (a 'shadow:' entry with its "
            "model and sample share) and report once it has answered some traffic"
        )


@dataclass(frozen=True, slots=True)
class Latency:
    """Latency aggregates in milliseconds (NaN when no call carried a latency)."""

    n: int
    mean: float
    p50: float
    p95: float
    p99: float
    max: float


@dataclass(frozen=True, slots=True)
class ServedAggregates:
    """The served side of the experiment: every exposure, whether or not a shadow saw it."""

    requests: int
    with_request_id: int
    distinct_requests: int
    errors: int
    latency: Latency
    first_us: int | None
    last_us: int | None
    models: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class ShadowAggregates:
    """Counts, sums and quantiles of one shadow model's calls, as the database returned them."""

    model: str
    rows: int
    matched: int
    no_request_id: int
    matched_requests: int
    first_us: int | None
    last_us: int | None
    first_served_us: int | None
    last_served_us: int | None
    shadow_errors: int
    timeouts: int
    x_shadow: int
    x_served: int
    x_both: int
    answered: int
    compared: int
    agree: int
    n_diff: int
    diff_mean: float
    diff_quantiles: tuple[float, float, float]
    diff_max: float
    above: int
    served_deciles: tuple[float, ...]
    score_lo: float
    score_hi: float
    latency_shadow: Latency
    latency_served: Latency
    served_in_range: int = 0

    @property
    def unmatched(self) -> int:
        return self.rows - self.matched


_NAN = float("nan")


def _num(value: object) -> float:
    return _NAN if value is None else float(value)  # type: ignore[arg-type]


def _quantiles(values: list[float] | None, k: int) -> tuple[float, ...]:
    return tuple(_num(v) for v in values) if values else (_NAN,) * k


def _latency(n: int, mean: object, q: list[float] | None, top: object) -> Latency:
    p50, p95, p99 = _quantiles(q, 3)
    return Latency(int(n), _num(mean), p50, p95, p99, _num(top))


def _shadow_aggregates(r: tuple, served_in_range: int) -> ShadowAggregates:
    """One row of SHADOW_SUMMARY, column by column."""
    return ShadowAggregates(
        model=r[0], rows=r[1], matched=r[2], no_request_id=r[3], matched_requests=r[4],
        first_us=r[5], last_us=r[6], first_served_us=r[7], last_served_us=r[8],
        shadow_errors=r[9], timeouts=r[10], x_shadow=r[11], x_served=r[12], x_both=r[13],
        answered=r[14], compared=r[15], agree=r[16], n_diff=r[17], diff_mean=_num(r[18]),
        diff_quantiles=_quantiles(r[19], 3),  # type: ignore[arg-type]
        diff_max=_num(r[20]), above=r[21], served_deciles=_quantiles(r[22], len(DECILES)),
        score_lo=_num(r[23]), score_hi=_num(r[24]),
        latency_shadow=_latency(r[25], r[26], r[27], r[28]),
        latency_served=_latency(r[29], r[30], r[31], r[32]),
        served_in_range=served_in_range,
    )  # fmt: skip


class ShadowEvents:
    """One experiment's shadow and served events, joined once in a private DuckDB database.

    Use :func:`open_shadow_events`; close it (or use ``with``) to free the database.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, experiment: str, folder: str) -> None:
        self._con = con
        self.experiment = experiment
        self.folder = folder

    def __enter__(self) -> ShadowEvents:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._con.close()

    def served(self) -> ServedAggregates:
        row = self._con.sql(SERVED_SUMMARY).fetchall()[0]  # no GROUP BY: always one row
        models = self._con.sql(
            "SELECT model, count(*) AS n FROM exposures_x GROUP BY model ORDER BY n DESC, model"
        ).fetchall()
        return ServedAggregates(
            requests=row[0],
            with_request_id=row[1],
            distinct_requests=row[2],
            errors=row[3],
            latency=_latency(row[4], row[5], row[6], row[7]),
            first_us=row[8],
            last_us=row[9],
            models=tuple((m, n) for m, n in models),
        )

    def shadows(self, threshold: float) -> list[ShadowAggregates]:
        """One entry per shadow model, by name; ``threshold`` splits |score difference|."""
        in_range = dict(self._con.sql(SERVED_IN_RANGE).fetchall())
        rows = self._con.execute(SHADOW_SUMMARY, {"threshold": float(threshold)}).fetchall()
        return [_shadow_aggregates(r, int(in_range.get(r[0], 0))) for r in rows]

    def _where(self, column: str) -> str:
        if column not in COLUMNS:
            raise InvalidArgument("column", column, f"must be one of {', '.join(COLUMNS)}")
        return f"model = $model AND {COLUMNS[column]}"

    def binned(self, model: str, column: str, edges: list[float]) -> list[int]:
        """Counts in the bins the sorted ``edges`` cut: (-inf, e1), [e1, e2), ..., [ek, inf)."""
        sql = (
            f"SELECT len(list_filter($edges::DOUBLE[], lambda e: e <= {column})) AS bin, "
            f"count(*) FROM pairs WHERE {self._where(column)} GROUP BY bin"
        )
        counts = [0] * (len(edges) + 1)
        for b, n in self._con.execute(sql, {"model": model, "edges": list(edges)}).fetchall():
            counts[b] = n
        return counts

    def histogram(self, model: str, column: str, lo: float, hi: float, bins: int) -> list[int]:
        """Counts in ``bins`` equal bins over [lo, hi]; values outside go to the end bins."""
        width = (hi - lo) / bins if hi > lo else 1.0
        sql = (
            f"SELECT least(greatest(floor(({column} - $lo) / $width), 0), $last)::INTEGER AS bin, "
            f"count(*) FROM pairs WHERE {self._where(column)} GROUP BY bin"
        )
        params = {"model": model, "lo": float(lo), "width": float(width), "last": bins - 1}
        counts = [0] * bins
        for b, n in self._con.execute(sql, params).fetchall():
            counts[b] = n
        return counts


_NAME_RULE = (
    "must be an experiment name: letters, digits, '_', '.', '-', starting with a letter or digit"
)


def _has_parquet(folder: Path) -> bool:
    return folder.is_dir() and next(folder.rglob("*.parquet"), None) is not None


def _experiments_with_shadow(root: Path) -> list[str]:
    folder = root / "shadow"
    if not folder.is_dir():
        return []
    names = [p.name.removeprefix("experiment=") for p in folder.glob("experiment=*")]
    return sorted(n for n in names if _has_parquet(folder / f"experiment={n}"))


def _filtered(root: Path, kind: str, experiment: str) -> str:
    source = parquet_source(root, kind)
    return f"SELECT * FROM ({source.select_sql()}) WHERE experiment = {literal(experiment)}"


def open_shadow_events(events: str | os.PathLike[str], experiment: str) -> ShadowEvents:
    """Join ``experiment``'s shadow calls to its served requests in the Parquet log at ``events``.

    Raises :class:`EventsNotFound` when the folder is missing and :class:`NoShadowEvents`
    when it holds no shadow call for the experiment (naming those it holds).
    """
    if not (isinstance(experiment, str) and re.match(NAME_PATTERN, experiment)):
        raise InvalidArgument("experiment", experiment, _NAME_RULE)
    root = Path(events)
    if not root.exists():
        raise EventsNotFound(str(root), "does not exist")
    if not root.is_dir():
        raise EventsNotFound(str(root), "is a file, not a folder")
    if not _has_parquet(root / "shadow" / f"experiment={experiment}"):
        others = [n for n in _experiments_with_shadow(root) if n != experiment]
        raise NoShadowEvents(experiment, str(root), others)
    con = duckdb.connect()
    try:
        for macro in DECISION_MACROS:
            con.execute(macro)
        con.execute(f"CREATE TEMP VIEW exposures_x AS {_filtered(root, 'exposures', experiment)}")
        con.execute(f"CREATE TEMP VIEW shadow_x AS {_filtered(root, 'shadow', experiment)}")
        duplicates = con.sql(SERVED_DUPLICATES).fetchall()[0][0]
        con.execute(SERVED_TABLE if duplicates else SERVED_TABLE_PLAIN)
        con.execute(PAIRS_TABLE)
        rows = con.sql("SELECT count(*) FROM pairs").fetchall()[0][0]
    except BaseException:
        con.close()
        raise
    if rows == 0:
        con.close()
        others = [n for n in _experiments_with_shadow(root) if n != experiment]
        raise NoShadowEvents(experiment, str(root), others)
    return ShadowEvents(con, experiment, str(root))
