"""``champion validate FILE``: check a spec, then show what its design costs in units and days."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from champion.cli._output import console, print_json, user_errors
from champion.planner import Plan, make_plan, request_for_design
from champion.spec import Experiment, load_spec

__all__ = ["plan_for_spec", "validate"]


def plan_for_spec(experiment: Experiment, daily_units: float | None = None) -> Plan | None:
    """The planner's answer for a spec's design; None when the spec has no design block."""
    if experiment.design is None:
        return None
    champion_share = experiment.allocation.get(experiment.champion, 0.0)
    challenger_share = min(experiment.allocation.get(c, 0.0) for c in experiment.challengers)
    return make_plan(
        request_for_design(
            experiment.design,
            shares=(champion_share, challenger_share),
            n_challengers=len(experiment.challengers),
            daily_units=daily_units,
        )
    )


def _render(experiment: Experiment, plan: Plan | None, path: Path) -> None:
    console.print(f"[bold green]ok[/] {path}: experiment [bold]{experiment.name}[/]")
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="dim")
    table.add_column()
    shares = ", ".join(f"{k} {v:.0%}" for k, v in experiment.allocation.items())
    table.add_row("unit", experiment.unit)
    table.add_row("champion", experiment.champion)
    table.add_row("challengers", ", ".join(experiment.challengers))
    table.add_row("allocation", shares)
    table.add_row("shadow", ", ".join(s.model for s in experiment.shadow) or "-")
    table.add_row("primary", experiment.metrics.primary.name)
    table.add_row("guardrails", ", ".join(g.name for g in experiment.metrics.guardrails) or "-")
    if plan is not None:
        table.add_row(
            "sample needed",
            f"{plan.n_control:,} champion + {plan.n_treatment:,} challenger = {plan.total:,} units",
        )
        table.add_row("duration", "-" if plan.days is None else f"{plan.days} days")
        for note in plan.notes:
            table.add_row("", note)
    console.print(table)


def validate(
    file: Annotated[Path, typer.Argument(help="Experiment spec (YAML).")],
    daily_units: Annotated[
        float | None, typer.Option("--daily-units", help="Eligible units per day.")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Check a spec: every problem with its field and line, or the plan it implies."""
    with user_errors():
        experiment = load_spec(file)
        plan = plan_for_spec(experiment, daily_units)
    if json_output:
        print_json(
            {
                "valid": True,
                "name": experiment.name,
                "variants": experiment.variants,
                "plan": plan.to_dict() if plan else None,
            }
        )
    else:
        _render(experiment, plan, file)
