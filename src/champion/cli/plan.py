"""``champion plan``: sample size, duration and the MDE trade-off, from flags or a spec."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from champion.cli._output import console, print_json, user_errors
from champion.planner import Plan, PlanRequest, make_plan, request_for_design
from champion.spec.design import PlanInputs, load_plan_inputs

__all__ = ["plan"]


def _request_from_spec(inputs: PlanInputs, daily_units: float | None) -> PlanRequest:
    return request_for_design(
        inputs.design,
        shares=inputs.shares,
        n_challengers=len(inputs.challengers),
        daily_units=daily_units,
    )


def _fmt_pct(value: float) -> str:
    return f"{value:.2%}" if abs(value) < 0.1 else f"{value:.1%}"


def _render(result: Plan, source: str) -> None:
    req = result.request
    kind = "mean" if req.std is not None else "proportion"
    effect = f"{req.mde:g} relative" if req.relative else f"{req.mde:g} absolute"
    console.print(
        f"[bold]Plan[/] ({source}): {kind} metric, baseline {req.baseline:g}, MDE {effect}, "
        f"alpha {req.alpha:g} ({req.alternative}), power {req.power:g}, "
        f"ratio n_t/n_c {req.ratio:.4g}"
    )
    summary = Table(show_header=True, header_style="bold")
    for col in ("", "control", "treatment", "total", "days"):
        summary.add_column(col, justify="right")
    days = "-" if result.days is None else str(result.days)
    if result.inflation != 1.0 or result.sample != result.fixed_horizon:
        fixed = result.fixed_horizon
        summary.add_row(
            "fixed horizon",
            f"{fixed.n_control:,}",
            f"{fixed.n_treatment:,}",
            f"{fixed.total:,}",
            "",
        )
    summary.add_row(
        "[bold]needed[/]",
        f"{result.n_control:,}",
        f"{result.n_treatment:,}",
        f"{result.total:,}",
        days,
    )
    console.print(summary)
    for note in result.notes:
        console.print(f"  - {note}")
    table = Table(title="What the MDE costs", header_style="bold")
    for col in ("MDE (abs)", "relative", "control", "treatment", "total", "days"):
        table.add_column(col, justify="right")
    for row in result.trade_off:
        marker = "[bold]" if row.mde == req.mde else ""
        table.add_row(
            f"{marker}{_fmt_pct(row.mde_absolute)}",
            f"{row.mde_relative:.0%}",
            f"{row.n_control:,}",
            f"{row.n_treatment:,}",
            f"{row.total:,}",
            "-" if row.days is None else str(row.days),
        )
    console.print(table)


def plan(
    baseline: Annotated[
        float | None, typer.Option(help="Control's rate (proportion) or mean (with --std).")
    ] = None,
    mde: Annotated[float | None, typer.Option(help="Minimum detectable effect.")] = None,
    relative: Annotated[bool, typer.Option("--relative", help="MDE is relative.")] = False,
    alpha: Annotated[float, typer.Option(help="False-positive rate.")] = 0.05,
    power: Annotated[float, typer.Option(help="Chance to detect an effect of size MDE.")] = 0.8,
    ratio: Annotated[float, typer.Option(help="n_treatment / n_control (0.0526 for 95/5).")] = 1.0,
    one_sided: Annotated[bool, typer.Option("--one-sided", help="One-sided test.")] = False,
    std: Annotated[
        float | None, typer.Option(help="Standard deviation: plan a mean metric.")
    ] = None,
    looks: Annotated[int, typer.Option(help="Planned sequential looks (1 = fixed).")] = 1,
    challengers: Annotated[int, typer.Option(help="Challengers sharing alpha.")] = 1,
    daily_units: Annotated[
        float | None, typer.Option("--daily-units", help="Eligible units per day.")
    ] = None,
    spec: Annotated[
        Path | None, typer.Option("--spec", help="Read the design block of this spec.")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """How many units and days an experiment needs, and what a smaller MDE costs."""
    with user_errors():
        if spec is not None:
            request = _request_from_spec(load_plan_inputs(spec), daily_units)
            source = str(spec)
        else:
            missing = [flag for flag, v in (("--baseline", baseline), ("--mde", mde)) if v is None]
            if missing:
                raise ValueError(f"{' and '.join(missing)} required (or --spec FILE)")
            request = PlanRequest(
                baseline=baseline,
                mde=mde,
                relative=relative,
                alpha=alpha,
                power=power,
                ratio=ratio,
                alternative="larger" if one_sided else "two-sided",
                std=std,
                looks=looks,
                n_challengers=challengers,
                daily_units=daily_units,
            )
            source = "flags"
        result = make_plan(request)
    if json_output:
        print_json(result.to_dict())
    else:
        _render(result, source)
