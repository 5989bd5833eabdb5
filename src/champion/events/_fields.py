"""Field checks for events: each names the event kind and field, the value and the rule.

A check returns the value to store; the caller stores it only when it differs (rare), so a
well-formed event costs a few type tests per field.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from champion.errors import InvalidArgument

__all__ = [
    "EXPOSURE_CHECKS",
    "EXPOSURE_REQUEST_CHECKS",
    "NAME_RULE",
    "OUTCOME_CHECKS",
    "SHADOW_CHECKS",
    "SHADOW_REQUEST_CHECKS",
    "Check",
    "is_name",
    "validate",
]

# Same rule as names in a spec: safe as a folder name on every file system.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}\Z")
NAME_RULE = "letters, digits, '_', '.', '-', starting with a letter or digit, at most 128 long"


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
    if type(value) is dict:  # the common case in one pass: a dict of ASCII strings
        for k, v in value.items():
            if type(k) is not str or type(v) is not str or not (k.isascii() and v.isascii()):
                break
        else:
            return value
    if isinstance(value, Mapping) and all(
        type(k) is str and type(v) is str for k, v in value.items()
    ):
        return {_utf8(k): _utf8(v) for k, v in value.items()}
    raise InvalidArgument(
        f"{kind}.{name}", value, "must map strings to strings, e.g. {'country': 'FR'}"
    )


Check = Callable[[str, str, Any], Any]


def validate(event: object, kind: str, checks: tuple[tuple[str, Check], ...]) -> None:
    for name, check in checks:
        value = getattr(event, name)
        stored = check(kind, name, value)
        if stored is not value:
            object.__setattr__(event, name, stored)


EXPOSURE_CHECKS: tuple[tuple[str, Check], ...] = (
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
# The fields of an exposure that come from the request (or a model's error text) when the
# router builds it: the others are names from a validated spec, the router's own clock and
# the assigner's numbers, checked where they were made.
EXPOSURE_REQUEST_CHECKS: tuple[tuple[str, Check], ...] = (
    ("ts", _ts),
    ("unit_id", _text),
    ("request_id", _optional_text),
    ("error", _optional_text),
    ("prediction", _optional_text),
    ("attributes", _attributes),
)
SHADOW_REQUEST_CHECKS: tuple[tuple[str, Check], ...] = (
    ("ts", _ts),
    ("unit_id", _text),
    ("request_id", _optional_text),
    ("prediction", _optional_text),
    ("error", _optional_text),
)
SHADOW_CHECKS: tuple[tuple[str, Check], ...] = (
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
OUTCOME_CHECKS: tuple[tuple[str, Check], ...] = (
    ("ts", _ts),
    ("unit_id", _text),
    ("metric", _metric),
    ("value", _number),
)
