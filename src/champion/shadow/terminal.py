"""The report in a terminal: a header on the served side, one comparison table, the notes."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from champion.shadow.report import ShadowReport
from champion.shadow.summary import served_lines, summary_rows

__all__ = ["render_terminal"]


def render_terminal(report: ShadowReport, console: Console) -> None:
    console.print(
        f"[bold]Shadow report[/] {escape(report.experiment)} (events: {escape(report.events)})",
        highlight=False,
    )
    for line in served_lines(report):
        console.print(f"  {escape(line)}", highlight=False)
    table = Table(title="Shadow vs served", header_style="bold", title_justify="left")
    table.add_column("", no_wrap=True)
    for c in report.shadows:
        table.add_column(escape(c.model), justify="right")
    for label, cells in summary_rows(report):
        table.add_row(escape(label), *(escape(cell) for cell in cells))
    console.print(table)
    for c in report.shadows:
        for note in c.notes:
            console.print(f"  [yellow]note[/] ({escape(c.model)}): {escape(note)}", highlight=False)
