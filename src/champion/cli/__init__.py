"""The ``champion`` command line: one typer app; every command has ``--json``."""

from __future__ import annotations

from typing import Annotated

import typer

from champion import __version__
from champion.cli._options import ChampionGroup
from champion.cli.analyze import analyze
from champion.cli.assign import assign
from champion.cli.bandit import bandit_app
from champion.cli.decide import decide_app
from champion.cli.demo import demo
from champion.cli.experiment import experiment_app
from champion.cli.monitor import monitor
from champion.cli.outcomes import outcomes_app
from champion.cli.plan import plan
from champion.cli.rollout import rollout_app
from champion.cli.serve import serve
from champion.cli.shadow import shadow_report
from champion.cli.simulate import simulate
from champion.cli.ui import ui
from champion.cli.validate import validate

__all__ = ["app", "main"]

app = typer.Typer(
    name="champion",
    cls=ChampionGroup,
    help="Champion/challenger experiments for ML models: design, shadow, A/B, measure, decide.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command(name="demo")(demo)
app.command(name="plan")(plan)
app.command(name="validate")(validate)
app.command(name="serve")(serve)
app.command(name="assign")(assign)
app.command(name="shadow-report")(shadow_report)
app.command(name="analyze")(analyze)
app.command(name="monitor")(monitor)
app.command(name="simulate")(simulate)
app.command(name="ui")(ui)
app.add_typer(experiment_app, name="experiment")
app.add_typer(outcomes_app, name="outcomes")
app.add_typer(decide_app, name="decide")
app.add_typer(bandit_app, name="bandit")
app.add_typer(rollout_app, name="rollout")


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"champion {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    """Champion/challenger experiments for ML models: design, shadow, A/B, measure, decide."""


def main() -> None:
    app()
