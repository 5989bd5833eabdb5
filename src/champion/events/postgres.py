"""The PostgreSQL event store: tables ``exposures``, ``shadow`` and ``outcomes``.

Same columns as the Parquet layout (``attributes`` as JSONB, ``prediction`` as the JSON
text it was logged as, ``date`` as a plain column). Rows go in with COPY, in one
transaction per batch together with the batch id in ``champion_event_batches``: a batch
replayed from the journal after an ambiguous failure is recognised and skipped.

The sink connects lazily and creates missing tables on first use, so a writer starts
while the database is down and spills until it answers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from operator import attrgetter
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.engine import Engine, make_url

from champion.errors import EventSinkUnavailable, InvalidArgument
from champion.events.schema import SCHEMAS, Event
from champion.events.sink import EventSink, by_kind

__all__ = ["BATCHES_TABLE", "PostgresSink", "event_tables"]

BATCHES_TABLE = "champion_event_batches"
_FIX = "check the URL and that the database is up; events wait in the journal until then"
_DDL_LOCK = 0x63686D70  # advisory lock id: concurrent writers create the tables once


def _column_type(name: str, arrow: Any) -> Any:
    if name == "attributes":
        return JSONB
    if name == "ts":
        return sa.TIMESTAMP(timezone=True)
    if name == "date":
        return sa.Date
    return {
        pa.string(): sa.Text,
        pa.float64(): sa.Float(53),
        pa.int32(): sa.Integer,
        pa.bool_(): sa.Boolean,
    }[arrow]


def event_tables(metadata: sa.MetaData, schema: str | None = None) -> dict[str, sa.Table]:
    """The SQLAlchemy tables for each kind, plus the batch ledger, on ``metadata``."""
    tables = {}
    for kind, arrow_schema in SCHEMAS.items():
        columns = [
            sa.Column(f.name, _column_type(f.name, f.type), nullable=f.nullable)
            for f in arrow_schema
        ]
        tables[kind] = sa.Table(kind, metadata, *columns, schema=schema)
    sa.Index("ix_exposures_experiment_date", tables["exposures"].c.experiment,
             tables["exposures"].c.date)  # fmt: skip
    sa.Index("ix_exposures_unit_id", tables["exposures"].c.unit_id)
    sa.Index("ix_shadow_experiment_date", tables["shadow"].c.experiment, tables["shadow"].c.date)
    sa.Index("ix_outcomes_unit_id_metric", tables["outcomes"].c.unit_id,
             tables["outcomes"].c.metric)  # fmt: skip
    tables[BATCHES_TABLE] = sa.Table(
        BATCHES_TABLE,
        metadata,
        sa.Column("batch_id", sa.Text, primary_key=True),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("stored_at", sa.TIMESTAMP(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        schema=schema,
    )  # fmt: skip
    return tables


def _redact(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def _one_line(error: BaseException) -> str:
    orig = getattr(error, "orig", None) or error
    lines = str(orig).strip().splitlines()
    return re.sub(r"\s+", " ", lines[0]).strip() if lines else type(orig).__name__


def _no_nul(value: Any) -> Any:
    """PostgreSQL text (and JSONB) cannot hold NUL characters; Parquet can."""
    if type(value) is str and "\x00" in value:
        return value.replace("\x00", "\ufffd")
    return value


def _attributes_json(event: Any) -> str:
    return json.dumps({_no_nul(k): _no_nul(v) for k, v in event.attributes.items()})


_GETTERS = {"attributes": _attributes_json, "date": lambda e: e.ts.date()}


def _connection_errors() -> tuple[type[Exception], ...]:
    """psycopg's own connection errors: COPY talks to the driver past SQLAlchemy."""
    try:
        import psycopg
    except ImportError:
        return ()
    return (psycopg.OperationalError, psycopg.InterfaceError)


class PostgresSink(EventSink):
    """Stores batches in PostgreSQL (psycopg 3) through SQLAlchemy."""

    def __init__(
        self, url: str, *, schema: str | None = None, connect_timeout: float = 5.0
    ) -> None:
        text = re.sub(r"^postgres(ql)?://", "postgresql+psycopg://", url.strip())
        try:
            parsed = make_url(text)
        except sa.exc.ArgumentError:
            raise InvalidArgument(
                "url", _redact(url), "must be a database URL like postgresql://user@host/db"
            ) from None
        if parsed.get_backend_name() != "postgresql":
            raise InvalidArgument(
                "url", _redact(url), "must be a PostgreSQL URL (postgresql://user@host/db)"
            )
        self.url = parsed
        self.target = parsed.render_as_string(hide_password=True)
        self.schema = schema
        self._connect_timeout = connect_timeout
        self._engine: Engine | None = None
        self._metadata = sa.MetaData()
        self.tables = event_tables(self._metadata, schema)

    def _ready_engine(self) -> Engine:
        if self._engine is None:
            engine = sa.create_engine(
                self.url,
                pool_size=1,
                max_overflow=1,
                pool_pre_ping=True,
                connect_args={"connect_timeout": max(1, round(self._connect_timeout))},
            )
            try:
                with engine.begin() as conn:
                    conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_DDL_LOCK)))
                    if self.schema:
                        conn.execute(sa.schema.CreateSchema(self.schema, if_not_exists=True))
                    self._metadata.create_all(conn, checkfirst=True)
            except BaseException:
                engine.dispose()
                raise
            self._engine = engine
        return self._engine

    def write(self, events: Sequence[Event], batch_id: str) -> int:
        lost = _connection_errors()
        try:
            engine = self._ready_engine()
            with engine.begin() as conn:
                ledger = self.tables[BATCHES_TABLE]
                claimed = conn.execute(
                    insert(ledger)
                    .values(batch_id=batch_id, rows=len(events))
                    .on_conflict_do_nothing()
                    .returning(ledger.c.batch_id)
                ).first()
                if claimed is None:
                    return 0  # stored before: a replay after an ambiguous failure
                for kind, rows in by_kind(events).items():
                    self._copy(conn, kind, rows)
        except (sa.exc.OperationalError, sa.exc.InterfaceError, *lost) as e:
            raise EventSinkUnavailable(self.target, _one_line(e), _FIX) from e
        except sa.exc.DBAPIError as e:
            if e.connection_invalidated:
                raise EventSinkUnavailable(self.target, _one_line(e), _FIX) from e
            raise
        return len(events)

    def _copy(self, conn: sa.Connection, kind: str, events: list[Event]) -> None:
        names = [f.name for f in SCHEMAS[kind]]
        getters = [_GETTERS.get(n) or attrgetter(n) for n in names]
        rows = [tuple(_no_nul(get(e)) for get in getters) for e in events]
        cursor = conn.connection.driver_connection.cursor()
        try:
            if hasattr(cursor, "copy"):  # psycopg 3
                columns = ", ".join(f'"{n}"' for n in names)
                table = f'"{self.schema}"."{kind}"' if self.schema else f'"{kind}"'
                with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:  # another driver: one executemany
                conn.execute(
                    self.tables[kind].insert(), [dict(zip(names, r, strict=True)) for r in rows]
                )
        finally:
            cursor.close()

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
