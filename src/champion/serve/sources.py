"""Where a router learns which experiments exist and their live state.

``SpecSource`` serves spec files as they are (``champion serve -f FILE``); ``RegistrySource``
follows the registry (``--db URL``) with one cheap version query per poll.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from champion.spec import Experiment

__all__ = ["LiveState", "RegistrySource", "SpecSource", "StateSource"]


@dataclass(frozen=True, slots=True)
class LiveState:
    """The part of an experiment's registry state that serving needs."""

    name: str
    spec: Experiment
    state: str
    allocation: dict[str, float]
    version: int


class StateSource(abc.ABC):
    dynamic: bool = False

    @abc.abstractmethod
    def changes(self, since: int) -> tuple[int, Sequence[LiveState]]:
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
    """The registry's live state; polls ``global_version`` and loads only what changed."""

    dynamic = True

    def __init__(self, registry: object, *, owns: bool = False) -> None:
        self._registry = registry
        self._owns = owns

    def changes(self, since: int) -> tuple[int, Sequence[LiveState]]:
        registry = self._registry
        # poll_changes is one cheap query when nothing moved.
        found = registry.snapshot() if since < 0 else registry.poll_changes(since)
        states = tuple(
            LiveState(e.name, e.spec, e.state.value, dict(e.allocation), e.version)
            for e in found.experiments
        )
        return found.global_version, states

    def close(self) -> None:
        if self._owns:
            self._registry.close()
