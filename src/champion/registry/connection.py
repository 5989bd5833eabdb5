"""Opening the registry's database: URL defaults, SQLite tuning, and readable failures.

SQLite runs in WAL mode (readers never block the writer) with a busy timeout, and every
write transaction starts with ``BEGIN IMMEDIATE``: concurrent writers queue for the write
lock instead of failing later with "database is locked" when a read turns into a write.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.pool import StaticPool

from champion.errors import RegistryUnavailable

__all__ = [
    "DEFAULT_URL",
    "ENV_VAR",
    "WRITE",
    "open_engine",
    "redact",
    "resolve_url",
    "translate_errors",
]

ENV_VAR = "CHAMPION_REGISTRY"
_OLD_ENV_VAR = "CHAMPION_DB"  # the earlier name, still read when the new one is unset
DEFAULT_URL = "sqlite:///champion.db"
# Execution option that marks a connection as a writer (SQLite: BEGIN IMMEDIATE).
WRITE = "champion_write"

_FIX = f"check the URL given with --registry or ${ENV_VAR} and that the database is reachable"


def resolve_url(url: str | None = None) -> str:
    """The URL to open: ``url``, else $CHAMPION_REGISTRY (or the older $CHAMPION_DB), else
    ``champion.db`` in the working folder.

    A bare path means a SQLite file; ``postgresql://`` and ``postgres://`` use psycopg 3.
    """
    url = (url or os.environ.get(ENV_VAR) or os.environ.get(_OLD_ENV_VAR) or DEFAULT_URL).strip()
    if "://" not in url:
        return f"sqlite:///{url}"
    return re.sub(r"^postgres(ql)?://", "postgresql+psycopg://", url)


def redact(url: str | URL) -> str:
    """The URL as it can be shown in messages and logs: the password becomes ``***``."""
    if isinstance(url, str):
        try:
            url = make_url(url)
        except (sa.exc.ArgumentError, ValueError):
            return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)
    return url.render_as_string(hide_password=True)


def _one_line(error: BaseException) -> str:
    orig = getattr(error, "orig", None) or error
    text = str(orig).strip().splitlines()
    return re.sub(r"\s+", " ", text[0]).strip() if text else type(orig).__name__


@contextmanager
def translate_errors(shown: str) -> Iterator[None]:
    """A lost or refused database connection becomes RegistryUnavailable, in one line."""
    try:
        yield
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as e:
        problem = _one_line(e)
        fix = _FIX
        if "locked" in problem or "busy" in problem:
            fix = "another process held the write lock longer than the busy timeout; retry"
        raise RegistryUnavailable(shown, problem, fix) from e
    except sa.exc.DatabaseError as e:
        if isinstance(e, sa.exc.IntegrityError | sa.exc.ProgrammingError):
            raise
        raise RegistryUnavailable(shown, _one_line(e), _FIX) from e


def _sqlite_engine(url: URL, shown: str, busy_timeout: float) -> Engine:
    database = url.database or ""
    memory = database in ("", ":memory:") or database.startswith("file::memory:")
    if not memory:
        folder = Path(database).expanduser().resolve().parent
        if not folder.is_dir():
            raise RegistryUnavailable(
                shown,
                f"folder {folder} does not exist",
                f"create the folder or point --registry / ${ENV_VAR} at an existing one",
            )
    options: dict = {"connect_args": {"timeout": busy_timeout, "check_same_thread": False}}
    if memory:  # one shared connection, or every checkout would see a new empty database
        options["poolclass"] = StaticPool
    engine = sa.create_engine(url, **options)

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        write = conn.get_execution_options().get(WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def open_engine(url: str | None = None, *, busy_timeout: float = 30.0) -> tuple[Engine, str]:
    """An engine whose database answered a first connection, and its redacted URL.

    Raises RegistryUnavailable, in one line with the fix, for a URL that is not a database
    URL, a missing driver, a SQLite file in a missing folder, or a server that refuses.
    """
    text = resolve_url(url)
    shown = redact(text)
    try:
        parsed = make_url(text)
        parsed.get_backend_name()
    except (sa.exc.ArgumentError, ValueError) as e:
        raise RegistryUnavailable(
            shown,
            f"not a database URL ({_one_line(e)})",
            "use e.g. sqlite:///champion.db or postgresql+psycopg://user@host:5432/db",
        ) from None
    try:
        if parsed.get_backend_name() == "sqlite":
            engine = _sqlite_engine(parsed, shown, busy_timeout)
        elif parsed.get_backend_name() == "postgresql":
            engine = sa.create_engine(
                parsed, pool_pre_ping=True, connect_args={"connect_timeout": 10}
            )
        else:
            engine = sa.create_engine(parsed, pool_pre_ping=True)
    except (sa.exc.NoSuchModuleError, ImportError) as e:
        raise RegistryUnavailable(
            shown,
            f"no driver for {parsed.drivername} ({_one_line(e)})",
            "install it (PostgreSQL: pip install 'champion[postgres]') or use a sqlite:/// URL",
        ) from None
    try:
        with translate_errors(shown), engine.connect():
            pass
    except RegistryUnavailable:
        engine.dispose()
        raise
    return engine, shown
