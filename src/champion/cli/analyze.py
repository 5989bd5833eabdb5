"""``champion analyze NAME``: read out an experiment and say what to do next.

The events are summed where they live (``--events``: a Parquet folder through DuckDB, or a
PostgreSQL or other Ibis URL); the spec comes from ``--spec`` or the registry
(``--registry``, default ``champion.db``, which also gives the state, the ramp history that
labels each stage and the look ledger: a read-out that is a decision point is recorded
there, so the next one spends alpha where this one stopped; with ``--spec`` and no
``--registry`` nothing is remembered and every read-out counts as the first look).
Health first, then every metric, segments, guardrails and the decision; ``--json`` prints one
object, ``--html FILE`` writes a self-contained page with the charts.

Exit codes: 0 for a read-out; 2 for bad input (no exposures, a metric without outcomes after
printing the report, an unknown metric, an unreachable store or registry, a bad option).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from champion.cli._options import (
    EventsOption,
    LegacyEventsDb,
    RegistryOnly,
    events_target,
)
from champion.cli._output import (
    USAGE_EXIT,
    console,
    err_console,
    print_json,
    user_errors,
    write_html_file,
)
from champion.errors import ChampionError, InvalidArgument
from champion.registry.connection import DEFAULT_URL

DEFAULT_FILE = DEFAULT_URL.removeprefix("sqlite:///")

if TYPE_CHECKING:
    from champion.analysis.aggregates import AnalysisData
    from champion.analysis.readout import Report
    from champion.registry import AuditEntry, ExperimentState
    from champion.registry.records import LookRecord
    from champion.report.early import EarlyReadout
    from champion.spec import Experiment

__all__ = ["analyze", "events_store", "load_data", "read_out"]

_HINT = "'--events'"


def _as_of(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidArgument(
            "--as-of", text, "must be an ISO 8601 time, e.g. 2024-03-15 or 2024-03-15T12:00Z"
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _spec_and_state(
    name: str, spec_file: Path | None, registry_url: str | None
) -> tuple[Experiment, ExperimentState | None, list[AuditEntry], list[LookRecord]]:
    from champion.registry import Registry
    from champion.spec import load_spec

    spec = load_spec(spec_file) if spec_file is not None else None
    if spec is not None and spec.name != name:
        raise InvalidArgument(
            "--spec", str(spec_file), f"describes experiment {spec.name!r}, not {name!r}"
        )
    if registry_url is None:
        if spec is None:
            raise typer.BadParameter(
                "say where the spec is: --spec FILE, or --registry URL|PATH for the stored one "
                f"(there is no {DEFAULT_FILE} in this folder)",
                param_hint="'--spec' / '--registry'",
            )
        return spec, None, [], []
    registry = Registry(registry_url)
    try:
        state = registry.get(name)
        history = registry.history(name)
        ledger = registry.looks(name)
    finally:
        registry.close()
    return spec or state.spec, state, history, ledger


def _record_looks(registry_url: str, report: Report) -> Report:
    """Store the read-out's decision points; a look another read-out stored first wins, and
    the report is rebuilt from it only in what it says of that look (the stored verdict)."""
    from champion.registry import Registry

    registry = Registry(registry_url)
    try:
        stored = tuple(registry.record_look(look) for look in report.new_looks)
    finally:
        registry.close()
    return replace(report, new_looks=stored)


def _store_target(events: str | None, db: str | None) -> str:
    target = events_target(events, db)
    if target is None:
        raise typer.BadParameter(
            "say where the events live: --events FOLDER (Parquet) or --events postgresql://...",
            param_hint=_HINT,
        )
    if "://" not in target:
        folder = Path(target)
        if not folder.is_dir():
            problem = "does not exist" if not folder.exists() else "is not a folder"
            raise InvalidArgument("--events", target, f"{problem}: give the event folder")
    return target


def load_data(target: str, spec: Experiment, as_of: datetime | None) -> AnalysisData:
    """Sum the events where they live (champion.analysis.store / aggregate)."""
    try:
        from champion.analysis.aggregate import load_analysis_data
        from champion.analysis.store import open_store
    except ImportError as e:  # pragma: no cover - the store ships with champion
        raise InvalidArgument("--events", target, f"the analysis store is unavailable ({e})") from e
    try:
        with open_store(target, experiment=spec.name) as store:
            return load_analysis_data(store, spec, as_of=as_of)
    except (ChampionError, ValueError, typer.Exit):
        raise
    except Exception as e:  # a driver's own error: one line, never a traceback
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise InvalidArgument(
            "--events", target, f"cannot read the events ({type(e).__name__}: {first})"
        ) from e


def read_out(
    name: str, target: str, spec_file: Path | None, registry: str | None, as_of: str | None
) -> tuple[Report, Experiment]:
    """The read-out as ``analyze`` prints it, its decision points recorded in the registry."""
    from champion.analysis.readout import build_report

    spec, state, history, ledger = _spec_and_state(name, spec_file, registry)
    data = load_data(target, spec, _as_of(as_of))
    if data.health.exposed_units == 0:
        raise ValueError(
            f"no exposures for experiment {name!r} in {target}: check the name and that "
            "the gateway logs exposures there (exposed = true)"
        )
    report = build_report(data, spec, state=state, history=history, ledger=ledger)
    if registry is not None and report.new_looks:
        report = _record_looks(registry, report)
    return report, spec


BANDIT_NOTE = (
    "this experiment is a bandit: the A/B read-out above compares arms whose shares changed "
    "with their rewards and is not valid for a launch decision; 'champion bandit report' "
    "(and 'bandit' in --json) has the valid numbers, each labelled"
)


def _bandit_section(spec: Experiment, target: str, as_of: str | None) -> dict[str, Any] | None:
    """A bandit's labelled estimates beside the A/B read-out (None for other experiments)."""
    if spec.bandit is None:
        return None
    from champion.bandit import bandit_readout

    when = _as_of(as_of) or datetime.now(UTC)
    return {"note": BANDIT_NOTE, "readout_valid_for_launch": False,
            **bandit_readout(target, spec, as_of=when)}  # fmt: skip


def events_store(events: str | None, db: str | None = None) -> str:
    """The event store a command reads: ``--events`` (or the deprecated ``--db``), checked."""
    return _store_target(events, db)


def _write_html(
    report: Report, path: Path, early: EarlyReadout | None, inline: bool,
    bandit: dict[str, Any] | None = None,
) -> None:  # fmt: skip
    from champion.report.html import write_html

    def write(report: Report, path: Path) -> object:
        return write_html(report, path, early, inline_js=inline, bandit=bandit)

    write_html_file(write, report, path)


def _missing_outcomes(report: Report) -> list[str]:
    return [m.name for m in report.metrics if m.status == "no_outcomes"]


def analyze(
    name: Annotated[str, typer.Argument(help="Experiment name.")],
    events: EventsOption = None,
    db: LegacyEventsDb = None,
    spec_file: Annotated[
        Path | None,
        typer.Option(
            "--spec",
            help="Experiment spec (YAML) to analyse against; without --registry nothing is "
            "read from or recorded in the registry.",
        ),
    ] = None,
    registry: RegistryOnly = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Analyse events up to this time (ISO 8601; default: now)."),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    html: Annotated[
        Path | None,
        typer.Option(
            "--html",
            help="Also write the HTML report to this file (plotly's JavaScript goes once "
            "into its folder, shared by the reports there).",
        ),
    ] = None,
    html_inline: Annotated[
        bool,
        typer.Option("--html-inline", help="Embed plotly's JavaScript: one file that travels."),
    ] = False,
) -> None:
    """Read out an experiment: health, effects, segments, guardrails and the decision."""
    from champion.report.early import early_readout
    from champion.report.terminal import render_terminal

    with user_errors():
        if registry is None and spec_file is None and Path(DEFAULT_FILE).is_file():
            registry = DEFAULT_URL  # the registry `champion experiment create` wrote here
        report, spec = read_out(name, _store_target(events, db), spec_file, registry, as_of)
        early = early_readout(report, spec)
        bandit = _bandit_section(spec, _store_target(events, db), as_of)
        if html is not None:
            _write_html(report, html, early, html_inline, bandit)
    if json_output:
        out = {**report.to_dict(), "early": early.to_dict() if early else None}
        print_json({**out, "bandit": bandit} if bandit is not None else out)
    else:
        render_terminal(report, console, early)
        if bandit is not None:
            console.print(f"[bold]bandit[/]: {escape(bandit['note'])}", highlight=False)
        if html is not None:
            console.print(f"HTML report written to {escape(str(html))}", highlight=False)
    if registry is None and report.new_looks:
        err_console.print(
            "note: this read-out is a decision point, but without --registry its look is not "
            "recorded: the next read-out counts as the first look again. Pass --registry so "
            "repeated read-outs spend alpha only once.",
            highlight=False,
        )
    missing = _missing_outcomes(report)
    if missing:
        err_console.print(
            f"[bold red]error:[/] no outcomes for {escape(', '.join(missing))}: load outcome "
            "events named like the metric (champion outcomes load FILE)",
            highlight=False,
        )
        raise typer.Exit(USAGE_EXIT)
