"""``champion experiment ...``: register specs and move experiments through their lifecycle.

Every write reads the experiment first and writes with the version it read, so two people
changing one experiment at once cannot overwrite each other: the second gets a StaleVersion
message and re-runs the command. ``--expect-version N`` pins the version you looked at.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from champion.cli._options import RegistryOption, actor
from champion.cli._output import console, print_json, user_errors
from champion.cli._stages import warn_ramp
from champion.registry import AuditEntry, ExperimentState, Registry, allowed_actions
from champion.spec import load_spec, spec_to_dict

__all__ = ["experiment_app"]

experiment_app = typer.Typer(
    name="experiment",
    help="Register experiments and move them through draft, shadow, running and their end.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

Db = RegistryOption
Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]
By = Annotated[
    str | None,
    typer.Option("--by", help="Who makes the change (default: your login name).", callback=actor),
]
Reason = Annotated[str, typer.Option("--reason", help="Why, kept in the audit log.")]
Required = Annotated[str, typer.Option("--reason", help="Why (required), kept in the audit log.")]
Expect = Annotated[
    int | None,
    typer.Option("--expect-version", help="Refuse unless the experiment is at this version."),
]
Name = Annotated[str, typer.Argument(help="Experiment name.")]


@contextmanager
def _registry(db: str | None) -> Iterator[Registry]:
    with user_errors():
        registry = Registry(db)
        try:
            yield registry
        finally:
            registry.close()


def _shares(allocation: dict[str, float]) -> str:
    return ", ".join(f"{name} {share * 100:g}%" for name, share in allocation.items())


def _stage(state: ExperimentState) -> str:
    if state.stage is None:
        return "-"
    stages = state.spec.rollout.stages if state.spec.rollout else []
    return f"{state.stage + 1} of {len(stages)} ({stages[state.stage]:g}%)"


def _summary(state: ExperimentState) -> None:
    stage = "" if state.stage is None else f", rollout stage {_stage(state)}"
    console.print(
        f"[bold]{escape(state.name)}[/] is [bold]{state.state}[/] at version {state.version}: "
        f"{escape(_shares(state.allocation))}{stage}",
        highlight=False,
        soft_wrap=True,
    )


def _write(
    db: str | None,
    name: str,
    expect: int | None,
    json_output: bool,
    change: Callable[[Registry, int], ExperimentState],
) -> None:
    with _registry(db) as registry:
        expected = registry.get(name).version if expect is None else expect
        state = change(registry, expected)
        if json_output:
            print_json(state.to_dict())
        else:
            _summary(state)


_CREATE_FIX = (
    "fix the target or put the file there (--models-dir DIR when the models live elsewhere), "
    "or register the spec without loading its models with --no-load"
)
_START_FIX = (
    "give the folder `champion serve` will load the models from with --models-dir DIR (the "
    "default is the current folder), or start without loading them with --no-load"
)
Load = Annotated[
    bool,
    typer.Option(
        "--load/--no-load",
        help="Load and call every model once first, as serve does (python models run their "
        "module), and refuse a spec whose model cannot be served; --no-load skips that.",
    ),
]


@experiment_app.command()
def create(
    file: Annotated[Path, typer.Option("--file", "-f", help="Experiment spec (YAML).")],
    db: Db = None,
    by: By = None,
    reason: Reason = "",
    load: Load = True,
    models_dir: Annotated[
        Path | None,
        typer.Option("--models-dir", help="Folder models load from (default: the spec's)."),
    ] = None,
    json_output: Json = False,
) -> None:
    """Register a spec as a draft (version 1), once its models load (as validate checks)."""
    with _registry(db) as registry:
        spec = load_spec(file)
        if load:
            from champion.cli.validate import check_models

            check_models(spec, file, models_dir, fix=_CREATE_FIX)
        state = registry.create(spec, by=by, reason=reason)
        if json_output:
            print_json(state.to_dict())
        else:
            _summary(state)


@experiment_app.command(name="list")
def list_(db: Db = None, json_output: Json = False) -> None:
    """Every experiment with its state, version and allocation."""
    with _registry(db) as registry:
        experiments = registry.snapshot().experiments
    if json_output:
        print_json([e.to_dict() for e in experiments])
        return
    if not experiments:
        console.print(f"no experiments in {escape(registry.url)}", highlight=False)
        return
    table = Table(header_style="bold", box=box.SIMPLE_HEAD)
    table.add_column("name", no_wrap=True)
    table.add_column("state", no_wrap=True)
    table.add_column("version", justify="right")
    table.add_column("allocation", min_width=10)
    table.add_column("stage")
    table.add_column("updated (UTC)", no_wrap=True)
    for e in experiments:
        table.add_row(
            escape(e.name), e.state.value, str(e.version), escape(_shares(e.allocation)),
            _stage(e), f"{e.updated_at:%Y-%m-%d %H:%M}",
        )  # fmt: skip
    console.print(table)


@experiment_app.command()
def show(name: Name, db: Db = None, json_output: Json = False) -> None:
    """One experiment: state, allocation, what may happen next, and its spec."""
    with _registry(db) as registry:
        state = registry.get(name)
        spec = state.spec
    following = allowed_actions(state.state)
    if json_output:
        print_json(
            {**state.to_dict(), "updated_by": state.updated_by, "next": following,
             "spec": spec_to_dict(spec)}
        )  # fmt: skip
        return
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="dim")
    table.add_column()
    rows = [
        ("state", state.state.value),
        ("version", str(state.version)),
        ("allocation", _shares(state.allocation)),
        ("stage", _stage(state)),
        ("updated", f"{state.updated_at.isoformat()} by {state.updated_by}"),
        ("next", ", ".join(following) or "- (final)"),
        ("champion", spec.champion),
        ("challengers", ", ".join(spec.challengers)),
        ("shadow", ", ".join(s.model for s in spec.shadow) or "-"),
        ("primary metric", spec.metrics.primary.name),
    ]
    for key, value in rows:
        table.add_row(key, escape(value))
    console.print(f"[bold]{escape(state.name)}[/]", highlight=False)
    console.print(table)


@experiment_app.command()
def history(name: Name, db: Db = None, json_output: Json = False) -> None:
    """Every change to an experiment, oldest first: version, action, state, who, when, why."""
    with _registry(db) as registry:
        entries: list[AuditEntry] = registry.history(name)
    if json_output:
        print_json([e.to_dict() for e in entries])
        return
    table = Table(header_style="bold", box=box.SIMPLE_HEAD)
    table.add_column("version", justify="right")
    for column in ("action", "state", "allocation", "by"):
        table.add_column(column, min_width=len(column))
    table.add_column("at (UTC)")
    table.add_column("reason")
    for e in entries:
        table.add_row(
            str(e.version), e.action, e.state.value, escape(_shares(e.allocation)),
            escape(e.by), f"{e.at:%Y-%m-%d %H:%M:%S}", escape(e.reason),
        )  # fmt: skip
    console.print(table)


@experiment_app.command()
def start(
    name: Name,
    shadow: Annotated[
        bool, typer.Option("--shadow", help="Only mirror traffic to the challengers.")
    ] = False,
    db: Db = None,
    by: By = None,
    reason: Reason = "",
    expect: Expect = None,
    load: Load = True,
    models_dir: Annotated[
        Path | None,
        typer.Option(
            "--models-dir",
            help="Folder models load from, as `champion serve --models-dir` (default: the "
            "current folder).",
        ),
    ] = None,
    json_output: Json = False,
) -> None:
    """Serve the spec's allocation (running), or with --shadow only mirror traffic; refused
    while a model of the registered spec cannot be loaded."""

    def change(registry: Registry, version: int) -> ExperimentState:
        if load:
            from champion.cli.validate import check_models

            check_models(registry.get(name).spec, None, models_dir, fix=_START_FIX)
        return registry.start(name, shadow=shadow, expected_version=version, by=by,
                              reason=reason)  # fmt: skip

    _write(db, name, expect, json_output, change)


@experiment_app.command()
def ramp(
    name: Name,
    to: Annotated[float, typer.Option("--to", help="Challenger's share in percent (0-100).")],
    challenger: Annotated[
        str | None, typer.Option("--challenger", help="Which challenger (default: the first).")
    ] = None,
    db: Db = None,
    by: By = None,
    reason: Reason = "",
    expect: Expect = None,
    json_output: Json = False,
) -> None:
    """Set one challenger's share; the champion takes the rest (warns off the spec's stages)."""
    warn_ramp(db, name, to, challenger)
    _write(db, name, expect, json_output, lambda r, v: r.ramp(
        name, to, challenger=challenger, expected_version=v, by=by, reason=reason))  # fmt: skip


def _ending(action: str, doc: str, *, called: str | None = None) -> None:
    """A command ``called`` (default: ``action``) calling the registry's ``action``."""

    def command(
        name: Name,
        reason: Required,
        db: Db = None,
        by: By = None,
        expect: Expect = None,
        json_output: Json = False,
    ) -> None:
        _write(db, name, expect, json_output, lambda r, v: getattr(r, action)(
            name, reason=reason, expected_version=v, by=by))  # fmt: skip

    command.__doc__ = doc
    experiment_app.command(name=called or action)(command)


_ending("stop", "End the experiment; the champion serves everyone again.")
_ending("complete", "End the experiment with a decision, keeping its allocation.")
_ending("rollback", "Abort a running experiment; the champion serves everyone again.")
_ending(
    "archive",
    "Take the experiment out of service for good, from any state, a broken one included: "
    "gateways stop serving it and skip it at start-up. Its history stays.",
)


_ending(
    "archive",
    "Archive the experiment (champion keeps every experiment's history): see archive.",
    called="delete",
)
