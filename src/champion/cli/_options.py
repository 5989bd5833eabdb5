"""One vocabulary for every command: ``--registry`` is experiment state, ``--events`` the log.

``--registry URL|PATH`` (env ``CHAMPION_REGISTRY``; default ``champion.db`` in the working
folder) names the registry; ``--events DIR|URL`` (env ``CHAMPION_EVENTS``) the event store:
a Parquet folder or a database URL. The old spelling ``--db`` meant the registry in
``serve``, ``assign``, ``experiment``, ``rollout`` and ``monitor``, and the event store in
``analyze`` and ``outcomes load``; it keeps working for one release with a warning that
names the new flag. The root group rewrites it before parsing (:class:`ChampionGroup`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from typer.core import TyperGroup

from champion.cli._output import err_console

__all__ = [
    "EVENTS_ENV",
    "REGISTRY_ENV",
    "ChampionGroup",
    "EventsOption",
    "LegacyEventsDb",
    "RegistryOnly",
    "RegistryOption",
    "actor",
    "deprecated",
    "events_target",
    "registry_given_on_command_line",
]

REGISTRY_ENV = "CHAMPION_REGISTRY"
EVENTS_ENV = "CHAMPION_EVENTS"
# The registry's own variable, still read when the new one is unset.
_OLD_REGISTRY_ENV = "CHAMPION_DB"

RegistryOption = Annotated[
    str | None,
    typer.Option(
        "--registry",
        "--db",
        envvar=[REGISTRY_ENV, _OLD_REGISTRY_ENV],
        help="Registry: a SQLite path or a database URL (default: champion.db). "
        "--db is the deprecated spelling.",
        show_default=False,
        metavar="URL|PATH",
    ),
]

# For commands where --db never meant the registry (analyze: it was the event store).
RegistryOnly = Annotated[
    str | None,
    typer.Option(
        "--registry",
        envvar=[REGISTRY_ENV, _OLD_REGISTRY_ENV],
        help="Registry: a SQLite path or a database URL (default: champion.db).",
        show_default=False,
        metavar="URL|PATH",
    ),
]

EventsOption = Annotated[
    str | None,
    typer.Option(
        "--events",
        envvar=EVENTS_ENV,
        help="Event store: the Parquet folder the gateway writes to, or a database URL "
        "(postgresql://...).",
        show_default=False,
        metavar="DIR|URL",
    ),
]

LegacyEventsDb = Annotated[
    str | None,
    typer.Option("--db", hidden=True, help="Deprecated: use --events."),
]

# Commands (their path below ``champion``) where --db meant the registry.
_REGISTRY_DB = {"serve", "assign", "monitor", "experiment", "rollout", "decide"}


def deprecated(old: str, new: str) -> None:
    """Say once, on stderr, that a flag has a new name (stdout stays clean for --json)."""
    err_console.print(
        f"warning: {old} is deprecated here: use {new} (the old spelling goes in the next release)",
        highlight=False,
        markup=False,
    )


def _looks_like_registry(value: str) -> bool:
    path = Path(value.removeprefix("sqlite:///"))
    return value.startswith("sqlite:") or path.suffix in (".db", ".sqlite") or path.is_file()


def events_target(events: str | None, db: str | None) -> str | None:
    """The event store from ``--events``, or the deprecated ``--db`` with a warning."""
    if db is not None:
        if events is not None:
            raise typer.BadParameter("give one event store, not both", param_hint="'--events'")
        if _looks_like_registry(db):
            raise typer.BadParameter(
                f"{db} looks like the registry, and --db here meant the event store: give the "
                f"registry with --registry {db} and the events with --events DIR|URL",
                param_hint="'--db'",
            )
        deprecated("--db", "--events")
        return db
    return events


def actor(by: str | None) -> str | None:
    """Who a change is recorded as: ``--by``, else the login name ($USER, $LOGNAME, or the
    account the process runs as), so the audit log never says "unknown" in a container
    without $USER."""
    if by is not None:
        return by
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid
        return None


def registry_given_on_command_line(param: str = "db") -> bool:
    """Whether the registry option came from the command line rather than the environment."""
    # typer runs on its own copy of click: ask that one for the running command's context.
    from typer._click.core import ParameterSource
    from typer._click.globals import get_current_context

    ctx = get_current_context(silent=True)
    if ctx is None:
        return True
    return ctx.get_parameter_source(param) is ParameterSource.COMMANDLINE


def _rewrite(args: list[str]) -> list[str]:
    words = [a for a in args if not a.startswith("-")]
    if not words or words[0] not in _REGISTRY_DB:
        return args
    out = []
    for arg in args:
        if arg == "--db" or arg.startswith("--db="):
            deprecated("--db", "--registry")
            arg = "--registry" + arg[len("--db") :]
        out.append(arg)
    return out


class ChampionGroup(TyperGroup):
    """The root group: translates the deprecated registry ``--db`` before any parsing."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, _rewrite(list(args)))


def _flag_takes_no_value() -> None:
    """Help shows ``--json`` as a bare flag, not ``--json <bool>``: a flag takes no value.

    typer labels every option with its type; there is no per-command hook for it, so the one
    method that renders the label learns that a flag has none.
    """
    from typer.core import TyperOption

    render = TyperOption.display_type_rich
    if getattr(render, "_champion", False):
        return

    def display_type_rich(self: TyperOption, ctx: typer.Context) -> str | None:
        if self.is_flag or self.count:
            return None
        return render(self, ctx)

    display_type_rich._champion = True  # type: ignore[attr-defined]
    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_flag_takes_no_value()
