"""What the registry hands back: frozen records of an experiment's state and its history."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import yaml
from pydantic import ValidationError

from champion.registry.lifecycle import State
from champion.spec import Experiment, parse_spec

__all__ = [
    "AuditEntry",
    "Changes",
    "ExperimentState",
    "LookRecord",
    "Snapshot",
    "WindowRecord",
    "as_utc",
    "rebuild_spec",
]

# libyaml's loader reads a stored spec about ten times faster than the pure-Python one.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def rebuild_spec(text: str, name: str) -> Experiment:
    """The Experiment stored as ``text``; it was validated when stored, so skip line tracking.

    Text that no longer validates (edited by hand in the database) goes through the full
    parser, whose SpecError names every problem.
    """
    try:
        return Experiment.model_validate(yaml.load(text, Loader=_LOADER))
    except (yaml.YAMLError, ValidationError):
        return parse_spec(text, f"registry:{name}")


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; the registry only ever writes UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class ExperimentState:
    """An experiment as the registry holds it now.

    ``allocation`` is what routers serve (shares summing to 1): the spec's shares while
    running, everything to the champion in draft, shadow, stopped and rolled_back, and the
    last shares once completed. ``stage`` is the index of the spec's rollout stage that the
    last ramped challenger's share matches, or None. ``seq`` is the global version of the
    experiment's last change.
    """

    name: str
    state: State
    version: int
    allocation: dict[str, float]
    stage: int | None
    spec_yaml: str = field(repr=False)
    updated_at: datetime
    updated_by: str
    seq: int

    @property
    def spec(self) -> Experiment:
        """The stored spec, parsed back into the model it was registered from."""
        return rebuild_spec(self.spec_yaml, self.name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": self.state.value,
            "version": self.version,
            "allocation": dict(self.allocation),
            "stage": self.stage,
            "updated_at": self.updated_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One change, as written to the append-only log: who, when, why and what."""

    experiment: str
    version: int
    action: str
    state: State
    allocation: dict[str, float]
    stage: int | None
    by: str
    at: datetime
    reason: str
    seq: int
    evidence: dict[str, Any] | None = None  # the numbers behind it (a monitor's stop)

    def to_dict(self) -> dict[str, Any]:
        out = {
            "version": self.version,
            "action": self.action,
            "state": self.state.value,
            "allocation": dict(self.allocation),
            "stage": self.stage,
            "by": self.by,
            "at": self.at.isoformat(),
            "reason": self.reason,
        }
        if self.evidence is not None:
            out["evidence"] = self.evidence
        return out


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Every experiment at one global version, read in one query."""

    global_version: int
    experiments: tuple[ExperimentState, ...]

    def get(self, name: str) -> ExperimentState | None:
        return next((e for e in self.experiments if e.name == name), None)


@dataclass(frozen=True, slots=True)
class Changes:
    """The experiments changed after ``since``; poll next with ``global_version``."""

    since: int
    global_version: int
    experiments: tuple[ExperimentState, ...]

    def __bool__(self) -> bool:
        return bool(self.experiments)


@dataclass(frozen=True, slots=True)
class LookRecord:
    """One decision point of one challenger on the primary metric: the look ledger's row.

    A read-out that can decide spends alpha; the ledger remembers where, so the next
    read-out computes its boundary from the information fractions actually observed
    (Lan-DeMets) and a decision once made is not made again. ``index`` counts looks from
    1; ``boundary`` is the |z| the statistic had to reach; ``alpha_spent`` is cumulative;
    ``max_information`` (1 / variance of the difference at the planned end) is fixed at the
    first look and reused by every later one.
    """

    experiment: str
    variant: str
    index: int
    at: datetime
    information_fraction: float
    statistic: float
    boundary: float
    alpha_spent: float
    max_information: float
    decision: str
    final: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "variant": self.variant,
            "index": self.index,
            "at": self.at.isoformat(),
            "information_fraction": self.information_fraction,
            "statistic": self.statistic,
            "boundary": self.boundary,
            "alpha_spent": self.alpha_spent,
            "max_information": self.max_information,
            "decision": self.decision,
            "final": self.final,
        }


@dataclass(frozen=True, slots=True)
class WindowRecord:
    """Serving sums of one variant in one closed guardrail window: the window ledger's row.

    ``sums`` holds per unit bucket ``requests``, ``errors`` and ``latency`` (sum of ms), and
    ``bins`` (latency histogram bin -> requests); see ``champion.monitor.windows``.
    """

    experiment: str
    start: datetime
    seconds: float
    variant: str
    requests: int
    errors: int
    sums: dict[str, Any] = field(repr=False)
