"""JSON-safe copies of the numbers the dashboard sends (NaN and infinities become null)."""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any

__all__ = ["json_object", "jsonable"]


def jsonable(value: Any) -> Any:
    """``value`` with non-finite floats as None, tuples as lists and times as ISO strings."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def json_object(value: dict[str, Any]) -> dict[str, Any]:
    """:func:`jsonable` of a mapping, typed as one."""
    return {str(k): jsonable(v) for k, v in value.items()}
