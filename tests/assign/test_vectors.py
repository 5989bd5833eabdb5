"""Hash version 1 is frozen: the code must reproduce the stored vectors (never regenerated here)."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from champion.assign import ALGORITHM, HASH_VERSION, Assigner, bucket_sql, hash32, variant_sql

DOCUMENT = json.loads(Path(__file__).with_name("vectors_v1.json").read_text(encoding="utf-8"))
CASES = DOCUMENT["cases"]


def test_file_is_for_this_version_and_covers_the_awkward_ids():
    assert (DOCUMENT["algorithm"], DOCUMENT["hash_version"]) == (ALGORITHM, HASH_VERSION)
    ids = [row[0] for row in CASES[0]["vectors"]]
    assert len(ids) >= 190
    assert "" in ids
    assert any(len(u) >= 1000 for u in ids)
    assert any(any(ord(ch) > 0xFFFF for ch in u) for u in ids)  # 4-byte UTF-8 (emoji)
    assert {row[4] for case in CASES for row in case["vectors"]} == {
        "hash",
        "override",
        "holdout",
        "layer",
    }


@pytest.mark.parametrize("case", CASES, ids=[c["config"]["salt"] for c in CASES])
def test_per_unit_path_reproduces_the_vectors(case):
    assigner = Assigner(**case["config"])
    for unit_id, h, b, variant, reason in case["vectors"]:
        assert hash32(case["config"]["salt"], unit_id) == h
        got = assigner.assign(unit_id)
        assert (got.bucket, got.variant, got.reason) == (b, variant, reason)


@pytest.mark.parametrize("case", CASES, ids=[c["config"]["salt"] for c in CASES])
def test_batch_path_reproduces_the_vectors(case):
    ids = [row[0] for row in case["vectors"]]
    variants, buckets = Assigner(**case["config"]).assign_batch(ids)
    assert buckets.tolist() == [row[2] for row in case["vectors"]]
    assert variants.tolist() == [row[3] for row in case["vectors"]]


@pytest.mark.parametrize("case", CASES, ids=[c["config"]["salt"] for c in CASES])
def test_duckdb_reproduces_the_vectors(case):
    ids = [row[0] for row in case["vectors"]]
    con = duckdb.connect()
    con.register("t", pa.table({"n": list(range(len(ids))), "id": ids}))
    assigner = Assigner(**case["config"])
    rows = con.sql(
        f"SELECT {bucket_sql('duckdb', 'id', case['config']['salt'])}, "
        f"{variant_sql('duckdb', 'id', assigner)} FROM t ORDER BY n"
    ).fetchall()
    assert rows == [(row[2], row[3]) for row in case["vectors"]]
