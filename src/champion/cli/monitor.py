"""``champion monitor``: watch live experiments, stop bad challengers, walk rollouts.

Stateless beyond the registry: restart it at will, run two for safety (their writes are
version-checked, so nothing is applied twice). ``--once`` ticks once (cron, CI) and exits
1 when an experiment could not be judged; ``--dry-run`` judges and says what it would do.
"""

from __future__ import annotations

import re
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from champion.cli._options import EventsOption, RegistryOption
from champion.cli._output import console, err_console, print_json, user_errors
from champion.errors import InvalidArgument

if TYPE_CHECKING:
    from champion.monitor.tick import ExperimentTick

__all__ = ["monitor"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_interval(text: str) -> float:
    """``30s``, ``2m``, ``500ms`` or plain seconds."""
    found = _DURATION.match(text)
    seconds = float(found.group(1)) * _UNITS[found.group(2)] if found else -1.0
    if not 0.05 <= seconds <= 86_400:
        raise InvalidArgument(
            "--interval", text, "a duration such as 30s, 2m or 500ms (50 ms to 24 h)"
        )
    return seconds


def _store_opener(events: str) -> Any:
    from champion.analysis.store import open_store

    if "://" not in events and not Path(events).is_dir():
        raise InvalidArgument(
            "--events", events, "is not a folder: give the gateway's event folder or a database URL"
        )

    def open_one(name: str) -> Any:
        return open_store(events, experiment=name) if "://" not in events else open_store(events)

    return open_one


def _show(results: list[ExperimentTick], json_output: bool) -> None:
    if json_output:
        print_json({"experiments": [r.to_dict() for r in results]})
        return
    table = Table(box=box.SIMPLE, title="champion monitor")
    for col in (
        "experiment",
        "stage",
        "guardrail",
        "status",
        "estimate",
        "bound",
        "limit",
        "k/K",
        "n",
    ):
        table.add_column(col)
    for r in results:
        if r.error:
            table.add_row(escape(r.name), "", "", "[red]error[/]", escape(r.error), "", "", "", "")
            continue
        stage = f"{r.percent:g}%" if r.percent is not None else ""
        for rule in r.rules or ():
            d = rule.to_dict()
            table.add_row(
                escape(r.name), stage, escape(f"{rule.guardrail} {rule.rule} ({rule.variant})"),
                rule.status, _num(d["estimate"]), _num(d["bound"]), _num(d["limit"]),
                f"{rule.k}/{rule.stop_after}", str(rule.n),
            )  # fmt: skip
        if not r.rules:
            table.add_row(escape(r.name), stage, "(no serving guardrails)", "", "", "", "", "", "")
    console.print(table)
    for r in results:
        if r.action:
            done = "applied" if r.applied else "not applied (dry run or changed meanwhile)"
            console.print(
                f"{escape(r.name)}: {r.action} ({done}): {escape(r.reason)}", highlight=False
            )
        elif r.reason:
            console.print(f"{escape(r.name)}: {escape(r.reason)}", highlight=False)


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.4g}"


def monitor(
    names: Annotated[
        list[str] | None, typer.Argument(help="Experiments to watch (default: every live one).")
    ] = None,
    registry: RegistryOption = None,
    events: EventsOption = None,
    interval: Annotated[
        str, typer.Option("--interval", help="Time between ticks: 30s, 2m, 500ms.")
    ] = "30s",
    once: Annotated[bool, typer.Option("--once", help="Tick once and exit (cron, CI).")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Judge and say what would be done; change nothing.")
    ] = False,
    webhook: Annotated[
        str | None,
        typer.Option(
            "--webhook",
            envvar="CHAMPION_WEBHOOK",
            help="POST alerts here (Slack incoming webhooks work).",
        ),
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option("--metrics-port", help="Serve Prometheus /metrics on 127.0.0.1:PORT."),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print each tick as JSON.")] = False,
) -> None:
    """Watch running experiments: stop a challenger that breaks its guardrails, walk rollouts."""
    from champion.monitor.alerts import Webhook
    from champion.monitor.loop import Monitor
    from champion.monitor.metrics import MonitorMetrics
    from champion.registry import Registry

    with user_errors():
        if events is None:
            raise InvalidArgument(
                "--events", None, "say where the events live: --events FOLDER or a database URL"
            )
        seconds = parse_interval(interval)
        opener = _store_opener(events)
        hook = Webhook(webhook) if webhook else None
        metrics = MonitorMetrics() if metrics_port is not None or hook is not None else None
        if hook is not None and metrics is not None:
            hook = Webhook(webhook or "", on_failure=metrics.count_webhook_failure)
        reg = Registry(registry)
    try:
        if metrics is not None and metrics_port is not None:
            with user_errors():
                try:
                    metrics.serve(metrics_port)
                except OSError as e:
                    raise InvalidArgument(
                        "--metrics-port", metrics_port, f"cannot listen there ({e.strerror or e})"
                    ) from None
        mon = Monitor(reg, opener, names or (), dry_run=dry_run, webhook=hook, metrics=metrics,
                      bandit_events=events)  # fmt: skip
        if once:
            results = mon.tick()
            _show(results, json_output)
            if any(r.error for r in results):
                raise typer.Exit(1)
            return
        stop = threading.Event()
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: stop.set())
        err_console.print(
            f"champion monitor: every {seconds:g} s over {escape(reg.url)}", highlight=False
        )
        mon.run(seconds, stop, lambda results: _show(results, json_output))
    finally:
        if hook is not None:
            hook.close()
        reg.close()
