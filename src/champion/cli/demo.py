"""``champion demo``: the whole story on embedded defaults, with nothing to start by hand."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from champion.cli._output import console, print_json, user_errors
from champion.cli._ports import check_port, port_in_use

__all__ = ["demo"]

_HOST = "127.0.0.1"  # --keep serves this machine only


def demo(
    folder: Annotated[
        Path | None, typer.Option("--dir", help="Where to keep the registry, events and reports.")
    ] = None,
    units_per_day: Annotated[int, typer.Option("--units-per-day", min=100)] = 3000,
    days: Annotated[int, typer.Option("--days", min=3, max=60)] = 10,
    seed: Annotated[int, typer.Option("--seed")] = 7,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    keep: Annotated[
        bool,
        typer.Option(
            "--keep",
            help="Then leave the gateway and its dashboard running on the demo's registry and "
            "events (Ctrl-C stops them); the URL and an admin token are printed.",
        ),
    ] = False,
    port: Annotated[
        int, typer.Option(envvar="CHAMPION_PORT", help="Port of the gateway --keep leaves.")
    ] = 8000,
) -> None:
    """Plan, shadow, A/B with ramps, outcomes and the read-out, on the example experiment."""
    from champion.demo import example_dir, run_demo

    with user_errors():
        if keep:
            check_port(_HOST, port)  # before minutes of simulation, not after
        folder = folder or Path(tempfile.mkdtemp(prefix="champion-demo-"))
        if not json_output:
            from champion.cli.validate import _render, plan_for_spec
            from champion.spec import load_spec

            spec_path = example_dir() / "fraud-detector.yaml"
            spec = load_spec(spec_path)
            console.rule("1. Design")
            _render(spec, plan_for_spec(spec, 20_000), spec_path, True)  # the demo runs them
            console.rule("2. Shadow, then A/B with ramps (simulated users, real everything else)")
        with Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), console=console, disable=json_output, transient=False,
        ) as bar:  # fmt: skip
            tasks: dict[str, int] = {}

            def progress(label: str, done: int, total: int) -> None:
                if label not in tasks:
                    tasks[label] = bar.add_task(label, total=total)
                bar.update(tasks[label], completed=done)

            result = run_demo(folder, units_per_day=units_per_day, days=days, seed=seed,
                              progress=progress)  # fmt: skip
        shadow_html = folder / "shadow.html"
        report_html = folder / "report.html"
        from champion.report.html import write_html
        from champion.shadow import write_html as write_shadow_html

        write_shadow_html(result.shadow, shadow_html)
        write_html(result.report, report_html)
    if json_output:
        print_json(
            {
                "folder": str(folder),
                "units": result.units,
                "requests": result.requests,
                "shadow": result.shadow.to_dict(),
                "report": result.report.to_dict(),
                "action": result.action,
            }
        )
        if keep:
            _keep_serving(folder, port, json_output)
        return
    from champion.report.terminal import render_terminal
    from champion.shadow import render_terminal as render_shadow

    console.print(f"{result.requests:,} requests from {result.units:,} exposed units")
    console.rule("3. Shadow report: the challenger in shadow on day 0, the candidate throughout")
    render_shadow(result.shadow, console)
    console.rule("4. Read-out")
    render_terminal(result.report, console)
    console.rule("5. Decision applied through the registry")
    console.print(result.action)
    console.print(
        f"Registry, events and reports are in {folder}: open {report_html} and {shadow_html}. "
        f"Explore with: champion experiment history {result.experiment.name} "
        f"--registry {folder / 'champion.db'}",
        highlight=False,
    )
    if keep:
        _keep_serving(folder, port, json_output)


def _keep_serving(folder: Path, port: int, json_output: bool) -> None:
    """Serve the demo's registry and events, with the dashboard, until interrupted."""
    import os
    import secrets

    from champion.demo import example_dir
    from champion.serve.server import serve as run

    given = os.environ.get("CHAMPION_ADMIN_TOKEN")
    token = given or secrets.token_hex(16)  # this process's own: printed for the person at it
    os.environ.update({
        "CHAMPION_DB": f"sqlite:///{folder / 'champion.db'}",
        "CHAMPION_EVENTS": str(folder / "events"),
        "CHAMPION_MODELS_DIR": str(example_dir()),
        "CHAMPION_SPECS": "[]",
        "CHAMPION_ADMIN_TOKEN": token,
    })  # fmt: skip
    shown = "$CHAMPION_ADMIN_TOKEN" if given else token
    # with --json the line goes to stderr: stdout stays one JSON document
    typer.echo(f"Gateway and dashboard: http://{_HOST}:{port}/ui (admin token {shown}); "
               "Ctrl-C stops them", err=json_output)  # fmt: skip
    with port_in_use(port):
        run(host=_HOST, port=port, workers=1, log_level="warning")
