"""Deterministic assignment: units to variants by hash version 1, in Python, numpy and SQL.

See docs/assignment.md for the frozen algorithm, the layout of buckets and the rules' order.
"""

from champion.assign.assigner import Assigner
from champion.assign.hashing import (
    ALGORITHM,
    BUCKETS,
    HASH_VERSION,
    bucket,
    buckets,
    fmix32,
    hash32,
)
from champion.assign.layout import Layout, build_layout, sector_bounds, share_to_buckets
from champion.assign.result import REASONS, Assignment
from champion.assign.sql import bucket_sql, install_sql, quote_literal, variant_sql
from champion.assign.targeting import Targeting
from champion.assign.units import UNITS, pick_unit_id

__all__ = [
    "ALGORITHM",
    "BUCKETS",
    "HASH_VERSION",
    "REASONS",
    "UNITS",
    "Assigner",
    "Assignment",
    "Layout",
    "Targeting",
    "bucket",
    "bucket_sql",
    "buckets",
    "build_layout",
    "fmix32",
    "hash32",
    "install_sql",
    "pick_unit_id",
    "quote_literal",
    "sector_bounds",
    "share_to_buckets",
    "variant_sql",
]
