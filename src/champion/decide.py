"""Apply a read-out's decision through the registry, one rollout stage at a time.

One function, :func:`apply_decision`, does it for ``champion decide apply``, the admin
API (``POST /v1/experiments/{name}/decide``) and ``champion demo``, so the three cannot
drift apart:

- ``rollout_full`` / ``rollout_gradual``: the winning challenger moves to the next of the
  spec's ``rollout.stages``; the last stage (100%) is a promotion: it serves everyone and
  the experiment ends. A stage is held ``rollout.min_stage_hours`` first: moving earlier
  needs ``force`` with a reason (:class:`~champion.errors.StageHeldTooBriefly` otherwise).
- ``rollback``: the champion serves everyone again.
- ``keep``: the experiment stops; the champion stays.
- ``extend``: nothing to apply yet.

The registry write is version-checked against the state the plan was made from, so two
callers applying at once move the experiment one stage, not two (the second gets
``StaleVersion``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from champion.errors import InvalidArgument, StageHeldTooBriefly, StaleVersion

if TYPE_CHECKING:
    from champion.analysis.readout import Report
    from champion.registry import AuditEntry, ExperimentState, Registry
    from champion.spec import Experiment

__all__ = [
    "Applied",
    "Plan",
    "apply_decision",
    "next_stage",
    "plan_decision",
    "read_out",
    "stage_started",
]

REASON_LIMIT = 500


def next_stage(spec: Experiment, percent: float) -> float | None:
    """The first of the spec's stages above ``percent``; None past the last one."""
    stages = spec.rollout.stages if spec.rollout else [100.0]
    return next((s for s in stages if s > percent + 1e-9), None)


def stage_started(history: list[AuditEntry], current: ExperimentState) -> datetime | None:
    """When the allocation served now began: the latest change that set it."""
    started: datetime | None = None
    previous: dict[str, float] | None = None
    for entry in history:
        if entry.allocation != previous:
            started = entry.at
        previous = entry.allocation
    if previous is not None and previous != current.allocation:
        return current.updated_at
    return started


@dataclass(frozen=True, slots=True)
class Plan:
    """What applying a decision does: ``action`` is ramp, promote, rollback, stop or none."""

    decision: str
    variant: str | None
    action: str
    from_percent: float | None
    to_percent: float | None
    summary: str
    held_hours: float | None = None  # how long the current stage has been served
    min_stage_hours: float | None = None

    @property
    def too_early(self) -> bool:
        return (
            self.action in ("ramp", "promote")
            and self.held_hours is not None
            and self.min_stage_hours is not None
            and self.held_hours < self.min_stage_hours
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "variant": self.variant,
            "action": self.action,
            "from_percent": self.from_percent,
            "to_percent": self.to_percent,
            "summary": self.summary,
            "held_hours": self.held_hours,
            "min_stage_hours": self.min_stage_hours,
        }


@dataclass(frozen=True, slots=True)
class Applied:
    """The plan, the read-out's reasons, and the state it left (None: nothing was written)."""

    plan: Plan
    reasons: tuple[str, ...]
    dry_run: bool
    state: ExperimentState | None

    @property
    def applied(self) -> bool:
        return self.state is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.plan.to_dict(),
            "reasons": list(self.reasons),
            "dry_run": self.dry_run,
            "applied": self.applied,
            "state": self.state.to_dict() if self.state is not None else None,
        }


def plan_decision(
    decision: str,
    variant: str | None,
    spec: Experiment,
    state: ExperimentState,
    history: list[AuditEntry],
    now: datetime,
) -> Plan:
    """The registry change a decision asks for, from the experiment as it stands."""
    if decision in ("rollout_full", "rollout_gradual"):
        winner = variant or spec.challengers[0]
        percent = 100 * state.allocation.get(winner, 0.0)
        target = next_stage(spec, percent)
        started = stage_started(history, state)
        held = None if started is None else (now - started).total_seconds() / 3600
        minimum = spec.rollout.min_stage_hours if spec.rollout else None
        if target is None or target >= 100.0 - 1e-9:
            return Plan(decision, winner, "promote", percent, 100.0,
                        f"promote {winner} from {percent:g}% to 100%, the last stage: it "
                        "serves everyone and the experiment ends", held, minimum)  # fmt: skip
        summary = f"ramp {winner} from {percent:g}% to the next stage, {target:g}%"
        return Plan(decision, winner, "ramp", percent, target, summary, held, minimum)
    if decision == "rollback":
        return Plan(decision, variant, "rollback", None, 0.0,
                    "roll back: the champion serves everyone again")  # fmt: skip
    if decision == "keep":
        return Plan(decision, variant, "stop", None, 0.0,
                    "stop the experiment: the champion stays")  # fmt: skip
    return Plan(decision, variant, "none", None, None,
                "nothing to apply: the read-out asks for more data")  # fmt: skip


def read_out(registry: Registry, name: str, events: str, as_of: datetime | None = None) -> Report:
    """The read-out a decision is applied from, as ``champion analyze`` makes it with a
    registry: the stored spec, state, ramp history and look ledger; its decision points
    are recorded, so the next read-out spends alpha where this one stopped."""
    from dataclasses import replace

    from champion.analysis.aggregate import load_analysis_data
    from champion.analysis.readout import build_report
    from champion.analysis.store import open_store

    state = registry.get(name)
    history, ledger = registry.history(name), registry.looks(name)
    with open_store(events, experiment=name) as store:
        data = load_analysis_data(store, state.spec, as_of=as_of)
    report = build_report(data, state.spec, state=state, history=history, ledger=ledger)
    if report.new_looks:
        stored = tuple(registry.record_look(look) for look in report.new_looks)
        report = replace(report, new_looks=stored)
    return report


def _audit_reason(plan: Plan, reasons: tuple[str, ...], forced: str) -> str:
    """The audit log's reason: the decision and the read-out's reasons (and why it was forced
    past the stage's minimum hours, first, so a cut never loses it)."""
    text = f"decide apply: {plan.decision}" + (f" ({plan.variant})" if plan.variant else "")
    if forced:
        text += f" [forced before rollout.min_stage_hours: {forced}]"
    if reasons:
        text += ": " + "; ".join(reasons)
    return text[:REASON_LIMIT]


def _write(
    registry: Registry, name: str, plan: Plan, version: int, why: str, by: str | None
) -> ExperimentState:
    if plan.action == "ramp":
        assert plan.to_percent is not None
        return registry.ramp(name, plan.to_percent, challenger=plan.variant,
                             expected_version=version, reason=why, by=by)  # fmt: skip
    if plan.action == "promote":
        return registry.promote(name, challenger=plan.variant, expected_version=version,
                                reason=why, by=by)  # fmt: skip
    if plan.action == "rollback":
        return registry.rollback(name, expected_version=version, reason=why, by=by)
    return registry.stop(name, expected_version=version, reason=why, by=by)


def apply_decision(
    registry: Registry,
    name: str,
    report: Report,
    *,
    dry_run: bool = False,
    force: bool = False,
    reason: str = "",
    by: str | None = None,
    now: datetime | None = None,
    expected_version: int | None = None,
) -> Applied:
    """Apply ``report``'s decision for its challenger to ``name`` in ``registry``.

    A move before ``rollout.min_stage_hours`` raises StageHeldTooBriefly unless ``force``
    (which needs a ``reason``, kept in the audit log); ``dry_run`` plans and writes nothing.
    With ``expected_version`` (the version a dry run showed) a moved experiment raises
    StaleVersion instead of being moved on a plan made for another state.
    """
    why_forced = reason.strip()
    if force and not why_forced:
        raise InvalidArgument("reason", reason, "force needs a reason: it is kept in the audit log")
    state = registry.get(name)
    if expected_version is not None and state.version != expected_version:
        raise StaleVersion(name, expected_version, state.version)
    history = registry.history(name)
    d = report.decision
    when = now or datetime.now(UTC)
    plan = plan_decision(d.decision, d.variant, state.spec, state, history, when)
    if plan.too_early and not force and not dry_run:
        assert plan.held_hours is not None
        assert plan.min_stage_hours is not None
        raise StageHeldTooBriefly(name, plan.summary, plan.held_hours, plan.min_stage_hours)
    if plan.action == "none" or dry_run:
        return Applied(plan, d.reasons, dry_run, None)
    audit = _audit_reason(plan, d.reasons, why_forced if plan.too_early else "")
    return Applied(plan, d.reasons, dry_run, _write(registry, name, plan, state.version, audit, by))
