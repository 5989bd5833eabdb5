"""champion.shadow: how each shadow model compares with the served model, from the event log.

A shadow model answers the same requests as the served one and its answers go nowhere; the
gateway logs them as ``shadow`` events joined to the served ``exposure`` by ``request_id``.
:func:`build_report` reduces both logs to aggregates in DuckDB (agreement of decisions,
|score difference|, PSI, error rates, latency) and hands them to ``champion.stats``; the
report renders to a terminal, JSON or one self-contained HTML page. docs/shadow.md says
what every number means.
"""

from champion.shadow.html import render_html, write_html
from champion.shadow.metrics import Agreement, ErrorComparison, Histogram, ScoreDiff
from champion.shadow.queries import (
    EventsNotFound,
    Latency,
    NoShadowEvents,
    ShadowEvents,
    open_shadow_events,
)
from champion.shadow.report import ServedSummary, ShadowComparison, ShadowReport, build_report
from champion.shadow.terminal import render_terminal

__all__ = [
    "Agreement",
    "ErrorComparison",
    "EventsNotFound",
    "Histogram",
    "Latency",
    "NoShadowEvents",
    "ScoreDiff",
    "ServedSummary",
    "ShadowComparison",
    "ShadowEvents",
    "ShadowReport",
    "build_report",
    "open_shadow_events",
    "render_html",
    "render_terminal",
    "write_html",
]
