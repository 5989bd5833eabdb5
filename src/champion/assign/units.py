"""Unit identity: which of a request's ids an experiment randomises on."""

from __future__ import annotations

from typing import Literal

from champion.errors import InvalidArgument

__all__ = ["UNITS", "Unit", "pick_unit_id"]

Unit = Literal["user", "session", "request"]
UNITS: tuple[str, ...] = ("user", "session", "request")


def pick_unit_id(
    unit: str,
    *,
    user_id: str | None = None,
    session_id: str | None = None,
    request_id: str | None = None,
) -> str:
    """The id to hash for ``unit``; a missing one raises, naming the field to send.

    Randomising by user keeps a person on one variant across sessions; by session or
    request, a person may see several variants (fine for a stateless model, wrong when the
    outcome is measured per user).

    >>> pick_unit_id("session", user_id="u1", session_id="s9")
    's9'
    """
    ids = {"user": user_id, "session": session_id, "request": request_id}
    if unit not in ids:
        raise InvalidArgument("unit", unit, f"must be one of {list(UNITS)}")
    value = ids[unit]
    if value is None or value == "":
        raise InvalidArgument(
            f"{unit}_id",
            value,
            f"the experiment randomises by {unit}: send the request's {unit}_id "
            f"(or change 'unit' in the experiment spec)",
        )
    if not isinstance(value, str):
        raise InvalidArgument(f"{unit}_id", value, "must be a str; pass str(id)")
    return value
