"""Stage gates of a progressive rollout: when the monitor advances, waits, pauses or rolls back.

A stage (the challenger's share, one of ``rollout.stages``) may advance when every gate
passes: it has run ``min_stage_hours``, each arm has ``min_stage_sample`` units exposed
under it, no guardrail is violating or ``no_data``, and the read-out (valid however often
it is read: ``champion.analysis.readout``) shows no SRM and no significant harm on the
primary metric, nor a failing guardrail of its own. A stage is never advanced while a
guardrail window violates; ``stop_after`` violating windows in a row stop the experiment
(``champion.monitor.tick``). A failing read-out applies ``on_fail`` (``rollback`` or
``pause``); a gate that cannot pass yet applies ``on_inconclusive`` (``pause``, or
``extend``: wait). At the last stage, the read-out's decision is applied (``apply: auto``)
or only proposed (``apply: propose``): stages before the last advance on health, the last
step needs the read-out's verdict (:func:`read_out_move`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from champion.monitor.rules import INCONCLUSIVE, NO_DATA, VIOLATION, RuleStatus
from champion.spec.models import Experiment, Rollout

__all__ = ["Gate", "Move", "current_challenger", "gate", "next_stage", "read_out_move"]


@dataclass(frozen=True, slots=True)
class Move:
    """What the rollout should do now: ``advance`` (to ``to`` percent), ``wait``, ``pause``,
    ``rollback``, ``complete``, ``promote``, ``stop`` or ``propose`` (say it, change nothing)."""

    action: str
    reason: str
    to: float | None = None
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Gate:
    """The cheap gates (time, sample, guardrails): the read-out runs only once they pass."""

    ready: bool
    reason: str
    hours: float
    units: dict[str, int]


def current_challenger(spec: Experiment, allocation: dict[str, float]) -> str:
    """The challenger being rolled out: the one with the largest share (the first on ties)."""
    return max(spec.challengers, key=lambda v: (allocation.get(v, 0.0), -spec.challengers.index(v)))


def next_stage(rollout: Rollout, percent: float) -> float | None:
    """The first stage above ``percent``, or None at the last one."""
    return next((s for s in rollout.stages if s > percent + 1e-9), None)


def gate(
    rollout: Rollout, rules: Sequence[RuleStatus], stage: Sequence[RuleStatus],
    stage_started: datetime, now: datetime,
    units: dict[str, int], windows_in_stage: int = 0, patience: int = 1,
) -> tuple[Gate, Move | None]:  # fmt: skip
    """The cheap gates; a Move when they already decide (a failing or silent guardrail).

    ``rules`` are the guardrails now (a violation holds the stage); ``stage`` the SLO rules
    on the stage's windows pooled, which must pass: a stage advances on evidence that it
    keeps its limits, not on the absence of a stop.

    A guardrail that is not clear pauses (``on_inconclusive: pause``) only once the stage
    has had ``patience`` closed windows (the rules' ``stop_after``): a stage that just
    began has no data yet, and that is no reason to pause it.
    """
    hours = (now - stage_started).total_seconds() / 3600
    failing = [r for r in rules if r.status == VIOLATION]
    if failing:  # not advanced while violating; stop_after windows in a row stop it
        move = Move(
            "wait", "guardrail violating: " + failing[0].describe(),
            evidence={"rules": [r.to_dict() for r in failing]},
        )  # fmt: skip
        return Gate(False, move.reason, hours, units), move
    if hours < rollout.min_stage_hours:
        return Gate(False, f"stage has run {hours:.2f} h of {rollout.min_stage_hours:g} h", hours,
                    units), None  # fmt: skip
    short = {v: n for v, n in units.items() if n < rollout.min_stage_sample}
    if short:
        return Gate(False, f"stage sample {short} below {rollout.min_stage_sample} units per arm",
                    hours, units), None  # fmt: skip
    unclear = [r for r in stage if r.status in (NO_DATA, INCONCLUSIVE)]
    unclear += [r for r in rules if r.kind == "comparative" and r.status == NO_DATA]
    if unclear:
        reason = "guardrail not clear yet: " + unclear[0].describe()
        young = windows_in_stage < patience
        action = "pause" if rollout.on_inconclusive == "pause" and not young else "wait"
        if young:
            reason += f" ({windows_in_stage} of {patience} windows closed in this stage)"
        evidence = {"rules": [r.to_dict() for r in unclear]}
        return Gate(False, reason, hours, units), Move(action, reason, evidence=evidence)
    return Gate(True, "time, sample and guardrails pass", hours, units), None


def read_out_move(
    rollout: Rollout, decision: str, reasons: Sequence[str], srm_ok: bool, percent: float,
    guardrail_failed: bool,
) -> Move:  # fmt: skip
    """The move once the cheap gates pass, from the read-out's decision.

    Stages below the last one advance on health: guardrails clear and no harm shown. The
    last step is the end of the experiment, so it needs the read-out's verdict: a rollout
    decision promotes the challenger (to 100 %: ``promote``; a last stage below 100 % is
    kept: ``complete``), ``keep`` ends it on the champion (``stop``), and anything else
    waits at the current stage for the read-out to decide (its final look always does).
    With ``apply: propose`` the end is only said, for a person to apply.
    """
    said = {"decision": decision, "reasons": list(reasons)}
    if not srm_ok:
        return Move(
            "pause", "sample-ratio mismatch: fix the assignment before going on", evidence=said
        )
    if decision == "rollback" or guardrail_failed:
        why = "read-out: " + (reasons[0] if reasons else decision)
        return Move(rollout.on_fail, why, evidence=said)
    nxt = next_stage(rollout, percent)
    last = rollout.stages[-1] if rollout.stages else 100.0
    if nxt is not None and not math.isclose(nxt, last):
        return Move("advance", f"stage {percent:g}% passed its gates; read-out: {decision}", nxt,
                    said)  # fmt: skip
    if decision.startswith("rollout"):
        if nxt is not None and math.isclose(nxt, 100):
            end, to = "promote", 100.0
        elif nxt is not None:
            end, to = "advance", nxt  # a last stage below 100 %: go there, then complete
        else:
            end, to = "complete", None
        action = end if rollout.apply == "auto" else "propose"
        return Move(action, f"stage {percent:g}% passed its gates; read-out: {decision}", to,
                    said)  # fmt: skip
    if decision == "keep":
        action = "stop" if rollout.apply == "auto" else "propose"
        return Move(action, "the read-out keeps the champion", evidence=said)
    return Move("wait", f"before the last stage the read-out must decide; it says {decision}",
                evidence=said)  # fmt: skip
