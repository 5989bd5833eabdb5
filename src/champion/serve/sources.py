"""Where a router learns which experiments exist and their live state.

``SpecSource`` serves spec files as they are (``champion serve -f FILE``); ``RegistrySource``
follows the registry (``--db URL``) with one cheap version query per poll.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from champion.spec import Experiment

ARCHIVED = "archived"  # champion.registry.State.ARCHIVED, without importing the registry

__all__ = ["LiveState", "RegistrySource", "SpecSource", "StateSource", "StoredState"]


@dataclass(frozen=True, slots=True)
class LiveState:
    """The part of an experiment's registry state that serving needs."""

    name: str
    spec: Experiment
    state: str
    allocation: dict[str, float]
    version: int


class StoredState:
    """A registry row as serving sees it; the spec is parsed when first asked for.

    A stored spec that no longer parses raises for its own experiment only, inside the
    router's per-experiment load, instead of failing the whole poll.
    """

    __slots__ = ("_record", "_spec", "allocation", "name", "state", "version")

    def __init__(self, record: Any) -> None:
        self._record = record
        self._spec: Experiment | None = None
        self.name: str = record.name
        self.state: str = record.state.value
        self.allocation: dict[str, float] = dict(record.allocation)
        self.version: int = record.version

    @property
    def spec(self) -> Experiment:
        if self._spec is None:
            self._spec = self._record.spec
        return self._spec

    def __repr__(self) -> str:
        return f"StoredState({self.name!r}, {self.state!r}, version={self.version})"


class StateSource(abc.ABC):
    dynamic: bool = False

    @abc.abstractmethod
    def changes(self, since: int) -> tuple[int, Sequence[LiveState | StoredState]]:
        """(current global version, experiments changed after ``since``)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


class SpecSource(StateSource):
    """Experiments from specs, each running with the spec's own allocation."""

    def __init__(self, experiments: Iterable[Experiment], state: str = "running") -> None:
        self._states = tuple(
            LiveState(e.name, e, state, dict(e.allocation), 1) for e in experiments
        )

    def changes(self, since: int) -> tuple[int, Sequence[LiveState]]:
        return 1, (self._states if since < 1 else ())


class RegistrySource(StateSource):
    """The registry's live state; polls ``global_version`` and loads only what changed.

    Archived experiments are left out of the first read (a restart never loads them); one
    archived while serving is passed on, and named in ``archived``. It remembers when the
    registry last answered (``read_at``, monotonic seconds) and the
    last failure (``error``, cleared by the next good read), so readiness can say how old
    the state being served is.
    """

    dynamic = True

    def __init__(self, registry: object, *, owns: bool = False) -> None:
        self._registry = registry
        self._owns = owns
        self.read_at: float | None = None
        self.error: str | None = None
        self.archived: set[str] = set()

    def changes(self, since: int) -> tuple[int, Sequence[LiveState | StoredState]]:
        registry: Any = self._registry
        try:
            # poll_changes is one cheap query when nothing moved.
            found = registry.snapshot() if since < 0 else registry.poll_changes(since)
        except Exception as e:
            self.error = f"{type(e).__name__}: {e}"
            raise
        self.read_at, self.error = time.monotonic(), None
        states = [StoredState(e) for e in found.experiments]
        for state in states:
            if state.state == ARCHIVED:
                self.archived.add(state.name)
            else:
                self.archived.discard(state.name)
        if since < 0:  # a fresh start never loads what was archived
            states = [s for s in states if s.state != ARCHIVED]
        return found.global_version, tuple(states)

    def age(self) -> float | None:
        """Seconds since the registry last answered (None: never)."""
        return None if self.read_at is None else time.monotonic() - self.read_at

    def close(self) -> None:
        if self._owns:
            self._registry.close()
