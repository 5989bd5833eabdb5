"""The same aggregation through Ibis on PySpark (local mode) as on DuckDB, on the same files.

Needs Java and pyspark: skipped without them, except in CI (``CI`` set), where a selected
``spark`` test that cannot run is a failure. Deselect with ``-m "not spark"``.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from champion.analysis.aggregate import load_analysis_data
from champion.analysis.store import open_store
from tests.analysis._events import make_spec, write_experiment
from tests.analysis.test_aggregate import FLAWS, _assert_same

pytestmark = [
    pytest.mark.spark,
    pytest.mark.filterwarnings("ignore::ResourceWarning"),  # Spark leaves sockets open
    # pyspark's pandas conversions use options and keywords pandas 3 deprecates
    pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning"),
]

SPEC = make_spec()
AS_OF = datetime(2024, 5, 6, tzinfo=UTC)


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    missing = [
        what
        for what, present in (
            ("pyspark (pip install 'pyspark>=3.5,<4.1')", importlib.util.find_spec("pyspark")),
            ("Java (apt-get install -y default-jre-headless)", shutil.which("java")),
        )
        if not present
    ]
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"the spark tests need {' and '.join(missing)} in CI")
        pytest.skip(f"needs {' and '.join(missing)}")
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("champion-tests")
        .config("spark.sql.session.timeZone", "UTC")  # instants stay UTC
        .config("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def test_pyspark_gives_the_same_data_as_duckdb(spark: Any, tmp_path: Path) -> None:
    import ibis

    write_experiment(tmp_path, SPEC, units=600, seed=3, **FLAWS)
    for kind in ("exposures", "outcomes"):  # Spark discovers the Hive partitions itself
        spark.read.parquet(str(tmp_path / kind)).createOrReplaceTempView(kind)
    with open_store(ibis.pyspark.connect(spark)) as on_spark, open_store(tmp_path) as on_duckdb:
        assert on_spark.backend == "pyspark"
        _assert_same(
            load_analysis_data(on_spark, SPEC, as_of=AS_OF),
            load_analysis_data(on_duckdb, SPEC, as_of=AS_OF),
            same_buckets=False,  # Spark buckets by MD5, DuckDB by its own hash
        )
