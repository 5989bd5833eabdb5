"""Shared fixtures: example paths and a throwaway PostgreSQL server."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._postgres import create_database, running_postgres

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def fraud_spec() -> Path:
    return ROOT / "examples" / "fraud-detector.yaml"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """URL of a PostgreSQL server started for this test session (one per xdist worker)."""
    with running_postgres() as url:
        yield url


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """URL of a fresh, empty database on the session's server."""
    return create_database(postgres_server)
