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

The admin API does the same (``POST /v1/experiments/{name}/decide``, docs/serving.md):
both call ``champion.decide.apply_decision``.

``--dry-run`` says what would be done and changes nothing. Exit codes: 0 applied (or
nothing to apply), 2 bad input or a refusal (a stage held too briefly, a state that does
not allow the move).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from champion.cli._options import EventsOption, RegistryOnly, actor
from champion.cli._output import console, print_json, user_errors
from champion.cli.analyze import _as_of, events_store
from champion.registry.connection import DEFAULT_URL

if TYPE_CHECKING:
    from champion.decide import Applied

__all__ = ["decide_app"]

decide_app = typer.Typer(
    name="decide",
    help="Apply the read-out's decision through the registry and the spec's rollout stages.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
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
    """Apply the read-out's decision for its challenger, one rollout stage at a time (the
    admin API does the same: POST /v1/experiments/NAME/decide)."""
    from champion.decide import apply_decision, read_out
    from champion.registry import Registry

    with user_errors():
        if force and not reason.strip():
            raise ValueError("--force needs --reason 'why': it is kept in the audit log")
        target, when = events_store(events), _as_of(as_of)
        with Registry(registry or DEFAULT_URL) as reg:
            report = read_out(reg, name, target, when)
            done = apply_decision(reg, name, report, dry_run=dry_run, force=force,
                                  reason=reason, by=actor(None))  # fmt: skip
    _report(done, json_output)


def _report(done: Applied, json_output: bool) -> None:
    if json_output:
        print_json(done.to_dict())
        return
    plan, applied = done.plan, done.state
    prefix = "would " if done.dry_run and plan.action != "none" else ""
    head = f"{plan.decision}" + (f" ({plan.variant})" if plan.variant else "")
    console.print(f"[bold]{escape(head)}[/]: {escape(prefix + plan.summary)}", highlight=False)
    for r in done.reasons:
        console.print(f"- {escape(r)}", highlight=False)
    if plan.too_early and done.dry_run:
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
