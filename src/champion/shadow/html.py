"""The report as one self-contained HTML file: plotly's JavaScript inlined, readable offline.

Per shadow model: the served and shadow score distributions overlaid, the |score
difference| histogram with the threshold line, both latency distributions, then the
summary table. Every plot is drawn from the histogram counts the database returned.
"""

from __future__ import annotations

import html
import itertools
import os
from pathlib import Path
from typing import Any

from champion.shadow.metrics import Histogram
from champion.shadow.report import ShadowComparison, ShadowReport
from champion.shadow.summary import served_lines, summary_rows

__all__ = ["PLOTLY_REQUIREMENT", "render_html", "write_html"]

PLOTLY_REQUIREMENT = "plotly>=5.20"

_COLOURS = {"served": "#1f77b4", "shadow": "#ff7f0e"}
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; color: #222; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid #ccc; padding: 0.3rem 0.6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.note { color: #8a5a00; }
"""


def _plotly() -> Any:
    try:
        import plotly.graph_objects as go
    except ImportError as e:
        raise ImportError(
            f"writing the HTML report needs plotly: pip install '{PLOTLY_REQUIREMENT}'"
        ) from e
    return go


def _shares(counts: tuple[int, ...]) -> list[float]:
    total = sum(counts)
    return [c / total if total else 0.0 for c in counts]


def _bars(go: Any, hist: Histogram, names: dict[str, str]) -> list[Any]:
    edges = hist.edges
    centres = [(a + b) / 2 for a, b in itertools.pairwise(edges)]
    width = edges[1] - edges[0]
    return [
        go.Bar(
            x=centres,
            y=_shares(counts),
            width=width,
            name=names[side],
            marker_color=_COLOURS[side],
            opacity=0.6,
        )
        for side, counts in hist.counts.items()
    ]


def _figure(go: Any, hist: Histogram, names: dict[str, str], title: str, x_title: str) -> Any:
    fig = go.Figure(_bars(go, hist, names))
    fig.update_layout(
        title=title,
        barmode="overlay",
        bargap=0,
        template="plotly_white",
        height=360,
        xaxis_title=x_title,
        yaxis_title="share of calls",
        yaxis_tickformat=".0%",
    )
    return fig


def _figures(go: Any, c: ShadowComparison, threshold: float, served: str) -> list[tuple[str, Any]]:
    names = {"served": f"served ({served})", "shadow": f"shadow ({c.model})"}
    out = []
    if "scores" in c.histograms:
        title = f"Scores: served vs {c.model} (PSI {c.psi_value:.3g}, {c.psi_reading})"
        out.append(("scores", _figure(go, c.histograms["scores"], names, title, "score")))
    if "diff" in c.histograms:
        share = c.score_diff.share_above
        title = f"|score difference| ({share:.1%} above {threshold:g})"
        fig = _figure(go, c.histograms["diff"], {"shadow": "|shadow − served|"}, title, "|diff|")
        fig.update_layout(showlegend=False)
        fig.add_vline(
            x=threshold,
            line_dash="dash",
            line_color="#d62728",
            annotation_text=f"threshold {threshold:g}",
        )
        out.append(("diff", fig))
    if "latency" in c.histograms:
        title = f"Latency: served vs {c.model}"
        x_title = "latency (ms); the last bin also holds slower calls"
        out.append(("latency", _figure(go, c.histograms["latency"], names, title, x_title)))
    return out


def _table(report: ShadowReport) -> str:
    head = "".join(f"<th>{html.escape(c.model)}</th>" for c in report.shadows)
    rows = "".join(
        f"<tr><td>{html.escape(label)}</td>"
        + "".join(f"<td>{html.escape(cell)}</td>" for cell in cells)
        + "</tr>"
        for label, cells in summary_rows(report)
    )
    return f'<table id="summary"><tr><th></th>{head}</tr>{rows}</table>'


def render_html(report: ShadowReport, plotly_js: str | bool = True) -> str:
    """The whole page as text; ``plotly_js``: True embeds plotly's JavaScript once, a file
    name links to it instead."""
    go = _plotly()
    served = ", ".join(m for m, _ in report.served.models) or "served"
    parts = [
        f"<h1>Shadow report: {html.escape(report.experiment)}</h1>",
        *(f"<p>{html.escape(line)}</p>" for line in served_lines(report)),
        "<h2>Summary</h2>",
        _table(report),
    ]
    if isinstance(plotly_js, str) and report.shadows:
        parts.append(f'<script src="{html.escape(plotly_js)}" charset="utf-8"></script>')
    first = plotly_js is True
    for i, c in enumerate(report.shadows):
        parts.append(f"<h2>Shadow model {html.escape(c.model)}</h2>")
        parts.extend(f'<p class="note">{html.escape(note)}</p>' for note in c.notes)
        for kind, fig in _figures(go, c, report.threshold, served):
            parts.append(
                fig.to_html(
                    full_html=False,
                    include_plotlyjs=first,
                    div_id=f"shadow{i}-{kind}",
                    config={"displaylogo": False},
                )
            )
            first = False
    title = html.escape(f"Shadow report: {report.experiment}")
    body = "\n".join(parts)
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{_STYLE}</style></head>\n<body>\n{body}\n</body></html>\n"
    )


def write_html(
    report: ShadowReport, path: str | os.PathLike[str], *, inline_js: bool = False
) -> Path:
    """Write :func:`render_html` to ``path`` (its folder must exist); returns the path.
    plotly's JavaScript goes once into the folder, shared with the read-out written there;
    ``inline_js`` embeds it instead."""
    from champion.report.assets import shared_plotly_js

    target = Path(path)
    _plotly()
    js: str | bool = True if inline_js else shared_plotly_js(target.parent)
    target.write_text(render_html(report, js), encoding="utf-8")
    return target
