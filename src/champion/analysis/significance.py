"""How a read-out says whether an effect is significant: with its direction for the metric.

A bare "yes" next to a drop in a higher-is-better metric reads as good news; the one
wording here (terminal, HTML and ``--json`` alike) says which way it went, in words, so
colour is never the only signal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from champion.analysis.comparison import Comparison

__all__ = ["BETTER", "NOT_SIGNIFICANT", "WORSE", "significance"]

BETTER = "yes, better"
WORSE = "yes, WORSE"
NOT_SIGNIFICANT = "no"


def significance(comparison: Comparison, significant: bool) -> str:
    """``yes, better`` or ``yes, WORSE`` (significant in the metric's bad direction, per its
    declared ``direction``), ``no``, or the comparison's status when there is no test
    (``empty_arm``, ``too_few``, ...)."""
    if comparison.status != "ok":
        return comparison.status
    if not significant:
        return NOT_SIGNIFICANT
    return BETTER if comparison.better > 0 else WORSE
