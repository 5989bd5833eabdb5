"""Opening an event store by where it is: a folder (Parquet) or a PostgreSQL URL."""

from __future__ import annotations

import os
from typing import Any

from champion.errors import InvalidArgument
from champion.events.parquet import ParquetSink
from champion.events.postgres import PostgresSink
from champion.events.sink import EventSink
from champion.events.writer import EventWriter

__all__ = ["open_sink", "open_writer"]


def open_sink(target: str | os.PathLike[str]) -> EventSink:
    """``postgresql://...`` opens the PostgreSQL store; a path, the Parquet folder there."""
    text = os.fspath(target)
    if text.startswith(("postgresql:", "postgresql+", "postgres:")):
        return PostgresSink(text)
    if "://" in text:
        raise InvalidArgument(
            "target", text.split("://")[0] + "://...",
            "must be a folder (Parquet events) or a postgresql:// URL",
        )  # fmt: skip
    return ParquetSink(text)


def open_writer(target: str | os.PathLike[str], **options: Any) -> EventWriter:
    """An :class:`EventWriter` on :func:`open_sink` (``target``); options go to the writer.

    >>> import tempfile
    >>> from champion.events import Outcome
    >>> with open_writer(tempfile.mkdtemp()) as writer:
    ...     writer.log(Outcome(unit_id="u1", metric="converted", value=1))
    True
    """
    return EventWriter(open_sink(target), **options)
