"""The spec's rollout stages as a manual ramp sees them: what it skips or reverses, and
whether the current stage has been served ``min_stage_hours`` (``champion.decide`` says
which stage comes next and when the current one began)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from champion.cli._output import err_console
from champion.decide import stage_started
from champion.errors import ChampionError

if TYPE_CHECKING:
    from champion.registry import AuditEntry, ExperimentState
    from champion.spec import Experiment

__all__ = ["ramp_warnings", "warn_ramp"]


def ramp_warnings(
    spec: Experiment,
    state: ExperimentState,
    history: list[AuditEntry],
    to: float,
    challenger: str | None,
    now: datetime,
) -> list[str]:
    """What a ramp to ``to`` percent does outside the spec's rollout plan (empty: nothing)."""
    if spec.rollout is None or not spec.challengers:
        return []
    which = challenger or spec.challengers[0]
    current = 100 * state.allocation.get(which, 0.0)
    stages = spec.rollout.stages
    plan = ", ".join(f"{s:g}%" for s in stages)
    out = []
    if to < current - 1e-9:
        out.append(
            f"ramping {which} from {current:g}% down to {to:g}% reverses the rollout "
            f"(rollout.stages: {plan}); to end the experiment use rollback or stop"
        )
    elif to > current + 1e-9:
        skipped = [s for s in stages if current + 1e-9 < s < to - 1e-9]
        if skipped:
            out.append(
                f"ramping {which} from {current:g}% to {to:g}% skips the stage(s) "
                f"{', '.join(f'{s:g}%' for s in skipped)} (rollout.stages: {plan})"
            )
        started = stage_started(history, state)
        held = None if started is None else (now - started).total_seconds() / 3600
        minimum = spec.rollout.min_stage_hours
        if state.state.value == "running" and held is not None and held < minimum:
            out.append(
                f"the current allocation has been served {held:.1f} h of the {minimum:g} h the "
                "spec holds each stage (rollout.min_stage_hours)"
            )
    if not any(math.isclose(to, s, abs_tol=1e-9) for s in stages) and to not in (0.0,):
        out.append(f"{to:g}% is not one of the spec's rollout.stages ({plan})")
    return out


def warn_ramp(registry_url: str | None, name: str, to: float, challenger: str | None) -> None:
    """Print on stderr what a manual ramp does outside the plan; the ramp itself decides
    whether it is allowed (a missing experiment is its error to report)."""
    from champion.registry import Registry

    try:
        with Registry(registry_url) as registry:
            state = registry.get(name)
            history = registry.history(name)
            lines = ramp_warnings(state.spec, state, history, to, challenger, datetime.now(UTC))
    except ChampionError:
        return
    for line in lines:
        err_console.print(f"warning: {line}", highlight=False, markup=False, soft_wrap=True)
