"""First exposures on DuckDB from numbers only: one packed ``MIN`` per unit, decoded after.

Picking a unit's first exposure with ``MIN`` over a struct (or ``arg_min`` per field) keeps
strings in every aggregate state, and on millions of units that state is what spills past a
memory limit. Here each exposure's payload (variant, allocation version, probability,
segment values) is hashed to 64 bits and packed under its timestamp into one 128-bit
integer, ``ts << 64 | hash``; the ``MIN`` of that per unit is the first exposure's payload
hash. A second packed ``MIN`` over the complemented hash gives the largest hash at the same
instant: when the two differ, exposures tied on ``ts`` disagree, and only those units are
re-read and settled by the documented rule (smaller ``request_id``, then smaller fields).

Hashes become values again through :func:`dictionary_query`, the distinct payloads of the
experiment with their hashes; :func:`decoder` refuses a dictionary where two payloads (or
two variants) share a hash, and the caller then falls back to the portable plan. So the
result is exactly the portable plan's, on every input.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from champion.analysis.attribution import NO_VALUE, attribute

__all__ = [
    "Dictionary",
    "HashCollision",
    "decoder",
    "dictionary_query",
    "engine_hash",
    "first_keys",
    "install",
    "packed_units",
]

_MACROS = {
    # ts in the high 64 bits: MIN orders by time first, then by the hash below it
    "champion_first_key": "(ts, h) AS (epoch_us(ts)::HUGEINT << 64) | h::HUGEINT",
    "champion_first_key_desc": (
        "(ts, h) AS (epoch_us(ts)::HUGEINT << 64) | (18446744073709551615::UBIGINT - h)::HUGEINT"
    ),
    "champion_key_hash": "(k) AS (k & 18446744073709551615::HUGEINT)::UBIGINT",
    "champion_key_hash_desc": (
        "(k) AS 18446744073709551615::UBIGINT - (k & 18446744073709551615::HUGEINT)::UBIGINT"
    ),
    # the instant packed into a key, as the exposures' own type (with or without a zone)
    "champion_key_ts": "(k) AS make_timestamp((k >> 64)::BIGINT)",
    "champion_key_tstz": "(k) AS make_timestamptz((k >> 64)::BIGINT)",
}


class HashCollision(Exception):
    """Two distinct payloads (or variants) of the experiment share a 64-bit hash."""


def install(con: Any) -> None:
    """Create the macros the packed expressions call, on an Ibis DuckDB connection."""
    for name, body in _MACROS.items():
        con.raw_sql(f"CREATE OR REPLACE TEMP MACRO {name}{body}")


# Ibis' UDF decorators are untyped (no stubs), and it reads these annotations as Ibis dtypes:
# hence the untyped-decorator, no-untyped-def and valid-type ignores.
@ibis.udf.scalar.builtin(name="hash")  # type: ignore[untyped-decorator]
def engine_hash(value) -> dt.uint64:  # type: ignore[no-untyped-def]
    """DuckDB's 64-bit hash of any value (a struct hashes all its fields)."""


@ibis.udf.scalar.builtin(name="champion_first_key")  # type: ignore[untyped-decorator]
def _first_key(ts, h) -> dt.Decimal(38, 0):  # type: ignore[no-untyped-def,valid-type]
    """``ts << 64 | h`` (a HUGEINT; Ibis sees a 38-digit decimal)."""


@ibis.udf.scalar.builtin(name="champion_first_key_desc")  # type: ignore[untyped-decorator]
def _first_key_desc(ts, h) -> dt.Decimal(38, 0):  # type: ignore[no-untyped-def,valid-type]
    """``ts << 64 | (2^64 - 1 - h)``: its MIN holds the largest hash at the first instant."""


@ibis.udf.scalar.builtin(name="champion_key_hash")  # type: ignore[untyped-decorator]
def _key_hash(key) -> dt.uint64:  # type: ignore[no-untyped-def]
    """The hash packed into a key."""


@ibis.udf.scalar.builtin(name="champion_key_hash_desc")  # type: ignore[untyped-decorator]
def _key_hash_desc(key) -> dt.uint64:  # type: ignore[no-untyped-def]
    """The hash packed into a descending key."""


@ibis.udf.scalar.builtin(name="champion_key_ts")  # type: ignore[untyped-decorator]
def _key_ts(key) -> dt.timestamp:  # type: ignore[no-untyped-def]
    """The instant packed into a key, for exposures whose ``ts`` has no zone."""


@ibis.udf.scalar.builtin(name="champion_key_tstz")  # type: ignore[untyped-decorator]
def _key_tstz(key) -> dt.Timestamp(timezone="UTC"):  # type: ignore[no-untyped-def,valid-type]
    """The instant packed into a key, for exposures whose ``ts`` is zoned."""


def _payload(t: ir.Table, segments: Sequence[str]) -> dict[str, ir.Value]:
    fields: dict[str, ir.Value] = {
        "variant": t.variant,
        "allocation_version": t.allocation_version,
        "probability": t.probability,
    }
    for i, name in enumerate(segments):
        fields[f"s{i}"] = attribute(t.attributes, name, backend="duckdb").fill_null(NO_VALUE)
    return fields


def _payload_hash(fields: dict[str, ir.Value]) -> ir.Value:
    return engine_hash(ibis.struct(fields))


def first_keys(exposed: ir.Table, segments: Sequence[str]) -> ir.Table:
    """One row per unit: ``unit_id, first_ts, multiple, payload, tied``.

    ``payload`` is the smallest payload hash at the unit's first instant, ``tied`` whether
    another exposure at that instant has a different one.
    """
    h = _payload_hash(_payload(exposed, segments))
    variant = engine_hash(exposed.variant)
    raw = exposed.group_by("unit_id").aggregate(
        low=variant.min(),
        high=variant.max(),
        first=_first_key(exposed.ts, h).min(),
        last=_first_key_desc(exposed.ts, h).min(),
    )
    key_ts = _key_tstz if exposed.ts.type().timezone is not None else _key_ts
    return raw.select(
        "unit_id",
        first_ts=key_ts(raw.first).cast(exposed.ts.type()),  # the key's high half: MIN(ts)
        multiple=raw.low != raw.high,
        payload=_key_hash(raw.first),
        tied=_key_hash(raw.first) != _key_hash_desc(raw.last),
    )


def packed_units(exposed: ir.Table, tied_source: ir.Table, segments: Sequence[str]) -> ir.Table:
    """:func:`first_keys` with tied units settled: ``unit_id, first_ts, multiple, payload``
    (the first exposure's payload hash, by the documented rule).

    ``tied_source`` is the same rows as ``exposed`` built as a different expression, so
    that Ibis does not share them as one CTE (DuckDB would materialise every exposure).
    """
    raw = first_keys(exposed, segments)
    # units whose exposures at the first instant disagree: settle by request_id
    tied = raw.filter(raw.tied).select(tied_unit="unit_id", tied_ts="first_ts")
    e = tied_source
    at_first = e.join(tied, [e.unit_id == tied.tied_unit, e.ts == tied.tied_ts])
    fields = _payload(at_first, segments)
    order = {"tie": at_first.request_id.fill_null(""), **fields}
    settled = at_first.group_by(settled_unit=at_first.tied_unit).aggregate(
        first=ibis.struct(order).min()
    )
    settled = settled.select(
        "settled_unit",
        settled=_payload_hash({name: settled.first[name] for name in fields}),
    )
    units = raw.left_join(settled, raw.unit_id == settled.settled_unit)
    return units.select(
        "unit_id",
        "first_ts",
        "multiple",
        payload=units.settled.fill_null(units.payload),
    )


def dictionary_query(exposed: ir.Table, segments: Sequence[str]) -> ir.Table:
    """Every distinct payload of the experiment with its hash and its variant's hash."""
    fields = _payload(exposed, segments)
    return exposed.group_by(**fields).aggregate(
        payload=_payload_hash(fields).min(),
        variant_hash=engine_hash(exposed.variant).min(),
    )


@dataclass(frozen=True, slots=True)
class Dictionary:
    """Hashes back to values: payload hash -> its fields."""

    payloads: dict[int, dict[str, Any]]


def decoder(rows: list[dict[str, Any]]) -> Dictionary:
    """The rows of :func:`dictionary_query` as a :class:`Dictionary`; :class:`HashCollision`
    when a hash stands for two payloads, or for two variants (``multiple`` compares the
    variants' hashes)."""
    payloads: dict[int, dict[str, Any]] = {}
    variants: dict[int, str] = {}
    for row in rows:
        fields = {k: v for k, v in row.items() if k not in ("payload", "variant_hash")}
        if payloads.setdefault(int(row["payload"]), fields) != fields:
            raise HashCollision(f"payload hash {row['payload']}")
        if variants.setdefault(int(row["variant_hash"]), row["variant"]) != row["variant"]:
            raise HashCollision(f"variant hash {row['variant_hash']}")
    return Dictionary(payloads)
