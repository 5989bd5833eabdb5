"""``champion validate FILE``: check a spec, then show what its design costs in units and days."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from champion.cli._output import console, print_json, user_errors
from champion.errors import ModelsFailedToLoad, SpecError
from champion.planner import Plan, make_plan, request_for_design
from champion.spec import Experiment, load_spec
from champion.spec.io import where_in_spec

__all__ = ["check_models", "plan_for_spec", "validate"]


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


def check_models(
    experiment: Experiment,
    path: Path | None,
    models_dir: Path | None = None,
    *,
    fix: str = "fix the target, or check the file only with --no-load",
) -> None:
    """Load and call every model once, as ``champion serve`` does at start-up; a model that
    cannot be served is a problem of the spec, reported with its field, line and ``fix``.

    ``path`` is the spec's file (relative targets load from its folder unless
    ``models_dir``); None for a spec read from the registry, whose models load from
    ``models_dir`` or the current folder, as ``champion serve --registry`` loads them.
    """
    from champion.models.loader import load_models

    base = models_dir or (path.parent if path is not None else Path.cwd())
    try:
        loaded = load_models(experiment, base)
    except ModelsFailedToLoad as e:
        source = str(path) if path is not None else f"experiment {experiment.name!r}"
        problems = [
            f"{_where(path, experiment.name, err.model)}: model {err.model!r} cannot be "
            f"served: {err.problem}; {fix}"
            for err in e.errors
        ]
        raise SpecError(source, problems) from None
    for adapter in loaded.values():
        adapter.close()


def _where(path: Path | None, name: str, model: str) -> str:
    field = ("models", model, "target")
    if path is not None:
        return where_in_spec(path, field)
    return f"models.{model}.target (the spec registered as {name!r})"


def _render(experiment: Experiment, plan: Plan | None, path: Path, loaded: bool) -> None:
    console.print(
        f"[bold green]ok[/] {escape(str(path))}: experiment [bold]{escape(experiment.name)}[/]"
        + ("" if loaded else " (models not loaded: --no-load)"),
        highlight=False,
    )
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="dim")
    table.add_column()
    shares = ", ".join(f"{k} {v:.0%}" for k, v in experiment.allocation.items())
    rows = [
        ("unit", experiment.unit),
        ("champion", experiment.champion),
        ("challengers", ", ".join(experiment.challengers)),
        ("allocation", shares),
        ("shadow", ", ".join(s.model for s in experiment.shadow) or "-"),
        ("primary", experiment.metrics.primary.name),
        ("guardrails", ", ".join(g.name for g in experiment.metrics.guardrails) or "-"),
    ]
    for key, value in rows:
        table.add_row(key, escape(value))
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
    load: Annotated[
        bool,
        typer.Option(
            "--load/--no-load",
            help="Load and call every model once, as serve does (python models run their "
            "module); --no-load checks the file only.",
        ),
    ] = True,
    models_dir: Annotated[
        Path | None,
        typer.Option("--models-dir", help="Folder models load from (default: the spec's)."),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Check a spec: every problem with its field and line, or the plan it implies."""
    with user_errors():
        experiment = load_spec(file)
        if load:
            check_models(experiment, file, models_dir)
        plan = plan_for_spec(experiment, daily_units)
    if json_output:
        print_json(
            {
                "valid": True,
                "name": experiment.name,
                "variants": experiment.variants,
                "models_loaded": load,
                "plan": plan.to_dict() if plan else None,
            }
        )
    else:
        _render(experiment, plan, file, load)
