"""``champion bandit update|report NAME``: run an experiment as a Thompson-sampling bandit.

``update`` recomputes the weights from the rewards logged so far (holdout units excluded)
and publishes them through the registry as a new allocation version; every gateway worker
serves it after its next poll. Run it every ``bandit.update_every`` (cron, or a loop).
``report`` prints the bandit's estimates, each with what it is valid for: the bandit
against its uniform holdout (a launch decision), each arm's adaptively weighted value, and
the naive per-arm mean (biased: shown so the bias is visible). Exit codes: 0 done, 2 bad
input or a refusal (not a bandit, not running).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from champion.cli._options import EventsOption, RegistryOnly, actor
from champion.cli._output import console, print_json, user_errors
from champion.cli.analyze import _as_of, events_store
from champion.registry.connection import DEFAULT_URL

__all__ = ["bandit_app"]

bandit_app = typer.Typer(
    name="bandit",
    help="Run an experiment as a Thompson-sampling bandit: update its weights, read it out.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@bandit_app.command()
def update(
    name: Annotated[str, typer.Argument(help="Experiment name.")],
    events: EventsOption = None,
    registry: RegistryOnly = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Compute the weights; publish nothing.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Recompute the bandit's weights from its rewards and publish them as a new version."""
    from champion.bandit import update_weights
    from champion.registry import Registry

    with user_errors():
        target = events_store(events)
        with Registry(registry or DEFAULT_URL) as reg:
            done = update_weights(reg, target, name, dry_run=dry_run, by=actor(None))
    if json_output:
        print_json(done.to_dict())
        return
    table = Table(title=f"{escape(name)}: bandit weights" + (" (dry run)" if dry_run else ""))
    for column in ("arm", "policy units", "reward sum", "weight"):
        table.add_column(column, justify="left" if column == "arm" else "right")
    for arm, weight in done.weights.items():
        table.add_row(escape(arm), f"{done.units[arm]:,}", f"{done.rewards[arm]:,.4g}",
                      f"{weight:.1%}")  # fmt: skip
    console.print(table)
    where = "not published" if done.version is None else f"published as version {done.version}"
    console.print(f"{done.holdout_units:,} holdout units left out; {where}", highlight=False)


@bandit_app.command()
def report(
    name: Annotated[str, typer.Argument(help="Experiment name.")],
    events: EventsOption = None,
    registry: RegistryOnly = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Count units whose window closed by then (default: now)."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """The bandit's estimates, each labelled with what it is valid for."""
    from champion.bandit import bandit_readout
    from champion.registry import Registry

    with user_errors():
        target = events_store(events)
        with Registry(registry or DEFAULT_URL) as reg:
            spec = reg.spec(name)
        out = bandit_readout(target, spec, as_of=_as_of(as_of) or datetime.now(UTC))
    if json_output:
        print_json(out)
        return
    _print_readout(name, out)


def _print_readout(name: str, out: dict[str, Any]) -> None:
    console.print(
        f"[bold]{escape(name)}[/]: {out['units']:,} units, {out['units_with_reward']:,} with "
        f"their reward window closed ({out['holdout_units']:,} in the holdout)",
        highlight=False,
    )
    if out["status"] != "ok":
        console.print("no unit's reward window has closed yet", highlight=False)
        return
    gain = out["bandit_vs_holdout"]
    console.print(
        f"bandit against the uniform holdout: {_num(gain['diff'])} per unit "
        f"[{_num(gain['diff_ci'][0])}, {_num(gain['diff_ci'][1])}], p = {_num(gain['p_value'])}"
        f" - {escape(gain['valid_for'])}",
        highlight=False,
    )
    values = out["arm_values"]
    table = Table(title="each arm's value")
    interval = f"95% CI ({values['interval']})"
    for column in ("arm", "estimate (AIPW)", interval, "naive mean", "naive - AIPW"):
        table.add_column(column, justify="left" if column == "arm" else "right")
    for i, arm in enumerate(out["arms"]):
        est, naive = values["estimate"][i], values["naive"][i]
        bias = None if est is None or naive is None else naive - est
        ci = f"[{_num(values['ci_lower'][i])}, {_num(values['ci_upper'][i])}]"
        table.add_row(escape(arm), _num(est), ci, _num(naive), _num(bias))
    console.print(table)
    for key in ("arm_value", "naive"):
        console.print(f"- {key}: {escape(values['valid_for'][key])}", highlight=False)
    console.print(escape(out["launch_decision"]), highlight=False)


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.4g}"
