"""Readers: the glob and Hive options, typed partition columns, and an empty store."""

from datetime import UTC, datetime

import duckdb

from champion.events import (
    ParquetSink,
    exposures_relation,
    outcomes_relation,
    parquet_source,
    shadow_relation,
)
from champion.events.schema import EXPOSURE_SCHEMA, OUTCOME_SCHEMA, SHADOW_SCHEMA
from tests.events._helpers import make_exposure, make_outcome


def test_the_source_names_the_glob_and_the_partition_types(tmp_path):
    source = parquet_source(tmp_path, "exposures")
    assert source.glob == f"{tmp_path}/exposures/**/*.parquet"
    assert source.folder == f"{tmp_path}/exposures"
    assert source.hive_partitioning is True
    assert source.hive_types == {"experiment": "VARCHAR", "date": "DATE"}
    assert parquet_source(tmp_path, "outcomes").hive_types == {"date": "DATE"}


def test_an_empty_store_reads_as_typed_empty_tables(tmp_path):
    con = duckdb.connect()
    for relation, schema in [
        (exposures_relation(tmp_path, con), EXPOSURE_SCHEMA),
        (shadow_relation(tmp_path, con), SHADOW_SCHEMA),
        (outcomes_relation(tmp_path, con), OUTCOME_SCHEMA),
    ]:
        assert relation.columns == schema.names
        assert relation.aggregate("count(*)").fetchall() == [(0,)]
    assert str(exposures_relation(tmp_path, con).types[0]) == "TIMESTAMP WITH TIME ZONE"
    con.close()


def test_an_experiment_named_like_a_number_stays_text(tmp_path):
    ParquetSink(tmp_path).write([make_exposure(experiment="2024")], "b1")
    con = duckdb.connect()
    got = exposures_relation(tmp_path, con).select("experiment, typeof(experiment)").fetchall()
    assert got == [("2024", "VARCHAR")]
    con.close()


def test_relations_list_files_when_they_run(tmp_path):
    sink = ParquetSink(tmp_path)
    day = datetime(2024, 5, 1, tzinfo=UTC)
    sink.write([make_outcome(1, ts=day)], "b1")
    con = duckdb.connect()
    outcomes = outcomes_relation(tmp_path, con)
    assert outcomes.aggregate("count(*)").fetchall() == [(1,)]
    sink.write([make_outcome(2, ts=day)], "b2")
    assert outcomes.aggregate("count(*)").fetchall() == [(2,)]
    con.close()


def test_attributes_are_read_as_a_map_by_key(tmp_path):
    ParquetSink(tmp_path).write(
        [make_exposure(1, attributes={"country": "FR"}), make_exposure(2, attributes={})], "b1"
    )
    con = duckdb.connect()
    got = (
        exposures_relation(tmp_path, con)
        .select("unit_id, attributes['country']")
        .order("unit_id")
        .fetchall()
    )
    assert got == [("u1", "FR"), ("u2", None)]
    con.close()
