"""The ``spark`` marker: PySpark local-mode runs, skipped without Java and pyspark outside CI."""

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "spark: runs the analysis on PySpark in local mode (needs Java and pyspark)"
    )
