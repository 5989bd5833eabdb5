"""Analysis: metrics from the event log, the experiment report and the decision."""

from champion.analysis.decision import DECISIONS, Decision, Evidence, decide
from champion.analysis.readout import ChallengerResult, MetricResult, Report, build_report

__all__ = [
    "DECISIONS",
    "ChallengerResult",
    "Decision",
    "Evidence",
    "MetricResult",
    "Report",
    "build_report",
    "decide",
]
