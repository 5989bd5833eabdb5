"""Hash version 1 and an experiment's variant as SQL expressions, for DuckDB and PostgreSQL.

Both engines reproduce the Python buckets exactly (a test compares 100,000 ids). FNV-1a is a
fold over the key's UTF-8 bytes; every intermediate value stays below 2**57, so BIGINT never
overflows: the fold multiplies a 32-bit state by a 25-bit prime, and each fmix32 multiply is
split into a 16-bit low half and a 16-bit high half, ``(h*c) mod 2**32 = (h*lo +
((h*hi) mod 2**16) * 2**16) mod 2**32``.

DuckDB (>= 1.3, for the ``lambda`` syntax) needs no installation: the bytes come from
``hex(encode(key))``, ``list_reduce`` folds them, and single-element ``list_transform`` calls
bind intermediate values. PostgreSQL folds in a small PL/pgSQL function,
``champion_bucket_v1(salt, unit_id)``, created by :func:`install_sql`; ``inline=True`` gives a
longer expression (a correlated recursive CTE, ~10x slower) for databases where you cannot
create functions.

``id_sql`` is pasted into the expression as written (a column name or expression you
control); the salt, variant names and override ids are quoted as string literals. The id is
cast to text first, so an integer column hashes as its decimal digits, like ``str(id)`` in
Python. A NULL id gives a NULL bucket.
"""

from __future__ import annotations

from typing import Any

from champion.assign.assigner import Assigner
from champion.assign.hashing import BUCKETS, FNV_OFFSET_BASIS, FNV_PRIME
from champion.errors import InvalidArgument
from champion.spec.models import Experiment

__all__ = [
    "DIALECTS",
    "POSTGRES_FUNCTION",
    "bucket_sql",
    "install_sql",
    "quote_literal",
    "variant_sql",
]

DIALECTS = ("duckdb", "postgresql")
_ALIASES = {"duckdb": "duckdb", "postgresql": "postgresql", "postgres": "postgresql"}

# fmix32 constants split into 16-bit halves: 0x85ebca6b = 34283 * 2**16 + 51819,
# 0xc2b2ae35 = 49842 * 2**16 + 44597.
_C1 = (51819, 34283)
_C2 = (44597, 49842)

POSTGRES_FUNCTION = f"""\
CREATE OR REPLACE FUNCTION champion_bucket_v1(salt text, unit_id text) RETURNS integer
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $champion$
-- Hash version 1 of champion (fnv1a32-fmix32-mod10000-v1); see docs/assignment.md.
DECLARE
  k bytea := convert_to(salt || ':' || unit_id, 'UTF8');
  h bigint := {FNV_OFFSET_BASIS};
BEGIN
  FOR i IN 0 .. length(k) - 1 LOOP
    h := ((h # get_byte(k, i)) * {FNV_PRIME}) & 4294967295;
  END LOOP;
  h := h # (h >> 16);
  h := (h * {_C1[0]} + (((h * {_C1[1]}) & 65535) << 16)) & 4294967295;
  h := h # (h >> 13);
  h := (h * {_C2[0]} + (((h * {_C2[1]}) & 65535) << 16)) & 4294967295;
  h := h # (h >> 16);
  RETURN h % {BUCKETS};
END
$champion$;
"""


def quote_literal(text: str, name: str = "value") -> str:
    """A standard SQL string literal (quotes doubled); NUL, which neither engine stores, refused.

    >>> quote_literal("it's")
    "'it''s'"
    """
    if not isinstance(text, str):
        raise InvalidArgument(name, text, "must be a str")
    if "\x00" in text:
        raise InvalidArgument(name, text, "must not contain a NUL character")
    return "'" + text.replace("'", "''") + "'"


def _dialect(dialect: str) -> str:
    if not isinstance(dialect, str) or dialect.lower() not in _ALIASES:
        raise InvalidArgument("dialect", dialect, f"must be one of {list(DIALECTS)}")
    return _ALIASES[dialect.lower()]


def _id_text(dialect: str, id_sql: str) -> str:
    if not isinstance(id_sql, str) or not id_sql.strip():
        raise InvalidArgument("id_sql", id_sql, "must be a SQL expression, e.g. a column name")
    return f"CAST(({id_sql}) AS {'VARCHAR' if dialect == 'duckdb' else 'text'})"


def _duckdb_bind(value: str, body: str) -> str:
    """``body`` with ``h`` bound to ``value`` once (DuckDB has no LET in expressions)."""
    return f"list_transform([{value}], lambda h: {body})[1]"


def _duckdb_bucket(key: str) -> str:
    fold = (
        f"list_reduce(list_transform(regexp_extract_all(hex(encode({key})), '..'), "
        f"lambda x: ('0x' || x)::BIGINT), "
        f"lambda h, b: (xor(h, b) * {FNV_PRIME}) & 4294967295, {FNV_OFFSET_BASIS}::BIGINT)"
    )
    h = fold
    for step in (
        "xor(h, h >> 16)",
        f"(h * {_C1[0]} + (((h * {_C1[1]}) & 65535) << 16)) & 4294967295",
        "xor(h, h >> 13)",
        f"(h * {_C2[0]} + (((h * {_C2[1]}) & 65535) << 16)) & 4294967295",
        f"CAST(xor(h, h >> 16) % {BUCKETS} AS INTEGER)",
    ):
        h = _duckdb_bind(h, step)
    return h


def _postgres_inline_bucket(key: str) -> str:
    return (
        "(WITH RECURSIVE f(i, h, k) AS ("
        f"SELECT 0, {FNV_OFFSET_BASIS}::bigint, convert_to({key}, 'UTF8') "
        f"UNION ALL SELECT i + 1, ((h # get_byte(k, i)) * {FNV_PRIME}) & 4294967295, k "
        "FROM f WHERE i < length(k)), "
        "a(h) AS (SELECT h # (h >> 16) FROM f WHERE i = length(k)), "
        f"b(h) AS (SELECT (h * {_C1[0]} + (((h * {_C1[1]}) & 65535) << 16)) & 4294967295 "
        "FROM a), "
        "c(h) AS (SELECT h # (h >> 13) FROM b), "
        f"d(h) AS (SELECT (h * {_C2[0]} + (((h * {_C2[1]}) & 65535) << 16)) & 4294967295 "
        "FROM c) "
        f"SELECT CAST((h # (h >> 16)) % {BUCKETS} AS integer) FROM d)"
    )


def bucket_sql(dialect: str, id_sql: str, salt: str, *, inline: bool = False) -> str:
    """A SQL expression for the unit's bucket in [0, 10000) under ``salt``.

    PostgreSQL calls ``champion_bucket_v1`` (create it once with :func:`install_sql`)
    unless ``inline`` asks for the self-contained form.

    >>> bucket_sql("postgresql", "user_id", "fraud-detector-v2")
    "champion_bucket_v1('fraud-detector-v2', CAST((user_id) AS text))"
    """
    dialect = _dialect(dialect)
    if not isinstance(salt, str) or not salt:
        raise InvalidArgument("salt", salt, "must be a non-empty str (the experiment's salt)")
    unit = _id_text(dialect, id_sql)
    if dialect == "duckdb":
        return _duckdb_bucket(f"{quote_literal(salt + ':', 'salt')} || {unit}")
    if inline:
        return _postgres_inline_bucket(f"{quote_literal(salt + ':', 'salt')} || {unit}")
    return f"champion_bucket_v1({quote_literal(salt, 'salt')}, {unit})"


def _by_bucket(dialect: str, b: str, assigner: Assigner) -> str:
    """Variant name from bucket expression ``b``, evaluating ``b`` once."""
    runs = assigner.layout.ranges
    names = [quote_literal(v, "variant") for _, _, v in runs]
    if len(runs) == 1:
        return names[0]
    if dialect == "postgresql":
        # width_bucket(b, thresholds) counts the thresholds <= b: the run's index, from 0.
        edges = ", ".join(str(start) for start, _, _ in runs[1:])
        return f"(ARRAY[{', '.join(names)}])[width_bucket({b}, ARRAY[{edges}]) + 1]"
    whens = " ".join(f"WHEN h < {end} THEN {n}" for (_, end, _), n in zip(runs, names, strict=True))
    return _duckdb_bind(b, f"CASE {whens} END")


def variant_sql(dialect: str, id_sql: str, experiment: Any, *, inline: bool = False) -> str:
    """A SQL expression for the variant, matching ``Assigner.assign_batch`` exactly.

    ``experiment`` is an :class:`Assigner` (e.g. built from a registry's live state) or an
    :class:`Experiment` spec. Overrides, the global holdout and the layer are applied, in the
    same order as in Python; targeting is not (it needs request attributes), so filter rows
    on your targeting columns yourself.
    """
    if isinstance(experiment, Experiment):
        experiment = Assigner.from_spec(experiment)
    if not isinstance(experiment, Assigner):
        raise InvalidArgument("experiment", experiment, "must be an Assigner or an Experiment spec")
    dialect = _dialect(dialect)
    champion = quote_literal(experiment.layout.champion, "variant")
    unit = _id_text(dialect, id_sql)
    whens = []
    if experiment.overrides:
        pins = " ".join(
            f"WHEN {quote_literal(k, 'overrides')} THEN {quote_literal(v, 'variant')}"
            for k, v in experiment.overrides.items()
        )
        ids = ", ".join(quote_literal(k, "overrides") for k in experiment.overrides)
        whens.append(f"WHEN {unit} IN ({ids}) THEN CASE {unit} {pins} END")
    if experiment.holdout is not None:
        hb = bucket_sql(dialect, id_sql, experiment.holdout.salt, inline=inline)
        whens.append(f"WHEN {hb} < {experiment.holdout_below} THEN {champion}")
    span = experiment.layer_range  # None exactly when there is no layer
    if experiment.layer is not None and span is not None:
        lb = bucket_sql(dialect, id_sql, experiment.layer.name, inline=inline)
        whens.append(f"WHEN NOT ({lb} BETWEEN {span.start} AND {span.stop - 1}) THEN {champion}")
    hashed = _by_bucket(
        dialect, bucket_sql(dialect, id_sql, experiment.salt, inline=inline), experiment
    )
    if not whens:
        return hashed
    return f"CASE {' '.join(whens)} ELSE {hashed} END"


def install_sql(engine: Any) -> None:
    """Create ``champion_bucket_v1`` in a PostgreSQL database (a SQLAlchemy Engine or Connection).

    Idempotent (``CREATE OR REPLACE``). DuckDB needs nothing installed.
    """
    import sqlalchemy as sa

    name = getattr(getattr(engine, "dialect", None), "name", None)
    if name != "postgresql":
        raise InvalidArgument(
            "engine",
            engine,
            "must be a SQLAlchemy Engine/Connection to PostgreSQL "
            "(DuckDB needs no installation: bucket_sql('duckdb', ...) is self-contained)",
        )
    statement = sa.text(POSTGRES_FUNCTION)
    if isinstance(engine, sa.engine.Connection):
        engine.execute(statement)
        return
    with engine.begin() as conn:
        conn.execute(statement)
