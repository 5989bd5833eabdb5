"""``champion decide apply NAME``: do what the read-out decided, through the spec's stages.

The read-out (``champion analyze``) ends in a decision for one challenger; this command
applies it through the registry, so every gateway worker follows within a second and the
audit log says why:

- ``rollout_full`` / ``rollout_gradual``: the winning challenger moves to the next of the
  spec's ``rollout.stages``; the last stage (100%) is a promotion: it serves everyone and
  the experiment ends (other challengers drop to 0%). A stage is held for
  ``rollout.min_stage_hours`` first: moving earlier needs ``--force`` with a ``--reason``.
- ``rollback``: the champion serves everyone again (the experiment is rolled back).
- ``keep``: the experiment stops; the champion stays.
- ``extend``: nothing to apply yet; the command says so and changes nothing.

``--dry-run`` says what would be done and changes nothing. Exit codes: 0 applied (or
nothing to apply), 2 bad input or a refusal (a stage held too briefly, a state that does
not allow the move).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from champion.cli._options import EventsOption, RegistryOnly, actor
from champion.cli._output import console, print_json, user_errors
from champion.cli._stages import next_stage, stage_started
from champion.cli.analyze import events_store, read_out
from champion.registry.connection import DEFAULT_URL

if TYPE_CHECKING:
    from champion.registry import AuditEntry, ExperimentState, Registry
    from champion.spec import Experiment

__all__ = ["Plan", "decide_app", "plan_decision"]

decide_app = typer.Typer(
    name="decide",
    help="Apply the read-out's decision through the registry and the spec's rollout stages.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

_REASON_LIMIT = 500


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


def _reason(plan: Plan, reasons: tuple[str, ...], forced: str) -> str:
    """The audit log's reason: the decision and the read-out's reasons (and why it was forced
    past the stage's minimum hours, first, so a cut never loses it)."""
    text = f"decide apply: {plan.decision}" + (f" ({plan.variant})" if plan.variant else "")
    if forced:
        text += f" [forced before rollout.min_stage_hours: {forced}]"
    if reasons:
        text += ": " + "; ".join(reasons)
    return text[:_REASON_LIMIT]


def _apply(registry: Registry, name: str, plan: Plan, version: int, why: str) -> ExperimentState:
    if plan.action == "ramp":
        assert plan.to_percent is not None
        return registry.ramp(name, plan.to_percent, challenger=plan.variant,
                             expected_version=version, reason=why, by=actor(None))  # fmt: skip
    if plan.action == "promote":
        return registry.promote(name, challenger=plan.variant, expected_version=version,
                                reason=why, by=actor(None))  # fmt: skip
    if plan.action == "rollback":
        return registry.rollback(name, expected_version=version, reason=why, by=actor(None))
    return registry.stop(name, expected_version=version, reason=why, by=actor(None))


def _too_early(plan: Plan, held_hours: float) -> str:
    wait = (plan.min_stage_hours or 0) - held_hours
    return (
        f"{plan.summary}: refused, the current stage has been served {held_hours:.1f} h and "
        f"the spec holds each stage {plan.min_stage_hours:g} h (rollout.min_stage_hours); "
        f"apply again in {wait:.1f} h, or now with --force --reason 'why'"
    )


@decide_app.command()
def apply(
    name: Annotated[str, typer.Argument(help="Experiment name.")],
    events: EventsOption = None,
    registry: RegistryOnly = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be done; change nothing.")
    ] = False,
    force: Annotated[
        bool,
        typer.Option("--force", help="Move before rollout.min_stage_hours (needs --reason)."),
    ] = False,
    reason: Annotated[
        str, typer.Option("--reason", help="Why, kept in the audit log (required with --force).")
    ] = "",
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Read out events up to this time (ISO 8601; default: now)."),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Apply the read-out's decision for its challenger, one rollout stage at a time."""
    from champion.registry import Registry

    with user_errors():
        if force and not reason.strip():
            raise ValueError("--force needs --reason 'why': it is kept in the audit log")
        url = registry or DEFAULT_URL
        report, spec = read_out(name, events_store(events), None, url, as_of)
        with Registry(url) as reg:
            state = reg.get(name)
            history = reg.history(name)
            now = datetime.now(UTC)
            d = report.decision
            plan = plan_decision(d.decision, d.variant, spec, state, history, now)
            if plan.too_early and not force and not dry_run:
                assert plan.held_hours is not None
                raise ValueError(_too_early(plan, plan.held_hours))
            applied = None
            if plan.action != "none" and not dry_run:
                why = _reason(plan, d.reasons, reason.strip() if plan.too_early else "")
                applied = _apply(reg, name, plan, state.version, why)
    _report(plan, applied, dry_run, d.reasons, json_output)


def _report(
    plan: Plan,
    applied: ExperimentState | None,
    dry_run: bool,
    reasons: tuple[str, ...],
    json_output: bool,
) -> None:
    if json_output:
        print_json(
            {**plan.to_dict(), "reasons": list(reasons), "dry_run": dry_run,
             "applied": applied is not None,
             "state": applied.to_dict() if applied is not None else None}
        )  # fmt: skip
        return
    prefix = "would " if dry_run and plan.action != "none" else ""
    head = f"{plan.decision}" + (f" ({plan.variant})" if plan.variant else "")
    console.print(f"[bold]{escape(head)}[/]: {escape(prefix + plan.summary)}", highlight=False)
    for r in reasons:
        console.print(f"- {escape(r)}", highlight=False)
    if plan.too_early and dry_run:
        console.print(
            f"note: the current stage has been served {plan.held_hours:.1f} h of the "
            f"{plan.min_stage_hours:g} h the spec asks; applying now needs --force --reason",
            highlight=False,
        )
    if applied is not None:
        shares = ", ".join(f"{v} {s * 100:g}%" for v, s in applied.allocation.items())
        console.print(
            f"{escape(applied.name)} is {applied.state} at version {applied.version}: "
            f"{escape(shares)}",
            highlight=False,
        )
