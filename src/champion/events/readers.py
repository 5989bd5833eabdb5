"""Reading the Parquet layout back: a glob and Hive options any engine takes, or DuckDB.

``parquet_source(root, "exposures")`` says where the files are and how to read their
partition columns; ``exposures_relation(root)`` hands back a lazy DuckDB relation with the
columns in schema order. Partition values are typed explicitly (``experiment`` VARCHAR,
``date`` DATE): left to guess, DuckDB reads an experiment named ``2024`` as a number.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from champion.events.schema import SCHEMAS, event_type

__all__ = [
    "ParquetSource",
    "exposures_relation",
    "outcomes_relation",
    "parquet_source",
    "relation",
    "shadow_relation",
]

# Column types in DuckDB's words, for an empty store's typed empty result.
_DUCKDB_TYPES = {
    "ts": "TIMESTAMPTZ",
    "latency_ms": "DOUBLE",
    "score": "DOUBLE",
    "divergence": "DOUBLE",
    "served_score": "DOUBLE",
    "probability": "DOUBLE",
    "value": "DOUBLE",
    "attributes": "MAP(VARCHAR, VARCHAR)",
    "allocation_version": "INTEGER",
    "exposed": "BOOLEAN",
    "date": "DATE",
}
_HIVE_TYPES = {"experiment": "VARCHAR", "date": "DATE"}


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True, slots=True)
class ParquetSource:
    """Where one kind's segments are and how to read them.

    ``glob`` goes to DuckDB's ``read_parquet``, Ibis' ``read_parquet``, Spark's
    ``spark.read.parquet(folder)`` (use ``folder``: Spark discovers partitions itself).
    """

    kind: str
    folder: str
    glob: str
    columns: tuple[str, ...]
    hive_partitioning: bool = True
    hive_types: dict[str, str] = field(default_factory=dict)

    def read_parquet_sql(self) -> str:
        """``read_parquet(...)`` for DuckDB SQL; needs at least one file to exist."""
        types = ", ".join(f"{_quote(k)}: {_quote(v)}" for k, v in self.hive_types.items())
        return (
            f"read_parquet({_quote(self.glob)}, hive_partitioning = true, "
            f"hive_types = {{{types}}}, union_by_name = true)"
        )

    def has_files(self) -> bool:
        folder = Path(self.folder)
        return folder.is_dir() and next(folder.rglob("*.parquet"), None) is not None

    def select_sql(self) -> str:
        """A SELECT of every column in schema order; typed and empty when no file exists."""
        if self.has_files():
            return f"SELECT {', '.join(self.columns)} FROM {self.read_parquet_sql()}"
        casts = ", ".join(
            f"CAST(NULL AS {_DUCKDB_TYPES.get(c, 'VARCHAR')}) AS {c}" for c in self.columns
        )
        return f"SELECT {casts} WHERE false"


def parquet_source(root: str | os.PathLike[str], kind: str) -> ParquetSource:
    """The glob and Hive options for one kind (``exposures``, ``shadow`` or ``outcomes``)."""
    cls = event_type(kind)
    folder = Path(root) / kind
    return ParquetSource(
        kind=kind,
        folder=str(folder),
        glob=str(folder / "**" / "*.parquet"),
        columns=tuple(f.name for f in SCHEMAS[kind]),
        hive_types={name: _HIVE_TYPES[name] for name in cls.partition_by},
    )


def relation(
    root: str | os.PathLike[str], kind: str, con: duckdb.DuckDBPyConnection | None = None
) -> duckdb.DuckDBPyRelation:
    """A lazy DuckDB relation over one kind's segments (files are listed when it runs)."""
    con = con if con is not None else duckdb.connect()
    return con.sql(parquet_source(root, kind).select_sql())


def exposures_relation(
    root: str | os.PathLike[str], con: duckdb.DuckDBPyConnection | None = None
) -> duckdb.DuckDBPyRelation:
    return relation(root, "exposures", con)


def shadow_relation(
    root: str | os.PathLike[str], con: duckdb.DuckDBPyConnection | None = None
) -> duckdb.DuckDBPyRelation:
    return relation(root, "shadow", con)


def outcomes_relation(
    root: str | os.PathLike[str], con: duckdb.DuckDBPyConnection | None = None
) -> duckdb.DuckDBPyRelation:
    return relation(root, "outcomes", con)
