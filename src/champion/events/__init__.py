"""The event log: exposures, shadow calls and outcomes, written for the analysis to read.

The gateway builds events (:class:`Exposure`, :class:`Shadow`, :class:`Outcome`) and logs
them through an :class:`EventWriter`; the writer batches them in a background thread into
a sink: Parquet segments in a Hive-partitioned folder (default) or PostgreSQL tables.
The readers hand the Parquet layout to DuckDB (or its glob and options to any engine).
"""

from champion.events.outcomes import LoadResult, load_outcome_file, read_outcome_file
from champion.events.parquet import ParquetSink
from champion.events.postgres import PostgresSink
from champion.events.prediction import encode_prediction
from champion.events.readers import (
    ParquetSource,
    exposures_relation,
    outcomes_relation,
    parquet_source,
    relation,
    shadow_relation,
)
from champion.events.schema import (
    EXPOSURE_SCHEMA,
    OUTCOME_SCHEMA,
    SHADOW_SCHEMA,
    Event,
    Exposure,
    Outcome,
    Shadow,
)
from champion.events.signals import flush_on_sigterm
from champion.events.sink import EventSink
from champion.events.store import open_sink, open_writer
from champion.events.writer import EventWriter, WriterStats

__all__ = [
    "EXPOSURE_SCHEMA",
    "OUTCOME_SCHEMA",
    "SHADOW_SCHEMA",
    "Event",
    "EventSink",
    "EventWriter",
    "Exposure",
    "LoadResult",
    "Outcome",
    "ParquetSink",
    "ParquetSource",
    "PostgresSink",
    "Shadow",
    "WriterStats",
    "encode_prediction",
    "exposures_relation",
    "flush_on_sigterm",
    "load_outcome_file",
    "open_sink",
    "open_writer",
    "outcomes_relation",
    "parquet_source",
    "read_outcome_file",
    "relation",
    "shadow_relation",
]
