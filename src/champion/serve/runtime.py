"""What a router needs to serve one experiment right now: spec, state, assigner and models.

A runtime is immutable; a registry change builds a new one and swaps it in, so a request
never sees half of an update.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from champion.assign import Assigner
from champion.spec import Experiment

if TYPE_CHECKING:
    from champion.models import ModelAdapter

__all__ = ["SERVING_STATES", "SHADOW_STATES", "Runtime", "ShadowTarget", "build_runtime"]

# States in which units are split by the allocation and exposures count for the analysis.
SERVING_STATES = frozenset({"running", "paused", "completed"})
# States in which shadow models see traffic.
SHADOW_STATES = frozenset({"shadow", "running", "paused"})
DEFAULT_SHADOW_TIMEOUT_MS = 200.0


@dataclass(frozen=True, slots=True)
class ShadowTarget:
    model: str
    sample: float
    timeout_ms: float


@dataclass(frozen=True, slots=True)
class Runtime:
    name: str
    spec: Experiment
    state: str
    version: int
    assigner: Assigner
    shadows: tuple[ShadowTarget, ...] = field(default=())

    @property
    def splits_traffic(self) -> bool:
        return self.state in SERVING_STATES

    @property
    def champion(self) -> str:
        return self.spec.champion


def _shadow_targets(spec: Experiment, state: str) -> tuple[ShadowTarget, ...]:
    if state not in SHADOW_STATES:
        return ()
    targets = [ShadowTarget(s.model, s.sample, s.timeout_ms) for s in spec.shadow]
    if state == "shadow":
        # Before the A/B test the challengers themselves run in shadow.
        named = {t.model for t in targets}
        targets += [
            ShadowTarget(c, 1.0, DEFAULT_SHADOW_TIMEOUT_MS)
            for c in spec.challengers
            if c not in named
        ]
    return tuple(targets)


def build_runtime(
    spec: Experiment,
    *,
    state: str = "running",
    allocation: dict[str, float] | None = None,
    version: int = 0,
    models: dict[str, ModelAdapter] | None = None,
) -> Runtime:
    """A runtime for a spec in a lifecycle state; ``allocation`` is the live split."""
    if state not in SERVING_STATES:
        allocation = {spec.champion: 1.0, **dict.fromkeys(spec.challengers, 0.0)}
    assigner = Assigner.from_spec(spec, allocation=allocation, version=version)
    runtime = Runtime(spec.name, spec, state, version, assigner, _shadow_targets(spec, state))
    if models is not None:
        needed = {spec.champion, *spec.challengers, *(t.model for t in runtime.shadows)}
        missing = sorted(needed - set(models))
        if missing:
            raise KeyError(f"experiment {spec.name!r} needs models that are not loaded: {missing}")
    return runtime
