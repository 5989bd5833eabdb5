"""What an event store must do for the writer: store a batch once, whole, or say why not."""

from __future__ import annotations

import abc
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from champion.events.schema import Event

__all__ = ["EventSink", "by_kind"]


class EventSink(abc.ABC):
    """An event store. Only the writer's background thread calls ``write``.

    ``write`` stores a batch all or nothing, under a batch id it stores at most once: the
    writer replays journal files whose batches may already be stored, and must not
    duplicate them. When the store cannot take the batch now (disk full, database down) it
    raises :class:`~champion.errors.EventSinkUnavailable`; the writer then spills the batch
    to its journal and retries later. Any other exception means this batch is at fault.
    """

    #: Where events go, as shown in messages and logs (no password).
    target: str

    @abc.abstractmethod
    def write(self, events: Sequence[Event], batch_id: str) -> int:
        """Store the events under ``batch_id``; return how many rows were newly stored."""

    def default_journal_dir(self) -> Path | None:
        """Where the writer keeps its journal when none is given (None: memory only)."""
        return None

    def close(self) -> None:  # noqa: B027 (optional hook: most sinks hold nothing to release)
        """Release connections; the writer calls it once, after its last write."""


def by_kind(events: Sequence[Event]) -> dict[str, list[Event]]:
    groups: defaultdict[str, list[Event]] = defaultdict(list)
    for event in events:
        groups[event.kind].append(event)
    return dict(groups)
