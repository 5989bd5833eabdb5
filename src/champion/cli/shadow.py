"""``champion shadow-report NAME --events DIR``: how each shadow model compares with the served one.

Agreement, |score difference|, PSI, error rates and latency, from the Parquet event log;
``--json`` prints one object, ``--html FILE`` writes a self-contained page with the plots.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from champion.cli._options import EventsOption
from champion.cli._output import console, print_json, user_errors, write_html_file
from champion.shadow.report import ShadowReport, build_report
from champion.shadow.terminal import render_terminal

__all__ = ["shadow_report"]


def _write_html(report: ShadowReport, path: Path, inline: bool) -> None:
    from champion.shadow.html import write_html

    def write(report: ShadowReport, path: Path) -> object:
        return write_html(report, path, inline_js=inline)

    write_html_file(write, report, path)


def shadow_report(
    name: Annotated[str, typer.Argument(help="Experiment name.")],
    events: EventsOption = None,
    threshold: Annotated[
        float, typer.Option(help="|score difference| above this counts as a divergence.")
    ] = 0.1,
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
    """Compare each shadow model of an experiment with the served model."""
    with user_errors():
        if events is None:
            raise ValueError("say where the events live: --events FOLDER (or $CHAMPION_EVENTS)")
        report = build_report(Path(events), name, threshold=threshold)
        if html is not None:
            _write_html(report, html, html_inline)
    if json_output:
        print_json(report.to_dict())
        return
    render_terminal(report, console)
    if html is not None:
        console.print(f"HTML report written to {escape(str(html))}", highlight=False)
