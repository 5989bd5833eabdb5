"""Guardrail windows: serving sums of each variant in fixed, clock-aligned windows.

Window ``k`` of width ``W`` seconds covers ``[k W, (k + 1) W)`` in UNIX time, so every
monitor cuts the same windows. A window is *closed* once the clock is ``settle`` seconds
past its end (events reach the store in batches, a few seconds late). Closed windows go to
the registry's window ledger once, so a tick reads from the event store only the windows
closed since the last stored one: what is new, never the whole log.

Per window and variant the sums are those the read-out's serving guardrails use: requests
and failed requests per unit bucket (the variance is taken between buckets of units, so a
unit's alike requests are not counted as independent), the sum of latencies per bucket,
the latency histogram, and the histogram of the served model's score (``scores``: bins
of :func:`score_bin`, for the prediction-drift rule).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir

from champion.analysis.aggregate import UNIT_BUCKETS, _unit_bucket, histogram_bin
from champion.analysis.attribution import counted_exposures
from champion.analysis.store import EventStore
from champion.registry.records import WindowRecord

__all__ = [
    "SCORE_STEPS",
    "closed_windows",
    "empty_sums",
    "read_windows",
    "score_bin",
    "window_start",
]

#: score bins per unit of sign(x) log10(1 + |x|): probabilities in [0, 1] get 60 bins
#: (about 0.012 wide near 0, 0.02 near 1), and any real score has a bin
SCORE_STEPS = 200
_SCORE_LIMIT = 2_000  # |bin| beyond this (scores past 1e10) share the end bins


def score_bin(value: ir.NumericValue) -> ir.IntegerValue:
    """A score's bin: floor(SCORE_STEPS sign(x) log10(1 + |x|)), additive across windows."""
    x = value.cast("float64")
    k = (x.sign() * (x.abs() + 1).log10() * SCORE_STEPS).floor()
    return k.clip(lower=-_SCORE_LIMIT, upper=_SCORE_LIMIT).cast("int64")


def window_start(at: datetime, seconds: float) -> datetime:
    """Start of the window holding ``at``."""
    epoch = at.timestamp()
    return datetime.fromtimestamp(math.floor(epoch / seconds) * seconds, UTC)


def closed_windows(first: datetime, now: datetime, seconds: float, settle: float) -> list[datetime]:
    """Starts of the windows from the one holding ``first`` to the last closed at ``now``."""
    start = window_start(first, seconds)
    last_end = window_start(now - timedelta(seconds=settle), seconds)
    out = []
    while start < last_end:
        out.append(start)
        start += timedelta(seconds=seconds)
    return out


def _between(t: ir.Table, start: datetime, end: datetime) -> ir.Table:
    t = t.filter(t.ts >= ibis.literal(start, t.ts.type()), t.ts < ibis.literal(end, t.ts.type()))
    if "date" in t.columns and t.date.type().is_date():  # lets Parquet skip other days
        t = t.filter(
            t.date >= ibis.literal(start.date(), "date"), t.date <= ibis.literal(end.date(), "date")
        )
    return t


def read_windows(
    store: EventStore, experiment: str, variants: Sequence[str], starts: Sequence[datetime],
    seconds: float, *, scores: bool = True,
) -> list[WindowRecord]:  # fmt: skip
    """The sums of every variant in each window of ``starts`` (consecutive), in two queries
    (three with the ``scores`` histogram, which only the prediction-drift rule reads).

    A variant with no request in a window still gets its row (zeros): a window without
    data is a fact the monitor shows as ``no_data``, not a gap.
    """
    if not starts:
        return []
    end = starts[-1] + timedelta(seconds=seconds)
    t = _between(counted_exposures(store.exposures, experiment), starts[0], end)
    t = t.mutate(
        w=(t.ts.epoch_seconds() / seconds).floor().cast("int64"),
        bucket=_unit_bucket(t.unit_id, store.backend),
    )
    per_bucket = t.group_by("w", "variant", "bucket").aggregate(
        requests=t.count(), errors=t.error.count(), latency=t.latency_ms.sum()
    )
    timed = t.filter(t.latency_ms.notnull())
    per_bin = timed.group_by("w", "variant", bin=histogram_bin(timed.latency_ms)).aggregate(
        requests=timed.count()
    )
    scored = t.filter(t.score.notnull()) if scores and "score" in t.columns else None
    per_score = (
        None
        if scored is None
        else scored.group_by("w", "variant", sbin=score_bin(scored.score)).aggregate(
            requests=scored.count()
        )
    )
    sums: dict[tuple[int, str], dict[str, Any]] = defaultdict(empty_sums)
    for r in store.fetch(per_bucket):
        cell = sums[(int(r["w"]), r["variant"])]
        b = int(r["bucket"]) if r["bucket"] is not None else 0
        cell["requests"][b] += int(r["requests"])
        cell["errors"][b] += int(r["errors"])
        cell["latency"][b] += float(r["latency"] or 0.0)
    for r in store.fetch(per_bin):
        cell = sums[(int(r["w"]), r["variant"])]
        cell["bins"][str(int(r["bin"]))] = int(r["requests"])
    for r in store.fetch(per_score) if per_score is not None else ():
        cell = sums[(int(r["w"]), r["variant"])]
        cell["scores"][str(int(r["sbin"]))] = int(r["requests"])
    out = []
    for start in starts:
        w = round(start.timestamp() / seconds)
        for v in variants:
            cell = sums.get((w, v)) or empty_sums()
            requests, errors = sum(cell["requests"]), sum(cell["errors"])
            out.append(WindowRecord(experiment, start, seconds, v, requests, errors, cell))
    return out


def empty_sums() -> dict[str, Any]:
    """The sums of a window without requests."""
    return {
        "requests": [0] * UNIT_BUCKETS,
        "errors": [0] * UNIT_BUCKETS,
        "latency": [0.0] * UNIT_BUCKETS,
        "bins": {},
        "scores": {},
    }
