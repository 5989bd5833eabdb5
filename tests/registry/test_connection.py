"""Opening the registry: URL defaults, SQLite settings, and one-line errors for bad URLs."""

import doctest
import socket
import sqlite3

import pytest
import sqlalchemy as sa

from champion.errors import RegistryUnavailable
from champion.registry import DEFAULT_URL, Registry, redact, resolve_url
from champion.registry import store as store_module


@pytest.fixture
def no_env(monkeypatch):
    monkeypatch.delenv("CHAMPION_DB", raising=False)
    monkeypatch.delenv("CHAMPION_REGISTRY", raising=False)


def test_default_url_is_champion_db_in_the_working_folder(no_env, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve_url() == DEFAULT_URL == "sqlite:///champion.db"
    with Registry() as registry:
        assert registry.url == "sqlite:///champion.db"
    assert (tmp_path / "champion.db").is_file()


def test_environment_variable_overrides_the_default(no_env, monkeypatch, tmp_path):
    monkeypatch.setenv("CHAMPION_DB", str(tmp_path / "env.db"))
    assert resolve_url() == f"sqlite:///{tmp_path / 'env.db'}"  # the older name still works
    monkeypatch.setenv("CHAMPION_REGISTRY", str(tmp_path / "new.db"))
    assert resolve_url() == f"sqlite:///{tmp_path / 'new.db'}"  # and yields to the CLI's
    assert resolve_url("sqlite:///given.db") == "sqlite:///given.db"


@pytest.mark.parametrize(
    ("given", "resolved"),
    [
        ("reg.db", "sqlite:///reg.db"),
        ("/srv/reg.db", "sqlite:////srv/reg.db"),
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
    ],
)
def test_bare_paths_are_sqlite_and_postgresql_uses_psycopg(no_env, given, resolved):
    assert resolve_url(given) == resolved


def test_redact_hides_the_password():
    assert redact("postgresql+psycopg://ann:s3cret@db:5432/reg") == (
        "postgresql+psycopg://ann:***@db:5432/reg"
    )


def test_sqlite_file_runs_in_wal_mode(tmp_path):
    path = tmp_path / "wal.db"
    with Registry(f"sqlite:///{path}"):
        pass
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_in_memory_registry_works_for_a_quick_try():
    failures, _ = doctest.testmod(store_module, verbose=False)
    assert failures == 0


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_postgresql_that_refuses_is_unavailable_in_one_line_without_the_password():
    url = f"postgresql://ann:s3cret@127.0.0.1:{_closed_port()}/reg"
    with pytest.raises(RegistryUnavailable) as info:
        Registry(url)
    message = str(info.value)
    assert "\n" not in message
    assert "s3cret" not in message
    assert message.startswith("registry postgresql+psycopg://ann:***@127.0.0.1:")
    assert "Connection refused; check the URL given with --registry or $CHAMPION_REGISTRY" in (
        message
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "sqlite:////no/such/folder/reg.db",
            "unavailable: folder /no/such/folder does not exist; create the folder",
        ),
        (
            "postgresql://u@h:notaport/db",
            r"not a database URL .*; use e.g. sqlite:///champion.db",
        ),
        ("mysql+nosuchdriver://h/db", r"no driver for mysql\+nosuchdriver .*; install it"),
    ],
)
def test_unusable_urls_are_unavailable_with_the_fix(url, message):
    with pytest.raises(RegistryUnavailable, match=message):
        Registry(url)


def test_a_file_that_is_not_a_database_is_unavailable(tmp_path):
    path = tmp_path / "notes.db"
    path.write_text("not a database, just notes\n" * 200)
    with pytest.raises(RegistryUnavailable, match="file is not a database"):
        Registry(f"sqlite:///{path}")


def test_tables_from_a_newer_champion_are_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 'new.db'}"
    Registry(url).close()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE champion_meta SET value = 99 WHERE key = 'schema_version'"))
    engine.dispose()
    with pytest.raises(RegistryUnavailable, match="schema 99, newer than this champion's 1"):
        Registry(url)


def test_busy_timeout_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="busy_timeout=0 is invalid"):
        Registry(f"sqlite:///{tmp_path / 'x.db'}", busy_timeout=0)
