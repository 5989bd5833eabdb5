"""A throwaway PostgreSQL server on 127.0.0.1 for the tests, started from Debian's binaries.

initdb and pg_ctl refuse to run as root, so under root they run as the ``postgres`` system
user, in a temporary folder it owns. Outside CI a machine without the binaries skips the
PostgreSQL tests; in CI (``CI`` set) their absence is a failure.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

__all__ = ["find_pg_bin", "running_postgres"]


def find_pg_bin() -> str | None:
    for found in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(os.path.join(found, "initdb")):
            return found
    initdb = shutil.which("initdb")
    return os.path.dirname(os.path.realpath(initdb)) if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_server_user(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@contextmanager
def running_postgres() -> Iterator[str]:
    """Start a server; yield a SQLAlchemy URL to its ``postgres`` database; stop it after."""
    bin_dir = find_pg_bin()
    if bin_dir is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL binaries are missing in CI: scripts/test.sh must install them")
        pytest.skip("PostgreSQL server binaries not installed (apt-get install postgresql)")
    data = tempfile.mkdtemp(prefix="champion-pg-", dir="/tmp")
    if os.geteuid() == 0:
        shutil.chown(data, "postgres", "postgres")
    port = _free_port()
    run = {"check": True, "capture_output": True, "timeout": 120}
    subprocess.run(
        _as_server_user([f"{bin_dir}/initdb", "-D", data, "-U", "postgres", "-A", "trust",
                         "--no-sync", "-E", "UTF8", "--locale=C"]),
        **run,
    )  # fmt: skip
    options = f"-h 127.0.0.1 -p {port} -k {data} -F -c fsync=off -c full_page_writes=off"
    subprocess.run(
        _as_server_user([f"{bin_dir}/pg_ctl", "-D", data, "-o", options, "-l", f"{data}/log",
                         "-w", "-t", "60", "start"]),
        **run,
    )  # fmt: skip
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            _as_server_user([f"{bin_dir}/pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"]),
            check=False, capture_output=True, timeout=60,
        )  # fmt: skip
        shutil.rmtree(data, ignore_errors=True)


def create_database(server_url: str) -> str:
    """A new empty database on the server; returns its URL."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    plain = server_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + f"/{name}"
