"""Rendering a read-out: rich tables in the terminal, one self-contained HTML page.

The JSON form is ``Report.to_dict()`` (champion.analysis.readout). plotly is imported only
when a page is written.
"""

from champion.report.html import render_html, write_html
from champion.report.terminal import render_terminal

__all__ = ["render_html", "render_terminal", "write_html"]
