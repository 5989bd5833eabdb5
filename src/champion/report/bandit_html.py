"""The bandit race as one self-contained HTML page: regret curves and traffic to the winner.

Two plots, plotly's JavaScript inlined once: the mean cumulative regret of every policy against
requests served (a band of ±2 Monte-Carlo SE), and the share of each batch's requests that went
to the best arm.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from champion.report.html import PLOTLY_REQUIREMENT

if TYPE_CHECKING:
    from champion.stats.race import Race

__all__ = ["render_race_html", "write_race_html"]

_COLOURS = {"fixed": "#1f77b4", "thompson": "#ff7f0e"}
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; color: #222; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid #ccc; padding: 0.3rem 0.6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
"""


def _plotly() -> Any:
    try:
        import plotly.graph_objects as go
    except ImportError as e:
        raise ImportError(
            f"writing the HTML page needs plotly: pip install '{PLOTLY_REQUIREMENT}'"
        ) from e
    return go


def _rgba(colour: str, alpha: float) -> str:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _regret_figure(go: Any, race: Race) -> Any:
    fig = go.Figure()
    for p in race.policies:
        x = p.batch_ends.tolist()
        colour = _COLOURS.get(p.policy, "#2ca02c")
        lo, hi = (p.regret - 2 * p.regret_se).tolist(), (p.regret + 2 * p.regret_se).tolist()
        fig.add_trace(
            go.Scatter(
                x=x + x[::-1], y=hi + lo[::-1], fill="toself", fillcolor=_rgba(colour, 0.2),
                line={"width": 0}, hoverinfo="skip", showlegend=False,
            )
        )  # fmt: skip
        fig.add_trace(
            go.Scatter(
                x=x, y=p.regret.tolist(), name=f"{p.policy} ({p.final_regret:.1f})",
                line={"color": colour},
            )
        )  # fmt: skip
    fig.update_layout(
        title="Cumulative regret (mean over runs, ±2 SE)",
        xaxis_title="requests served",
        yaxis_title="conversions lost to the best arm",
        template="plotly_white",
    )
    return fig


def _share_figure(go: Any, race: Race) -> Any:
    fig = go.Figure()
    for p in race.policies:
        fig.add_trace(
            go.Scatter(
                x=p.batch_ends.tolist(), y=p.winner_share.tolist(), name=p.policy,
                line={"color": _COLOURS.get(p.policy, "#2ca02c")},
            )
        )  # fmt: skip
    fig.add_hline(y=0.9, line_dash="dot", annotation_text="90%")
    fig.update_layout(
        title="Share of each batch's requests sent to the best arm (over all runs)",
        xaxis_title="requests served",
        yaxis_title="share to the best arm",
        yaxis_range=[0, 1],
        template="plotly_white",
    )
    return fig


def _share(x: float) -> str:
    return "–" if math.isnan(x) else f"{x:.1%}"


def _summary(race: Race) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(p.policy)}</td><td>{p.final_regret:.2f} ± {p.final_regret_se:.2f}"
        f"</td><td>{_share(p.share_between(int(race.requests * 0.8), race.requests))}</td>"
        f"<td>{'not reached' if p.first_over is None else f'{p.first_over:,}'}</td></tr>"
        for p in race.policies
    )
    return (
        "<table><tr><th>policy</th><th>regret (mean ± SE)</th><th>to the best arm, last 20%"
        f"</th><th>&gt; 90% to the best arm from request</th></tr>{rows}</table>"
    )


def render_race_html(race: Race) -> str:
    """The whole page as text."""
    go = _plotly()
    rates = ", ".join(f"{r:.2%}" for r in race.rates)
    runs = race.policies[0].runs
    title = "Bandit race"
    parts = [
        f"<h1>{title}</h1>",
        (
            f"<p>Arms at {html.escape(rates)}; {race.requests:,} requests, {runs:,} runs per "
            f"policy, weights updated every {race.batch_size:,} requests, floor "
            f"{race.min_share:g}, seed {race.seed}.</p>"
        ),
        _summary(race),
    ]
    first = True
    for div, fig in (("regret", _regret_figure(go, race)), ("share", _share_figure(go, race))):
        parts.append(
            fig.to_html(
                full_html=False, include_plotlyjs=first, div_id=div, config={"displaylogo": False}
            )
        )
        first = False
    body = "\n".join(parts)
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{_STYLE}</style></head>\n<body>\n{body}\n</body></html>\n"
    )


def write_race_html(race: Race, path: Path) -> Path:
    path.write_text(render_race_html(race), encoding="utf-8")
    return path
