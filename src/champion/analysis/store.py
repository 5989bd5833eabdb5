"""Where the events are: a Parquet folder (DuckDB), PostgreSQL, or any Ibis backend.

The analysis only ever sees two Ibis tables, ``exposures`` and ``outcomes``, with the
columns of the event schema (docs/events.md), so the same expressions run on every engine.
Opening checks what can be checked early (the folder, the connection, the tables and their
columns) and says what to fix; a password never reaches a message.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import urllib.parse
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import duckdb
import ibis
import ibis.expr.types as ir
import sqlglot
import sqlglot.errors
import sqlglot.expressions as sge

from champion.errors import EventStoreUnavailable, InvalidArgument, MetricSqlError, NoExposures
from champion.events.readers import parquet_source
from champion.events.schema import SCHEMAS

__all__ = ["EXPOSURE_COLUMNS", "OUTCOME_COLUMNS", "EventStore", "open_store"]

#: Columns the analysis reads; a table may have more.
EXPOSURE_COLUMNS = (
    "ts", "experiment", "unit_id", "variant", "request_id", "latency_ms", "error",
    "attributes", "allocation_version", "probability", "exposed",
)  # fmt: skip
OUTCOME_COLUMNS = ("ts", "unit_id", "metric", "value")
_KINDS = ("exposures", "outcomes")
#: DuckDB's memory for an event folder: with the interpreter and libraries (~0.25 GB) the
#: analysis stays under 1 GB; beyond it DuckDB spills to a temporary folder. Raise it with
#: ``memory_limit=`` or ``CHAMPION_DUCKDB_MEMORY_LIMIT`` on large machines: it runs faster.
DEFAULT_MEMORY_LIMIT = "512MB"
_MEMORY = re.compile(r"\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\Z", re.IGNORECASE)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}\Z")
# Driver exceptions (by class name: each engine has its own) meaning "cannot read the store"
# rather than a faulty query: a lost connection, an unreadable or vanished file.
_STORE_FAILURES = frozenset({"OperationalError", "InterfaceError", "IOException"})
_CONNECT_FIX = "check the URL (user, password, host, port, database) and that the server is up"
_TABLES_FIX = (
    "point at the database the event writer uses, or name your tables with "
    "tables={'exposures': ..., 'outcomes': ...}"
)


def _redact(url: str) -> str:
    """The URL with its password replaced by ``***``."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def _one_line(error: BaseException, *secrets: str | None) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


@dataclass(eq=False)
class EventStore:
    """Ibis tables of exposures and outcomes on one connection, and what was fetched from it.

    ``queries`` and ``rows_fetched`` count what :meth:`fetch` brought into Python: the
    analysis fetches aggregated rows only, so both stay small whatever the data size.
    """

    con: Any  # an ibis BaseBackend
    exposures: ir.Table
    outcomes: ir.Table
    target: str
    experiment: str | None = None
    queries: int = 0
    rows_fetched: int = 0
    _folder: Path | None = field(default=None, repr=False)
    _owned: bool = field(default=True, repr=False)
    _views: int = field(default=0, repr=False)
    _cleanup: Any = field(default=None, repr=False)

    @property
    def backend(self) -> str:
        return str(self.con.name)

    def fetch(self, expr: ir.Table) -> list[dict[str, Any]]:
        """Run ``expr`` where the data is and return its (aggregated) rows."""
        table = self._run(self.con.to_pyarrow, expr)
        self.queries += 1
        self.rows_fetched += table.num_rows
        rows: list[dict[str, Any]] = table.to_pylist()  # a pyarrow Table's rows
        return rows

    @contextmanager
    def materialized(self, expr: ir.Table) -> Iterator[ir.Table]:
        """``expr`` computed once into a temporary DuckDB table, dropped on leaving.

        One step of a long query at a time: what a step holds is released before the next
        starts, and a table (unlike a shared CTE) can spill under the memory limit.
        """
        self._views += 1
        name = f"champion_step_{self._views}"
        sql = self.con.compile(expr)
        self._run(self.con.raw_sql, f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}")
        try:
            yield _duckdb_table(self.con, name)
        finally:
            self.con.raw_sql(f"DROP TABLE IF EXISTS {name}")

    def _run(self, call: Callable[[Any], Any], query: Any) -> Any:
        """``call(query)``, with the driver's failures said in the store's words."""
        try:
            return call(query)
        except Exception as e:  # driver errors: the database went away, a file is unreadable
            kinds = {cls.__name__ for cls in type(e).__mro__}
            if "OutOfMemoryException" in kinds:
                raise EventStoreUnavailable(
                    self.target,
                    "the query ran out of memory",
                    "raise CHAMPION_DUCKDB_MEMORY_LIMIT (or memory_limit=) or free disk space "
                    "for DuckDB's temporary files",
                ) from e
            unreadable = self._folder is not None and "InvalidInputException" in kinds
            if not (kinds & _STORE_FAILURES or unreadable):
                raise
            raise EventStoreUnavailable(
                self.target, _one_line(e), "check that the store is reachable and readable"
            ) from e

    def metric_table(self, metric: str, sql: str) -> ir.Table:
        """A warehouse-native metric's rows ``(unit_id, ts, value)``, as a subquery.

        The text must be one query: a second statement would run on its own when the
        engine first looks at the query's columns, so it is refused before that.
        """
        query = _single_query(metric, sql, self.con.dialect)
        try:
            table = self._query_table(query)
        except Exception as e:  # the database's own words about the user's SQL
            raise MetricSqlError(
                metric, f"failed in {self.backend}: {_one_line(e)}", "fix the query"
            ) from e
        columns = {c.lower(): c for c in table.columns}
        missing = [c for c in ("unit_id", "ts", "value") if c not in columns]
        if missing:
            raise MetricSqlError(
                metric,
                f"returns columns {list(table.columns)}, missing {missing}",
                "select one row per outcome as unit_id, ts, value",
            )
        return table.select(
            unit_id=table[columns["unit_id"]].cast("string"),
            ts=table[columns["ts"]].cast(self.outcomes.ts.type()),
            value=table[columns["value"]].cast("float64"),
        )

    def _query_table(self, query: str) -> ir.Table:
        if self.backend != "duckdb":
            return self.con.sql(query, dialect=self.con.dialect)
        self._views += 1
        name = f"champion_metric_sql_{self._views}"
        self.con.raw_sql(f"CREATE OR REPLACE TEMP VIEW {name} AS {query}")
        return _duckdb_table(self.con, name)

    def known_experiments(self, limit: int = 20) -> list[str]:
        """Names of experiments with exposures in the store (for messages)."""
        if self._folder is not None:
            base = self._folder / "exposures"
            names = (p.name.split("=", 1)[1] for p in base.glob("experiment=*") if p.is_dir())
            return sorted(names)[:limit]
        expr = self.exposures.select("experiment").distinct().order_by("experiment").limit(limit)
        return [row["experiment"] for row in self.fetch(expr)]

    def close(self) -> None:
        if self._owned:
            disconnect = getattr(self.con, "disconnect", None)
            if disconnect is not None:
                disconnect()
        if self._cleanup is not None:
            self._cleanup()

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _single_query(metric: str, sql: str, dialect: Any) -> str:
    """The query re-rendered by sqlglot (comments become ``/* */``, no trailing ``;``)."""
    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except sqlglot.errors.SqlglotError as e:
        raise MetricSqlError(
            metric, f"does not parse: {_one_line(e)}", "write one SELECT query"
        ) from None
    if len(statements) != 1 or not isinstance(statements[0], sge.Query):
        kinds = ", ".join(type(s).__name__.upper() for s in statements) or "nothing"
        raise MetricSqlError(
            metric,
            f"must be one SELECT query, got {kinds}",
            "remove other statements; select unit_id, ts, value",
        )
    return statements[0].sql(dialect=dialect)


# -- opening -------------------------------------------------------------------------------


def open_store(
    target: str | os.PathLike[str] | Any,
    *,
    experiment: str | None = None,
    tables: Mapping[str, str | None] | None = None,
    memory_limit: str | None = None,
) -> EventStore:
    """Open the event store at ``target`` for reading.

    ``target`` is a folder written by the event writer (read in place by an in-memory
    DuckDB), a ``postgresql://`` URL (the writer's tables), any other Ibis URL
    (``duckdb://file.db``, ``trino://...``, ``bigquery://...``) or a connected Ibis backend.
    ``tables`` renames the two tables for databases (``{"exposures": "analytics.exposures"}``;
    ``"outcomes": None`` when every metric is defined by SQL). With ``experiment``, a
    folder is read only under that experiment's partition. ``memory_limit`` (a folder's
    DuckDB, e.g. ``"4GB"``) defaults to ``CHAMPION_DUCKDB_MEMORY_LIMIT`` or
    :data:`DEFAULT_MEMORY_LIMIT`.

    >>> import tempfile
    >>> with open_store(tempfile.mkdtemp()) as store:
    ...     store.backend, store.fetch(store.exposures.aggregate(n=store.exposures.count()))
    ('duckdb', [{'n': 0}])
    """
    if experiment is not None and not _NAME.match(experiment):
        raise InvalidArgument("experiment", experiment, "must be an experiment name as in specs")
    names = _table_names(tables)
    folder = not isinstance(target, ibis.BaseBackend) and "://" not in os.fspath(target)
    if memory_limit is not None and not folder:
        raise InvalidArgument("memory_limit", memory_limit, "only applies to event folders")
    if isinstance(target, ibis.BaseBackend):
        store = _from_backend(target, names, str(target.name), owned=False)
    elif not folder:
        store = _open_url(os.fspath(target), names)
    else:
        if tables is not None:
            raise InvalidArgument("tables", dict(tables), "only applies to database URLs")
        limit = (
            memory_limit or os.environ.get("CHAMPION_DUCKDB_MEMORY_LIMIT") or DEFAULT_MEMORY_LIMIT
        )
        if not _MEMORY.match(limit.strip()):
            raise InvalidArgument("memory_limit", limit, "must be a size such as '640MB' or '4GB'")
        store = _open_folder(Path(os.fspath(target)), experiment, limit.strip())
    store.experiment = experiment
    return store


def _table_names(tables: Mapping[str, str | None] | None) -> dict[str, str | None]:
    names: dict[str, str | None] = {kind: kind for kind in _KINDS}
    for kind, name in (tables or {}).items():
        if kind not in names:
            raise InvalidArgument("tables", kind, f"keys must be among {list(_KINDS)}")
        if kind == "exposures" and not name:
            raise InvalidArgument("tables", name, "exposures needs a table name")
        names[kind] = name
    return names


def _open_folder(root: Path, experiment: str | None, memory_limit: str) -> EventStore:
    if not root.exists():
        raise EventStoreUnavailable(
            str(root), "no such folder", "pass the folder the event writer writes to, or a URL"
        )
    if not root.is_dir():
        raise EventStoreUnavailable(str(root), "not a folder", "pass the event folder's path")
    con = ibis.duckdb.connect()  # in memory: the events stay in their files
    spill = tempfile.mkdtemp(prefix="champion-duckdb-")
    try:
        con.raw_sql(f"SET memory_limit = '{memory_limit}'")
        con.raw_sql(f"SET temp_directory = {_text(spill)}")
        con.raw_sql("SET preserve_insertion_order = false")
        exposures = _parquet_table(con, root, "exposures", experiment)
        outcomes = _parquet_table(con, root, "outcomes", None)
    except BaseException as e:
        con.disconnect()
        shutil.rmtree(spill, ignore_errors=True)
        if isinstance(e, duckdb.Error):  # a segment that is not Parquet, a file gone
            raise EventStoreUnavailable(
                str(root), _one_line(e), "remove or replace the unreadable file"
            ) from e
        raise
    store = EventStore(con, exposures, outcomes, str(root), _folder=root)
    store._cleanup = weakref.finalize(store, shutil.rmtree, spill, ignore_errors=True)
    return store


def _text(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def _parquet_table(con: Any, root: Path, kind: str, experiment: str | None) -> ir.Table:
    """A view over one kind's segments (typed and empty without files)."""
    source = parquet_source(root, kind)
    if experiment is not None:
        folder = Path(source.folder) / f"experiment={experiment}"
        if not (folder.is_dir() and next(folder.rglob("*.parquet"), None) is not None):
            known = sorted(p.name.split("=", 1)[1] for p in Path(source.folder).glob("*=*"))
            raise NoExposures(experiment, str(root), known)
        source = replace(source, folder=str(folder), glob=str(folder / "**" / "*.parquet"))
    name = f"champion_{kind}"
    con.raw_sql(f"CREATE OR REPLACE TEMP VIEW {name} AS {source.select_sql()}")
    return _duckdb_table(con, name)


def _duckdb_table(con: Any, name: str, database: Any = None) -> ir.Table:
    """A DuckDB table or view as an (unbound) Ibis table, typed from DuckDB's own answer.

    Ibis 12 reads DuckDB schemas through a cursor method that DuckDB 2 deprecates (a
    warning) or dropped; the store runs expressions with ``con.to_pyarrow`` instead.
    """
    path = [database] if isinstance(database, str) else list(database or ())
    quoted = ".".join(sge.to_identifier(p, quoted=True).sql("duckdb") for p in (*path, name))
    arrow = con.con.sql(f"SELECT * FROM {quoted} LIMIT 0").to_arrow_table().schema
    return ibis.table(ibis.Schema.from_pyarrow(arrow), name=name, database=database)


def _open_url(url: str, names: dict[str, str | None]) -> EventStore:
    shown = _redact(url)
    scheme, rest = url.split("://", 1)
    backend = scheme.split("+", 1)[0].lower()
    options: dict[str, Any] = {}
    if backend in ("postgresql", "postgres"):
        url = f"postgres://{rest}"
        if "connect_timeout" not in urllib.parse.urlsplit(url).query:
            options["connect_timeout"] = 5
    password = urllib.parse.urlsplit(url).password
    try:
        con = ibis.connect(url, **options)
    except ModuleNotFoundError as e:
        raise EventStoreUnavailable(
            shown,
            f"the Ibis backend for {backend} is not installed ({e.name} is missing)",
            f"pip install 'ibis-framework[{backend}]'",
        ) from None
    except ValueError as e:
        if "know how to connect" not in str(e):
            raise EventStoreUnavailable(shown, _one_line(e, password), _CONNECT_FIX) from None
        raise EventStoreUnavailable(
            shown,
            f"no Ibis backend is called {backend!r}",
            "use a folder, postgresql://..., or an Ibis URL (duckdb://, trino://, bigquery://)",
        ) from None
    except Exception as e:  # the driver's connection errors, whatever the engine
        raise EventStoreUnavailable(shown, _one_line(e, password), _CONNECT_FIX) from None
    try:
        return _from_backend(con, names, shown, owned=True)
    except BaseException:
        con.disconnect()
        raise


def _from_backend(con: Any, names: dict[str, str | None], shown: str, *, owned: bool) -> EventStore:
    exposures = _table(con, names["exposures"], EXPOSURE_COLUMNS, shown)
    if names["outcomes"] is None:
        outcomes = ibis.memtable(SCHEMAS["outcomes"].empty_table())
    else:
        outcomes = _table(con, names["outcomes"], OUTCOME_COLUMNS, shown)
    return EventStore(con, exposures, outcomes, shown, _owned=owned)


def _table(con: Any, name: str | None, columns: tuple[str, ...], shown: str) -> ir.Table:
    assert name is not None
    *path, table_name = name.split(".")
    database: Any = None if not path else path[0] if len(path) == 1 else tuple(path)
    try:
        if con.name == "duckdb":
            table = _duckdb_table(con, table_name, database)
        else:
            table = con.table(table_name, database=database)
    except Exception as e:  # TableNotFound, or the engine's own "no such schema"
        raise EventStoreUnavailable(
            shown, f"table {name!r} not found ({_one_line(e)})", _TABLES_FIX
        ) from None
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise EventStoreUnavailable(
            shown,
            f"table {name!r} lacks columns {missing}",
            "give it the columns of docs/events.md (a view can rename them)",
        )
    return table
