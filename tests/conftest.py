"""Shared test fixtures: paths to the repository's examples."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def fraud_spec() -> Path:
    return ROOT / "examples" / "fraud-detector.yaml"
