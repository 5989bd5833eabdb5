"""``champion outcomes load FILE``: labels, conversions and revenue into the event store.

The file (CSV or Parquet, columns ts, unit_id, metric, value) is checked whole first; a bad
one is refused with every problem named and nothing is written. Loading the same file
again stores nothing new.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from champion.cli._metric_names import known_outcome_names, unknown_metrics
from champion.cli._options import EventsOption, LegacyEventsDb, RegistryOnly, events_target
from champion.cli._output import console, err_console, print_json, user_errors
from champion.errors import InvalidArgument
from champion.events.outcomes import LoadResult, load_outcome_file
from champion.events.parquet import ParquetSink
from champion.events.postgres import PostgresSink
from champion.events.schema import Outcome
from champion.events.sink import EventSink

__all__ = ["outcomes_app"]

outcomes_app = typer.Typer(
    name="outcomes",
    help="Load outcomes (labels, conversions, revenue) that arrive after the predictions.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


_HINT = "'--events'"


def _sink(events: str | None, db: str | None) -> EventSink:
    target = events_target(events, db)
    if target is None:
        raise typer.BadParameter(
            "say where the events live: --events FOLDER (Parquet) or --events postgresql://...",
            param_hint=_HINT,
        )
    if "://" in target:
        return PostgresSink(target)
    folder = Path(target)
    if folder.exists() and not folder.is_dir():
        raise InvalidArgument("--events", target, "must be a folder, not a file")
    return ParquetSink(folder)


def _summary(result: LoadResult) -> str:
    metrics = ", ".join(f"{name} {count:,}" for name, count in result.metrics.items())
    span = ""
    if result.first_ts and result.last_ts:
        span = f"; {result.first_ts:%Y-%m-%d %H:%M} to {result.last_ts:%Y-%m-%d %H:%M} UTC"
    if result.already_loaded:
        return (
            f"{result.source} was loaded before: its {result.rows:,} outcomes are already in "
            f"{result.target}; nothing stored"
        )
    return (
        f"loaded {result.rows:,} outcomes ({metrics}{span}) from {result.source} "
        f"into {result.target}"
    )


@outcomes_app.command()
def load(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV or Parquet with columns ts (ISO 8601; no offset means UTC), unit_id, "
            "metric (a metric name from the spec) and value (a number; 1/0 for conversions).",
        ),
    ],
    events: EventsOption = None,
    db: LegacyEventsDb = None,
    registry: RegistryOnly = None,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict", help="Refuse a file naming a metric no registered experiment reads."
        ),
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Check an outcome file whole, then store all of it, or nothing.

    Metric names are checked against the registered experiments (--registry, or
    champion.db here): a name none of them reads is loaded with a warning that names the
    close match, or refused with --strict.
    """
    unknown: list[str] = []
    with user_errors():
        known = known_outcome_names(registry, strict)
        sink = _sink(events, db)

        def check(outcomes: list[Outcome]) -> None:
            unknown.extend(unknown_metrics(outcomes, known, strict))

        try:
            result = load_outcome_file(file, sink, check if known is not None else None)
        finally:
            sink.close()
    for line in unknown:
        err_console.print(f"warning: {line}", highlight=False, markup=False, soft_wrap=True)
    if json_output:
        print_json(result.to_dict())
    else:
        console.print(escape(_summary(result)), highlight=False, soft_wrap=True)
