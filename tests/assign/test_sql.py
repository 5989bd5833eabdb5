"""The SQL forms of hash version 1: identical to Python on 100,000 ids in DuckDB and PostgreSQL."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pytest
import sqlalchemy as sa
from tests.assign._data import mixed_ids
from tests.assign._reference import ref_bucket

from champion.assign import Assigner, bucket_sql, install_sql, variant_sql
from champion.spec import load_spec

N = 100_000


@pytest.fixture(scope="module")
def ids() -> list[str]:
    return [*mixed_ids(N - 2), "", "x" * 2_000]


@pytest.fixture(scope="module")
def assigner(ids) -> Assigner:
    return Assigner(
        "sql-check",
        "champ",
        ["a", "b", "c"],
        {"a": 0.5, "b": 0.0, "c": 0.2},
        overrides={ids[3]: "b", ids[4]: "champ", "o'hara": "c"},
        holdout={"share": 0.05, "salt": "global"},
        layer={"name": "lay", "start": 0.1, "end": 0.9},
    )


def duck_query(ids: list[str], select: str) -> list[tuple]:
    table = pa.table({"n": np.arange(len(ids)), "id": pa.array(ids, pa.string())})
    con = duckdb.connect()
    con.register("t", table)
    return con.sql(f"SELECT {select} FROM t ORDER BY n").fetchall()


def load_postgres(url: str, ids: list[str]) -> sa.Engine:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (n integer PRIMARY KEY, id text)"))
        with conn.connection.driver_connection.cursor().copy("COPY t (n, id) FROM STDIN") as cp:
            for n, unit_id in enumerate(ids):
                cp.write_row((n, unit_id))
    return engine


def postgres_query(engine: sa.Engine, select: str) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(f"SELECT {select} FROM t ORDER BY n"))]


def test_python_duckdb_and_postgres_agree_on_100k_ids(ids, assigner, postgres_url):
    per_unit = [assigner.assign(u) for u in ids]
    variants, buckets = assigner.assign_batch(ids)
    expected = [(a.bucket, a.variant) for a in per_unit]
    assert list(zip(buckets.tolist(), variants.tolist(), strict=True)) == expected
    assert [b for b, _ in expected[:2_000]] == [ref_bucket("sql-check", u) for u in ids[:2_000]]
    assert {a.reason for a in per_unit} == {"hash", "override", "holdout", "layer"}

    duck = duck_query(
        ids, f"{bucket_sql('duckdb', 'id', 'sql-check')}, {variant_sql('duckdb', 'id', assigner)}"
    )
    assert duck == expected

    engine = load_postgres(postgres_url, ids)
    install_sql(engine)
    pg = postgres_query(
        engine,
        f"{bucket_sql('postgresql', 'id', 'sql-check')}, "
        f"{variant_sql('postgresql', 'id', assigner)}",
    )
    engine.dispose()
    assert pg == expected


def test_postgres_inline_form_needs_no_installed_function(ids, assigner, postgres_url):
    sample = ids[:3_000]
    engine = load_postgres(postgres_url, sample)
    pg = postgres_query(
        engine,
        f"{bucket_sql('postgres', 'id', 'sql-check', inline=True)}, "
        f"{variant_sql('postgresql', 'id', assigner, inline=True)}",
    )
    engine.dispose()
    variants, buckets = assigner.assign_batch(sample)
    assert pg == list(zip(buckets.tolist(), variants.tolist(), strict=True))


SALTS = ["o'brien'; DROP TABLE t; --", "ünï:cødé ✓", "back\\slash", "$champion$"]


@pytest.mark.parametrize("salt", SALTS)
def test_awkward_salts_are_quoted_in_duckdb(salt):
    sample = ["u1", "it's", "é"]
    got = duck_query(sample, bucket_sql("duckdb", "id", salt))
    assert [g[0] for g in got] == [ref_bucket(salt, u) for u in sample]


def test_awkward_salts_are_quoted_in_postgres(postgres_url):
    sample = ["u1", "it's", "é"]
    engine = load_postgres(postgres_url, sample)
    install_sql(engine)
    install_sql(engine)  # idempotent
    for salt in SALTS:
        for inline in (False, True):
            got = postgres_query(engine, bucket_sql("postgresql", "id", salt, inline=inline))
            assert [g[0] for g in got] == [ref_bucket(salt, u) for u in sample]
    engine.dispose()


def test_integer_ids_hash_as_their_decimal_text():
    con = duckdb.connect()
    got = con.sql(
        f"SELECT {bucket_sql('duckdb', 'x', 's')} FROM range(-3, 200) AS r(x) ORDER BY x"
    ).fetchall()
    assert [g[0] for g in got] == [ref_bucket("s", str(i)) for i in range(-3, 200)]


def test_null_id_gives_null():
    con = duckdb.connect()
    assert con.sql(f"SELECT {bucket_sql('duckdb', 'NULL', 's')}").fetchall() == [(None,)]


def test_variant_sql_accepts_the_spec():
    spec = load_spec("examples/fraud-detector.yaml")
    sample = mixed_ids(2_000)
    got = duck_query(sample, variant_sql("duckdb", "id", spec))
    expected, _ = Assigner.from_spec(spec).assign_batch(sample)
    assert [g[0] for g in got] == expected.tolist()


def test_postgres_expression_calls_the_versioned_function():
    assert bucket_sql("postgresql", "user_id", "it's") == (
        "champion_bucket_v1('it''s', CAST((user_id) AS text))"
    )


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: bucket_sql("mysql", "id", "s"), r"dialect='mysql' is invalid: must be one of"),
        (lambda: bucket_sql("duckdb", "id", "a\x00b"), r"salt=.* must not contain a NUL"),
        (lambda: bucket_sql("duckdb", " ", "s"), r"id_sql=' ' is invalid: must be a SQL"),
        (lambda: bucket_sql("duckdb", "id", ""), r"salt='' is invalid: must be a non-empty"),
        (lambda: variant_sql("duckdb", "id", {"a": 1}), r"must be an Assigner or an Experiment"),
    ],
)
def test_bad_sql_arguments_name_the_field(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_install_refuses_other_databases():
    engine = sa.create_engine("sqlite://")
    with pytest.raises(ValueError, match=r"must be a SQLAlchemy Engine/Connection to PostgreSQL"):
        install_sql(engine)
    engine.dispose()
