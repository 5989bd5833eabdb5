"""The three event kinds everything shares: exposures, shadow calls and outcomes.

Events are frozen dataclasses checked when they are built, in the caller's thread: a bad
field fails there with its name, never later inside a background batch where one bad
event would sink a thousand good ones. Each kind carries an Arrow schema whose column
names the analysis relies on. ``date`` (and ``experiment``, where there is one) are Hive
partition columns: they live in the folder names of the Parquet layout, not in the files.
"""

from __future__ import annotations

import json
import math
import numbers
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from operator import attrgetter
from typing import Any, ClassVar

import pyarrow as pa

from champion.errors import InvalidArgument

__all__ = [
    "EVENT_TYPES",
    "EXPOSURE_SCHEMA",
    "NAME_RULE",
    "OUTCOME_SCHEMA",
    "SCHEMAS",
    "SHADOW_SCHEMA",
    "Event",
    "Exposure",
    "Outcome",
    "Shadow",
    "encode_prediction",
    "epoch_us",
    "event_type",
    "file_schema",
    "from_epoch_us",
    "is_name",
    "to_table",
    "utc_now",
]

# Same rule as names in a spec: safe as a folder name on every file system.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}\Z")
NAME_RULE = "letters, digits, '_', '.', '-', starting with a letter or digit, at most 128 long"

TS = pa.timestamp("us", tz="UTC")
ATTRIBUTES = pa.map_(pa.string(), pa.string())


def utc_now() -> datetime:
    return datetime.now(UTC)


# -- field checks: each names the event kind and field, the value and the rule ---------------
# A check returns the value to store; the caller stores it only when it differs (rare), so a
# well-formed event costs a few type tests per field.


def _ts(kind: str, name: str, value: object) -> datetime:
    if type(value) is datetime and value.tzinfo is UTC:
        return value
    if not isinstance(value, datetime):
        raise InvalidArgument(f"{kind}.ts", value, "must be a datetime, e.g. datetime.now(UTC)")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidArgument(
            f"{kind}.ts", value, "must be timezone-aware; use datetime.now(UTC) or add tzinfo"
        )
    return value.astimezone(UTC)


def _utf8(text: str) -> str:
    """The text itself, or with lone surrogates replaced: Parquet and PostgreSQL need UTF-8.

    Such strings reach the gateway as JSON escapes (``"\\ud800"``); one of them must not
    make a whole batch unwritable.
    """
    if text.isascii():
        return text
    try:
        text.encode()
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode()
    return text


def _text(kind: str, name: str, value: object) -> str:
    if type(value) is str and value:
        return _utf8(value)
    if type(value) is int:  # integer ids are common; store their text so joins match
        return str(value)
    raise InvalidArgument(f"{kind}.{name}", value, "must be a non-empty string")


def _optional_text(kind: str, name: str, value: object) -> str | None:
    if value is None:
        return value
    if type(value) is str:
        return _utf8(value)
    raise InvalidArgument(f"{kind}.{name}", value, "must be a string or None")


def _number(kind: str, name: str, value: object) -> float:
    if type(value) is float:
        if math.isfinite(value):
            return value
    elif type(value) is int or (isinstance(value, numbers.Real) and not isinstance(value, bool)):
        number = float(value)  # ints and numpy scalars
        if math.isfinite(number):
            return number
    raise InvalidArgument(f"{kind}.{name}", value, "must be a finite number")


def _optional_number(kind: str, name: str, value: object) -> float | None:
    return None if value is None else _number(kind, name, value)


def _probability(kind: str, name: str, value: object) -> float:
    number = _number(kind, name, value)
    if 0.0 < number <= 1.0:
        return number
    raise InvalidArgument(f"{kind}.{name}", value, "must be in (0, 1]")


def _version(kind: str, name: str, value: object) -> int:
    if type(value) is int and 0 <= value < 2**31:
        return value
    raise InvalidArgument(f"{kind}.{name}", value, "must be an int >= 0")


def _flag(kind: str, name: str, value: object) -> bool:
    if type(value) is bool:
        return value
    raise InvalidArgument(f"{kind}.{name}", value, "must be True or False")


_KNOWN_NAMES: set[str] = set()  # names seen valid: one set lookup instead of a regex


def is_name(value: object) -> bool:
    """True for a name as experiment specs spell them (and a folder may hold)."""
    if type(value) is not str:
        return False
    if value in _KNOWN_NAMES:
        return True
    if _NAME.match(value):
        if len(_KNOWN_NAMES) < 10_000:
            _KNOWN_NAMES.add(value)
        return True
    return False


def _experiment(kind: str, name: str, value: object) -> str:
    if is_name(value):
        return value  # type: ignore[return-value]
    raise InvalidArgument(f"{kind}.{name}", value, f"must be an experiment name: {NAME_RULE}")


def _metric(kind: str, name: str, value: object) -> str:
    if is_name(value):
        return value  # type: ignore[return-value]
    raise InvalidArgument(
        f"{kind}.{name}", value, f"must be a metric name as in the experiment spec: {NAME_RULE}"
    )


def _attributes(kind: str, name: str, value: object) -> dict[str, str]:
    if isinstance(value, Mapping) and all(
        type(k) is str and type(v) is str for k, v in value.items()
    ):
        if type(value) is dict and all(k.isascii() and v.isascii() for k, v in value.items()):
            return value
        return {_utf8(k): _utf8(v) for k, v in value.items()}
    raise InvalidArgument(
        f"{kind}.{name}", value, "must map strings to strings, e.g. {'country': 'FR'}"
    )


Check = Callable[[str, str, Any], Any]


def _validate(event: object, kind: str, checks: tuple[tuple[str, Check], ...]) -> None:
    for name, check in checks:
        value = getattr(event, name)
        stored = check(kind, name, value)
        if stored is not value:
            object.__setattr__(event, name, stored)


_EXPOSURE_CHECKS: tuple[tuple[str, Check], ...] = (
    ("ts", _ts),
    ("experiment", _experiment),
    ("unit_id", _text),
    ("variant", _text),
    ("model", _text),
    ("allocation_version", _version),
    ("probability", _probability),
    ("request_id", _optional_text),
    ("latency_ms", _optional_number),
    ("error", _optional_text),
    ("prediction", _optional_text),
    ("score", _optional_number),
    ("attributes", _attributes),
    ("exposed", _flag),
)
_SHADOW_CHECKS: tuple[tuple[str, Check], ...] = (
    ("ts", _ts),
    ("experiment", _experiment),
    ("unit_id", _text),
    ("model", _text),
    ("request_id", _optional_text),
    ("prediction", _optional_text),
    ("score", _optional_number),
    ("latency_ms", _optional_number),
    ("error", _optional_text),
    ("served_score", _optional_number),
)
_OUTCOME_CHECKS: tuple[tuple[str, Check], ...] = (
    ("ts", _ts),
    ("unit_id", _text),
    ("metric", _metric),
    ("value", _number),
)


# -- the events ----------------------------------------------------------------------------


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
        _validate(self, "Exposure", _EXPOSURE_CHECKS)

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
        _validate(self, "Shadow", _SHADOW_CHECKS)
        if self.score is not None and self.served_score is not None:
            object.__setattr__(self, "divergence", abs(self.score - self.served_score))

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
        _validate(self, "Outcome", _OUTCOME_CHECKS)

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


# -- predictions -----------------------------------------------------------------------------

_SCORE_KEYS = ("score", "probability", "proba", "prediction", "value")


def _plain(value: Any) -> Any:
    """numpy arrays and scalars as plain Python, so json can write them."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _as_score(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, list | tuple):
        if len(value) == 1:  # a batch of one, or [score]
            return _as_score(value[0])
        if len(value) == 2 and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in value
        ):
            return _as_score(value[1])  # [P(negative), P(positive)]
        return None
    if isinstance(value, Mapping):
        for key in _SCORE_KEYS:
            if key in value:
                return _as_score(value[key])
        if "probabilities" in value:
            return _as_score(value["probabilities"])
    return None


def encode_prediction(value: Any) -> tuple[str, float | None]:
    """A model's answer as JSON text, and the number to compare models on (or None).

    The score is the answer itself when it is a number (a bool counts as 0/1), the second
    of two class probabilities, or the first of ``score``, ``probability``, ``proba``,
    ``prediction``, ``value``, ``probabilities`` in a mapping. Pass ``score=`` yourself
    when your model answers in another shape.

    >>> encode_prediction({"label": "fraud", "probability": 0.93})
    ('{"label":"fraud","probability":0.93}', 0.93)
    >>> encode_prediction([0.2, 0.8])
    ('[0.2,0.8]', 0.8)
    """
    plain = _plain(value) if hasattr(value, "tolist") or hasattr(value, "item") else value
    try:
        text = json.dumps(plain, separators=(",", ":"), default=_plain, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise InvalidArgument(
            "prediction", value, f"cannot be written as JSON ({e}); return plain numbers, "
            "strings, lists or dicts from the model"
        ) from None  # fmt: skip
    return text, _as_score(json.loads(text))
