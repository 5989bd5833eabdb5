"""One event per journal line: a CRC-32 in 8 hex digits, then a JSON array of its fields.

JSON escapes every control character, so a record never holds a raw newline and a torn
write damages at most the last line. The checksum catches a line that was cut short or
overwritten; the reader skips it and counts it.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import fields
from typing import Any

from champion.events.schema import EVENT_TYPES, Event, epoch_us, from_epoch_us

__all__ = ["decode", "encode", "read_records"]

# Field order of each kind in a record: ts first, as integer microseconds.
_LAYOUT: dict[str, tuple[str, ...]] = {
    kind: ("ts", *(f.name for f in fields(cls) if f.init and f.name != "ts"))
    for kind, cls in EVENT_TYPES.items()
}
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


def encode(event: Event) -> bytes:
    layout = _LAYOUT[event.kind]
    values: list[Any] = [event.kind, epoch_us(event.ts)]
    values.extend(getattr(event, name) for name in layout[1:])
    payload = _dumps(values).encode()
    return b"%08x%s\n" % (zlib.crc32(payload), payload)


def decode(line: bytes) -> Event:
    """The event in one line (without its newline); ValueError if the line is damaged."""
    payload = line[8:]
    if len(line) < 10 or int(line[:8], 16) != zlib.crc32(payload):
        raise ValueError("checksum mismatch")
    kind, ts, *rest = json.loads(payload)
    layout = _LAYOUT[kind]
    if len(rest) != len(layout) - 1:
        raise ValueError(f"{kind} record has {len(rest) + 1} fields, expected {len(layout)}")
    return EVENT_TYPES[kind](ts=from_epoch_us(ts), **dict(zip(layout[1:], rest, strict=True)))


def read_records(data: bytes) -> tuple[list[Event], int]:
    """Every intact event in a journal file's bytes, and how many lines were damaged."""
    lines = data.split(b"\n")
    tail = lines.pop()  # after the last newline: empty, or a write cut short by a crash
    damaged = 1 if tail else 0
    events: list[Event] = []
    for line in lines:
        if not line:
            continue
        try:
            events.append(decode(line))
        except (ValueError, KeyError, TypeError):
            damaged += 1
    return events, damaged
