"""``champion rollout ...``: where a progressive rollout stands, and the moves people make.

The monitor walks the stages by itself; these commands are for people: see the stage and
its guardrails (``status``), hold it (``pause``), let it go on (``resume``), finish it
(``promote``: the challenger serves everyone) or abort it (``rollback``). Every move is a
version-checked registry transition with its reason, shown by ``champion experiment
history`` beside the monitor's own.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from champion.cli._output import console, err_console, print_json
from champion.cli.experiment import By, Db, Expect, Json, Name, Required, _registry, _write

__all__ = ["rollout_app"]

rollout_app = typer.Typer(
    name="rollout",
    help="Progressive rollouts: status, pause, resume, promote, rollback.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _status(registry: Any, name: str) -> dict[str, Any]:
    from champion.monitor.rollout import current_challenger, next_stage
    from champion.monitor.tick import (
        _started,
        judge_current_stage,
        judge_stored,
        recent_windows,
        stage_baseline,
        verdict,
    )

    state = registry.get(name)
    spec = state.spec
    history = registry.history(name)
    started, stage_started = _started(history)
    windows = recent_windows(registry, name, spec, started)
    rules = judge_stored(registry, name, spec, started, windows)
    first, baseline = stage_baseline(registry, name, spec, started, stage_started)
    stage = judge_current_stage(spec, windows, first, baseline)
    which = current_challenger(spec, state.allocation)
    percent = 100 * state.allocation.get(which, 0.0)
    following = next_stage(spec.rollout, percent) if spec.rollout else None
    return {
        **state.to_dict(),
        "challenger": which,
        "stage_percent": percent,
        "stages": list(spec.rollout.stages) if spec.rollout else [],
        "next_stage_percent": following,
        "stage_started": stage_started.isoformat(),
        "last_window": windows[-1].start.isoformat() if windows else None,
        "verdict": verdict(rules, stage),
        "guardrails": [r.to_dict() for r in rules],
        "stage_guardrails": [r.to_dict() for r in stage],
        "last_change": history[-1].to_dict(),
    }


@rollout_app.command()
def status(name: Name, db: Db = None, json_output: Json = False) -> None:
    """Stage, live percentage, the guardrails as the monitor last stored them, the verdict."""
    with _registry(db) as registry:
        out = _status(registry, name)
    if json_output:
        print_json(out)
        return
    stages = " -> ".join(
        f"[bold]{s:g}%[/]" if abs(s - out["stage_percent"]) < 1e-9 else f"{s:g}%"
        for s in out["stages"]
    )
    console.print(
        f"[bold]{escape(name)}[/] is {out['state']}: {escape(out['challenger'])} at "
        f"{out['stage_percent']:g}% since {out['stage_started']} ({stages or 'no stages'}); "
        f"verdict [bold]{out['verdict']}[/]",
        highlight=False,
        soft_wrap=True,
    )
    table = Table(header_style="bold", box=box.SIMPLE_HEAD)
    for col in ("guardrail", "variant", "kind", "status", "estimate", "bound", "limit", "k/K", "n"):
        table.add_column(col)
    for r in [*out["guardrails"], *out["stage_guardrails"]]:
        table.add_row(
            escape(f"{r['guardrail']} {r['rule']}"), escape(r["variant"]), r["kind"],
            r["status"], _num(r["estimate"]), _num(r["bound"]), _num(r["limit"]),
            f"{r['k']}/{r['stop_after']}", str(r["n"]),
        )  # fmt: skip
    console.print(table)
    if out["last_window"] is None:
        console.print(
            "no guardrail window stored yet: is `champion monitor` running?", highlight=False
        )


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.4g}"


@rollout_app.command()
def pause(
    name: Name, reason: Required, db: Db = None, by: By = None, expect: Expect = None,
    json_output: Json = False,
) -> None:  # fmt: skip
    """Hold the rollout at its stage: it keeps serving, nobody (the monitor too) ramps it."""
    _write(db, name, expect, json_output,
           lambda r, v: r.pause(name, reason=reason, expected_version=v, by=by))  # fmt: skip


@rollout_app.command()
def resume(
    name: Name, reason: Required, db: Db = None, by: By = None, expect: Expect = None,
    json_output: Json = False,
) -> None:  # fmt: skip
    """Let a paused rollout move again (the monitor advances it when its gates pass)."""
    _write(db, name, expect, json_output,
           lambda r, v: r.resume(name, reason=reason, expected_version=v, by=by))  # fmt: skip


@rollout_app.command()
def promote(
    name: Name, reason: Required,
    challenger: Annotated[
        str | None, typer.Option("--challenger", help="The winner (default: the first).")
    ] = None,
    mlflow_alias: Annotated[
        str | None,
        typer.Option("--mlflow-alias", help="Also move this MLflow alias to the winner's version "
                     "(default: the spec's rollout.promote_alias)."),
    ] = None,
    db: Db = None, by: By = None, expect: Expect = None, json_output: Json = False,
) -> None:  # fmt: skip
    """Finish: the challenger serves everyone (state completed)."""
    from champion.monitor.promotion import move_alias

    _write(db, name, expect, json_output, lambda r, v: r.promote(
        name, reason=reason, challenger=challenger, expected_version=v, by=by))  # fmt: skip
    with _registry(db) as registry:
        state = registry.get(name)
    spec = state.spec
    alias = mlflow_alias or (spec.rollout.promote_alias if spec.rollout else None)
    if alias:
        winner = max(state.allocation, key=lambda v: state.allocation[v])
        try:
            said = move_alias(spec, winner, alias)
        except Exception as e:  # the promotion stands; say what failed
            err_console.print(
                f"[bold red]error:[/] {escape(name)} is promoted, but the MLflow alias "
                f"{escape(alias)} was not moved: {escape(str(e))}",
                highlight=False,
            )
            raise typer.Exit(1) from None
        if not json_output:
            console.print(escape(said), highlight=False)


@rollout_app.command()
def rollback(
    name: Name, reason: Required, db: Db = None, by: By = None, expect: Expect = None,
    json_output: Json = False,
) -> None:  # fmt: skip
    """Abort: the champion serves everyone again (state rolled_back)."""
    _write(db, name, expect, json_output,
           lambda r, v: r.rollback(name, reason=reason, expected_version=v, by=by))  # fmt: skip
