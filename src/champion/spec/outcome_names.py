"""Outcome metric names against the experiments that read them.

An outcome row whose metric no experiment reads is stored but never analysed; a misspelling
(``fraud_cought``) would go unnoticed until a read-out says "no outcomes". The names an
experiment reads are its metrics' outcome names (a ratio's numerator and denominator, not
its own name) and their covariates. ``champion outcomes load`` and ``POST /v1/outcomes``
both warn with the close match.
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Iterable

from champion.spec.models import Experiment

__all__ = ["spec_outcome_names", "unknown_metric_lines"]

_SHOWN = 10


def spec_outcome_names(spec: Experiment) -> set[str]:
    """The outcome metric names one experiment reads."""
    names: set[str] = set()
    for metric in spec.metrics.all():
        # a ratio reads its numerator and denominator, every other kind its own name
        read = (metric.numerator, metric.denominator) if metric.kind == "ratio" else (metric.name,)
        names.update(n for n in (*read, metric.covariate) if n)
    return names


def unknown_metric_lines(metrics: Iterable[str], known: set[str], where: str) -> list[str]:
    """One line per metric name (of one per row) that no ``where`` (experiment) reads, with
    its row count and the close match; at most ten names, then a count of the rest."""
    counts = Counter(m for m in metrics if m not in known)
    lines = []
    for name, rows in sorted(counts.items())[:_SHOWN]:
        close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        lines.append(
            f"metric {name!r} ({rows:,} row{'s' if rows != 1 else ''}) is read by no "
            f"{where}{hint}"
        )
    if len(counts) > _SHOWN:
        lines.append(f"and {len(counts) - _SHOWN} more unknown metric names")
    return lines
