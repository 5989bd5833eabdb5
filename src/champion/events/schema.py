"""The three event kinds everything shares: exposures, shadow calls and outcomes.

Events are frozen dataclasses checked when they are built, in the caller's thread: a bad
field fails there with its name, never later inside a background batch where one bad
event would sink a thousand good ones. Each kind carries an Arrow schema whose column
names the analysis relies on. ``date`` (and ``experiment``, where there is one) are Hive
partition columns: they live in the folder names of the Parquet layout, not in the files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from operator import attrgetter
from typing import Any, ClassVar

import pyarrow as pa

from champion.errors import InvalidArgument
from champion.events._fields import (
    EXPOSURE_CHECKS,
    EXPOSURE_REQUEST_CHECKS,
    OUTCOME_CHECKS,
    SHADOW_CHECKS,
    SHADOW_REQUEST_CHECKS,
    validate,
)

__all__ = [
    "BANDIT_HOLDOUT_ATTRIBUTE",
    "EVENT_TYPES",
    "EXPOSURE_SCHEMA",
    "OUTCOME_SCHEMA",
    "SCHEMAS",
    "SHADOW_SCHEMA",
    "Event",
    "Exposure",
    "Outcome",
    "Shadow",
    "epoch_us",
    "event_type",
    "file_schema",
    "from_epoch_us",
    "to_table",
    "utc_now",
]

TS = pa.timestamp("us", tz="UTC")

#: The exposure attribute that marks a bandit's holdout unit (value "holdout"): served a
#: fixed uniform split, its rewards never train the policy and are the bandit's control.
BANDIT_HOLDOUT_ATTRIBUTE = "bandit"
ATTRIBUTES = pa.map_(pa.string(), pa.string())


def utc_now() -> datetime:
    return datetime.now(UTC)


# -- the events ----------------------------------------------------------------------------


def _plain(text: object) -> bool:
    """A non-empty ASCII str: what the checks would store as it is."""
    return type(text) is str and text != "" and text.isascii()


def _plain_map(values: object) -> bool:
    """A dict of ASCII str to ASCII str: what the attributes check would store as it is."""
    if type(values) is not dict:
        return False
    for k, v in values.items():
        if type(k) is not str or type(v) is not str or not (k.isascii() and v.isascii()):
            return False
    return True


@dataclass(frozen=True, slots=True, kw_only=True)
class Exposure:
    """A unit was served a variant: who, what, with which probability, and how it went.

    ``probability`` is the chance this unit had of getting this variant under allocation
    ``allocation_version``; ramps and bandits change it, and a valid analysis weights by it.
    ``exposed=False`` marks logged requests that are not part of the experiment (QA
    overrides, targeting misses). ``prediction`` is JSON text; ``score`` its number.
    """

    kind: ClassVar[str] = "exposures"
    partition_by: ClassVar[tuple[str, ...]] = ("experiment", "date")

    experiment: str
    unit_id: str
    variant: str
    model: str
    allocation_version: int
    probability: float
    request_id: str | None = None
    latency_ms: float | None = None
    error: str | None = None
    prediction: str | None = None
    score: float | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)
    exposed: bool = True
    ts: datetime = field(default_factory=utc_now)

    def __post_init__(self) -> None:
        validate(self, "Exposure", EXPOSURE_CHECKS)

    @classmethod
    def trusted(
        cls, experiment: str, unit_id: str, variant: str, model: str, allocation_version: int,
        probability: float, request_id: str | None, latency_ms: float | None,
        error: str | None, prediction: str | None, score: float | None,
        attributes: Mapping[str, str], exposed: bool, ts: datetime,
    ) -> Exposure:  # fmt: skip
        """An exposure whose names and numbers the caller made itself (the router: names
        from a validated spec, the assigner's probability and version, a finite latency and
        score): only what a request or a model can put in (``ts``, ids, error and
        prediction text, attributes) is checked, once per field as in the constructor.
        """
        event = object.__new__(cls)
        put = object.__setattr__
        put(event, "experiment", experiment)
        put(event, "unit_id", unit_id)
        put(event, "variant", variant)
        put(event, "model", model)
        put(event, "allocation_version", allocation_version)
        put(event, "probability", probability)
        put(event, "request_id", request_id)
        put(event, "latency_ms", latency_ms)
        put(event, "error", error)
        put(event, "prediction", prediction)
        put(event, "score", score)
        put(event, "attributes", attributes)
        put(event, "exposed", exposed)
        put(event, "ts", ts)
        if not (
            type(ts) is datetime and ts.tzinfo is UTC and _plain(unit_id)
            and (request_id is None or _plain(request_id)) and error is None
            and (prediction is None or (type(prediction) is str and prediction.isascii()))
            and _plain_map(attributes)
        ):  # fmt: skip
            validate(event, "Exposure", EXPOSURE_REQUEST_CHECKS)  # the rare slow path
        return event

    @property
    def date(self) -> date:
        """The UTC day of ``ts``: the partition the event lands in."""
        return self.ts.date()


@dataclass(frozen=True, slots=True, kw_only=True)
class Shadow:
    """A shadow model answered the same request as the served model; its answer went nowhere.

    ``divergence`` is derived: ``|score - served_score|`` when both are known, else None.
    """

    kind: ClassVar[str] = "shadow"
    partition_by: ClassVar[tuple[str, ...]] = ("experiment", "date")

    experiment: str
    unit_id: str
    model: str
    request_id: str | None = None
    prediction: str | None = None
    score: float | None = None
    latency_ms: float | None = None
    error: str | None = None
    served_score: float | None = None
    ts: datetime = field(default_factory=utc_now)
    divergence: float | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        validate(self, "Shadow", SHADOW_CHECKS)
        if self.score is not None and self.served_score is not None:
            object.__setattr__(self, "divergence", abs(self.score - self.served_score))

    @classmethod
    def trusted(
        cls, experiment: str, unit_id: str, model: str, request_id: str | None,
        prediction: str | None, score: float | None, latency_ms: float | None,
        error: str | None, served_score: float | None, ts: datetime,
    ) -> Shadow:  # fmt: skip
        """A shadow event whose names and numbers the caller made itself (see
        :meth:`Exposure.trusted`): only ``ts``, ids, error and prediction text are checked.
        """
        event = object.__new__(cls)
        put = object.__setattr__
        put(event, "experiment", experiment)
        put(event, "unit_id", unit_id)
        put(event, "model", model)
        put(event, "request_id", request_id)
        put(event, "prediction", prediction)
        put(event, "score", score)
        put(event, "latency_ms", latency_ms)
        put(event, "error", error)
        put(event, "served_score", served_score)
        put(event, "ts", ts)
        divergence = None if score is None or served_score is None else abs(score - served_score)
        put(event, "divergence", divergence)
        if not (
            type(ts) is datetime and ts.tzinfo is UTC and _plain(unit_id)
            and (request_id is None or _plain(request_id)) and error is None
            and (prediction is None or (type(prediction) is str and prediction.isascii()))
        ):  # fmt: skip
            validate(event, "Shadow", SHADOW_REQUEST_CHECKS)  # the rare slow path
        return event

    @property
    def date(self) -> date:
        return self.ts.date()


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """Something measured about a unit, often much later: a label, a conversion, revenue.

    Not tied to an experiment: the analysis attributes a unit's outcomes to its first
    exposure, inside the metric's attribution window.
    """

    kind: ClassVar[str] = "outcomes"
    partition_by: ClassVar[tuple[str, ...]] = ("date",)

    unit_id: str
    metric: str
    value: float
    ts: datetime = field(default_factory=utc_now)

    def __post_init__(self) -> None:
        validate(self, "Outcome", OUTCOME_CHECKS)

    @property
    def date(self) -> date:
        return self.ts.date()


Event = Exposure | Shadow | Outcome
EVENT_TYPES: dict[str, type[Event]] = {c.kind: c for c in (Exposure, Shadow, Outcome)}


def event_type(kind: str) -> type[Event]:
    """The event class stored under ``kind`` ("exposures", "shadow" or "outcomes")."""
    try:
        return EVENT_TYPES[kind]
    except KeyError:
        raise InvalidArgument("kind", kind, f"must be one of {', '.join(EVENT_TYPES)}") from None


# -- Arrow schemas: the full logical table, partition columns included -----------------------


def _schema(kind: str, fields: list[pa.Field]) -> pa.Schema:
    return pa.schema(fields, metadata={"champion.kind": kind, "champion.schema_version": "1"})


EXPOSURE_SCHEMA = _schema(
    "exposures",
    [
        pa.field("ts", TS, nullable=False),
        pa.field("experiment", pa.string(), nullable=False),
        pa.field("unit_id", pa.string(), nullable=False),
        pa.field("variant", pa.string(), nullable=False),
        pa.field("model", pa.string(), nullable=False),
        pa.field("request_id", pa.string()),
        pa.field("latency_ms", pa.float64()),
        pa.field("error", pa.string()),
        pa.field("prediction", pa.string()),
        pa.field("score", pa.float64()),
        pa.field("attributes", ATTRIBUTES, nullable=False),
        pa.field("allocation_version", pa.int32(), nullable=False),
        pa.field("probability", pa.float64(), nullable=False),
        pa.field("exposed", pa.bool_(), nullable=False),
        pa.field("date", pa.date32(), nullable=False),
    ],
)

SHADOW_SCHEMA = _schema(
    "shadow",
    [
        pa.field("ts", TS, nullable=False),
        pa.field("experiment", pa.string(), nullable=False),
        pa.field("request_id", pa.string()),
        pa.field("unit_id", pa.string(), nullable=False),
        pa.field("model", pa.string(), nullable=False),
        pa.field("prediction", pa.string()),
        pa.field("score", pa.float64()),
        pa.field("latency_ms", pa.float64()),
        pa.field("error", pa.string()),
        pa.field("divergence", pa.float64()),
        pa.field("served_score", pa.float64()),
        pa.field("date", pa.date32(), nullable=False),
    ],
)

OUTCOME_SCHEMA = _schema(
    "outcomes",
    [
        pa.field("ts", TS, nullable=False),
        pa.field("unit_id", pa.string(), nullable=False),
        pa.field("metric", pa.string(), nullable=False),
        pa.field("value", pa.float64(), nullable=False),
        pa.field("date", pa.date32(), nullable=False),
    ],
)

SCHEMAS: dict[str, pa.Schema] = {
    "exposures": EXPOSURE_SCHEMA,
    "shadow": SHADOW_SCHEMA,
    "outcomes": OUTCOME_SCHEMA,
}


def file_schema(kind: str) -> pa.Schema:
    """The columns stored inside a Parquet segment: the schema minus the partition columns."""
    schema = SCHEMAS[kind]
    drop = [schema.get_field_index(name) for name in EVENT_TYPES[kind].partition_by]
    for index in sorted(drop, reverse=True):
        schema = schema.remove(index)
    return schema


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_DAY_US = 86_400_000_000


def epoch_us(ts: datetime) -> int:
    """Microseconds since 1970-01-01 UTC: how timestamps travel (Arrow, the journal)."""
    return (ts - _EPOCH) // _MICROSECOND


def from_epoch_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def to_table(kind: str, events: list[Any], *, partitions: bool = True) -> pa.Table:
    """Events of one kind as an Arrow table (without partition columns if ``partitions=False``).

    Timestamps go through integers: Arrow converts aware datetimes one Python call at a time,
    about forty times slower.
    """
    schema = SCHEMAS[kind] if partitions else file_schema(kind)
    ts = [epoch_us(e.ts) for e in events]
    columns = []
    for f in schema:
        if f.name == "ts":
            columns.append(pa.array(ts, pa.int64()).cast(TS))
        elif f.name == "date":
            columns.append(pa.array([us // _DAY_US for us in ts], pa.int32()).cast(pa.date32()))
        else:
            columns.append(pa.array(list(map(attrgetter(f.name), events)), f.type))
    return pa.Table.from_arrays(columns, schema=schema)
