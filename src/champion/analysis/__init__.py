"""Analysis: metrics from the event log, the experiment report and the decision."""

from champion.analysis.aggregate import load_analysis_data
from champion.analysis.decision import DECISIONS, Decision, Evidence, decide
from champion.analysis.readout import ChallengerResult, MetricResult, Report, build_report
from champion.analysis.store import EventStore, open_store

__all__ = [
    "DECISIONS",
    "ChallengerResult",
    "Decision",
    "EventStore",
    "Evidence",
    "MetricResult",
    "Report",
    "build_report",
    "decide",
    "load_analysis_data",
    "open_store",
]
