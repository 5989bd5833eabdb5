"""Sufficient statistics where the data lives: a few GROUP BYs, aggregated rows back.

:func:`load_analysis_data` runs one query for everything about units (every metric's
cell sums per first-exposure variant x allocation version x day x segment values, SRM
counts per allocation version, crossovers, health) and one for serving (requests, errors
and the latency histogram per variant and unit bucket); a quantile metric defined by
outcomes adds one histogram query. Rows never come into Python: what is fetched grows with
variants x versions x days x segment values (and x 64 buckets x bins for serving), not
with units.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir

from champion.analysis import packed
from champion.analysis.aggregates import (
    AnalysisData,
    Cell,
    CellKey,
    Health,
    LatencyHistogram,
    MetricAggregates,
    ServingStats,
    SrmCount,
)
from champion.analysis.attribution import (
    MetricPlan,
    counted_exposures,
    first_exposures,
    metric_outcomes,
    plan_metrics,
    unit_values,
)
from champion.analysis.kinds import kind_of
from champion.analysis.store import EventStore
from champion.errors import InvalidArgument, NoExposures
from champion.spec.models import Experiment

__all__ = ["HISTOGRAM_EDGES", "histogram_bin", "load_analysis_data"]

_STEPS_PER_DECADE = 200
_LOW_K, _HIGH_K = -400, 1000
#: Log-spaced bin edges 10^(k/200), k = -400..1000: 0.01 .. 100,000 (ms for latency), each
#: bin ~1.16% wide. Bin i is [edges[i], edges[i+1]); the first and last are open-ended.
HISTOGRAM_EDGES: tuple[float, ...] = tuple(
    10 ** (k / _STEPS_PER_DECADE) for k in range(_LOW_K, _HIGH_K + 1)
)
_BINS = len(HISTOGRAM_EDGES) - 1


def histogram_bin(value: ir.NumericValue) -> ir.IntegerValue:
    """The bin index of ``value`` among :data:`HISTOGRAM_EDGES` (null stays null)."""
    floor = ibis.greatest(value.cast("float64"), HISTOGRAM_EDGES[0])  # GREATEST skips NULLs
    k = (floor.log10() * _STEPS_PER_DECADE).floor() - _LOW_K
    return value.isnull().ifelse(ibis.null("int64"), k.clip(lower=0, upper=_BINS - 1).cast("int64"))


def load_analysis_data(
    store: EventStore, spec: Experiment, *, as_of: datetime | None = None
) -> AnalysisData:
    """Every sum the read-out needs for ``spec``, computed in ``store``'s engine.

    ``as_of`` (aware datetime) ignores events after it and is the instant at which a
    unit's window counts as still open; by default it is now and nothing is ignored.
    """
    if store.experiment is not None and store.experiment != spec.name:
        raise InvalidArgument(
            "spec", spec.name, f"the store was opened for experiment {store.experiment!r}"
        )
    if as_of is not None and (as_of.tzinfo is None or as_of.utcoffset() is None):
        raise InvalidArgument("as_of", as_of, "must be timezone-aware, e.g. in UTC")
    cutoff = as_of.astimezone(UTC) if as_of is not None else None
    moment = cutoff or datetime.now(UTC)
    metrics = spec.metrics.all()
    plans = plan_metrics(metrics)
    segments = tuple(spec.segments)

    exposed = counted_exposures(store.exposures, spec.name, as_of=cutoff)
    sql_tables = {m.name: store.metric_table(m.name, m.sql) for m in metrics if m.sql}
    rows = metric_outcomes(store.outcomes, plans, sql_tables, as_of=cutoff)
    decode = _packed_decoder(store, exposed, segments)
    with ExitStack() as steps:
        if decode is None:
            units = first_exposures(exposed, segments, backend=store.backend)
        else:
            again = _exposures_again(store, spec.name, cutoff)
            units = steps.enter_context(
                store.materialized(packed.packed_units(exposed, again, segments))
            )
        per_unit = unit_values(units, rows, plans)
        # a unit's primary window is open at ``moment`` when it was first exposed after this:
        opened_after = moment - timedelta(days=float(spec.metrics.primary.window_days))
        query = _cells_query(per_unit, plans, len(segments), opened_after, moment)
        grouped = _sorted(_decoded(store.fetch(query), decode, len(segments)))
        if not grouped:
            raise NoExposures(spec.name, store.target, store.known_experiments())
        variants = list(dict.fromkeys([*spec.variants, *sorted({r["variant"] for r in grouped})]))
        aggregates = _metric_aggregates(grouped, plans, segments)
        for p in plans:
            if kind_of(p.metric.kind).from_histogram:
                query = _unit_histogram_query(per_unit, p, len(segments), moment)
                bins = _decoded(store.fetch(query), decode, len(segments))
                aggregates[p.metric.name] = MetricAggregates(
                    p.metric.name,
                    p.metric.kind,
                    aggregates[p.metric.name].cells,
                    histogram=LatencyHistogram(HISTOGRAM_EDGES, _histogram(bins, variants)),
                    segment_histograms=_segment_histograms(bins, variants, segments),
                )
    requests = store.fetch(_serving_query(exposed, store.backend))
    return AnalysisData(
        experiment=spec.name,
        health=_health(grouped, requests, plans, moment),
        metrics=aggregates,
        serving=_serving(requests, variants),
        segments=segments,
    )


# -- the queries ---------------------------------------------------------------------------


def _closed(t: ir.Table, plan: MetricPlan, moment: datetime) -> ir.BooleanValue:
    """The unit's window for this metric has closed at ``moment``: its value is final.

    Only such units count. Counting units whose window is still open would understate the
    arm that grew most recently: after a ramp, the challenger's units are younger.
    """
    last_first = moment - timedelta(days=plan.window_days)
    return t.first_ts <= ibis.literal(last_first, t.first_ts.type())


def _cells_query(
    per_unit: ir.Table,
    plans: list[MetricPlan],
    segments: int,
    opened_after: datetime,
    moment: datetime,
) -> ir.Table:
    """One GROUP BY at the finest grain: first-exposure payload (variant, allocation
    version, segment values) x day. Units that later saw another variant stay in their
    first arm (intent to treat); ``multiple`` keeps them countable. Each metric sums only
    units whose window has closed (``n{i}`` counts them). Packed units group by their
    payload hash instead of its fields (see :func:`_decoded`)."""
    t = per_unit
    keys: dict[str, ir.Value] = {"multiple": t.multiple, "day": t.first_ts.date()}
    sums: dict[str, ir.Value] = {"n": t.count()}
    if "payload" in t.columns:
        keys["payload"] = t.payload
    else:
        keys |= {"variant": t.variant, "allocation_version": t.allocation_version}
        for i in range(segments):
            keys[f"s{i}"] = t[f"s{i}"]
        sums["probability"] = t.probability.cast("float64").sum()
    sums |= {
        "last_outcome": t.last_outcome.max(),
        "open": (t.first_ts > ibis.literal(opened_after, t.first_ts.type())).ifelse(1, 0).sum(),
    }
    for p in plans:
        i = p.index
        counted = _closed(t, p, moment).ifelse(1, 0)
        y = t[f"y{i}"] * counted
        sums |= {
            f"n{i}": counted.sum(),
            f"sy{i}": y.sum(),
            f"syy{i}": (y * y).sum(),
            f"c{i}": t[f"c{i}"].sum(),
        }
        if p.x is not None:
            x = t[f"x{i}"] * counted
            sums |= {f"sx{i}": x.sum(), f"sxx{i}": (x * x).sum(), f"sxy{i}": (x * y).sum()}
        if p.d is not None:
            d = t[f"d{i}"] * counted
            sums |= {f"sd{i}": d.sum(), f"sdd{i}": (d * d).sum(), f"syd{i}": (y * d).sum()}
    return t.group_by(**keys).aggregate(**sums)


def _packed_decoder(
    store: EventStore, exposed: ir.Table, segments: tuple[str, ...]
) -> packed.Dictionary | None:
    """On DuckDB, the payload dictionary for :func:`packed.packed_units`; ``None`` means the
    portable plan (another engine, or two payloads sharing a hash)."""
    if store.backend != "duckdb":
        return None
    packed.install(store.con)
    try:
        return packed.decoder(store.fetch(packed.dictionary_query(exposed, segments)))
    except packed.HashCollision:
        return None


_TIE_COLUMNS = (
    "experiment", "exposed", "ts", "date", "unit_id", "request_id", "variant",
    "allocation_version", "probability", "attributes",
)  # fmt: skip


def _exposures_again(store: EventStore, experiment: str, cutoff: datetime | None) -> ir.Table:
    """The counted exposures once more, over only the columns the tie rule reads: a
    distinct expression, so Ibis does not share it with the first as one CTE."""
    e = store.exposures
    return counted_exposures(
        e.select(*[c for c in _TIE_COLUMNS if c in e.columns]), experiment, as_of=cutoff
    )


def _decoded(
    rows: list[dict[str, Any]], decode: packed.Dictionary | None, segments: int = 0
) -> list[dict[str, Any]]:
    """Rows keyed by a payload hash, with the payload's values in its place: the portable
    plan's rows (cells: probabilities summed; histogram bins: variant and segment values)."""
    if decode is None:
        return rows
    out = []
    for row in rows:
        fields = decode.payloads[int(row.pop("payload"))]
        row["variant"] = fields["variant"]
        cell = "n" in row
        for i in range(segments):
            row[f"s{i}"] = fields[f"s{i}"]
        if cell:
            row["allocation_version"] = fields["allocation_version"]
            probability = fields["probability"]
            row["probability"] = None if probability is None else probability * row["n"]
        out.append(row)
    return out


#: Units split into this many buckets by a hash of ``unit_id``: the serving sums per bucket
#: give request-level guardrails a variance per unit (each bucket sums independent units).
UNIT_BUCKETS = 64
_HEX_DIGITS = "0123456789abcdef"


# Ibis' UDF decorators are untyped (no stubs), and a builtin UDF has no Python body.
@ibis.udf.scalar.builtin(name="md5")  # type: ignore[untyped-decorator]
def _md5(value: str) -> str:  # type: ignore[empty-body]
    """The engine's MD5 of a string as 32 lowercase hex digits (DuckDB, PostgreSQL, Spark)."""


def _unit_bucket(unit_id: ir.StringValue, backend: str | None = None) -> ir.IntegerValue:
    """The unit's bucket in [0, 64). On DuckDB its native 64-bit hash modulo 64 (a seventh of
    MD5's cost on 10M requests); elsewhere the first two hex digits of MD5(unit_id) modulo 64
    (``int(md5(id).hexdigest()[:2], 16) % 64``, the same on PostgreSQL, Spark and in Python).
    Any hash of the unit will do: buckets only need to hold independent units."""
    if backend == "duckdb":
        return (packed.engine_hash(unit_id) % UNIT_BUCKETS).cast("int64")
    digest = _md5(unit_id.cast("string"))
    digits = ibis.literal(_HEX_DIGITS)
    high, low = digits.find(digest.substr(0, 1)), digits.find(digest.substr(1, 1))
    return ((high % (UNIT_BUCKETS // 16)) * 16 + low).cast("int64")


def _serving_query(exposed: ir.Table, backend: str | None = None) -> ir.Table:
    """Every counted request by its own variant and its unit's bucket: counts, failures,
    latency bins. At most variants x buckets x bins rows, whatever the traffic. The first and
    last exposure (health) stay only on the rows that hold them: converting a timestamp per
    row to Python would cost more than the query."""
    grouped = exposed.group_by(
        variant=exposed.variant,
        bucket=_unit_bucket(exposed.unit_id, backend),
        bin=histogram_bin(exposed.latency_ms),
    ).aggregate(
        requests=exposed.count(),
        errors=exposed.error.count(),
        first=exposed.ts.min(),
        last=exposed.ts.max(),
    )
    first, last = grouped["first"], grouped["last"]
    instant = first.type().copy(nullable=True)
    return grouped.mutate(
        first=(first == first.min()).ifelse(first, ibis.null(instant)),
        last=(last == last.max()).ifelse(last, ibis.null(instant)),
    )


def _unit_histogram_query(
    per_unit: ir.Table, plan: MetricPlan, segments: int, moment: datetime
) -> ir.Table:
    """Units (windows closed) per value bin, by first arm and segment values (or payload)."""
    t = per_unit.filter(_closed(per_unit, plan, moment))
    keys = ["variant", *(f"s{i}" for i in range(segments))]
    if "payload" in t.columns:
        keys = ["payload"]
    return t.group_by(*keys, bin=histogram_bin(t[f"y{plan.index}"])).aggregate(requests=t.count())


# -- rows to the contract ------------------------------------------------------------------


def _sorted(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows in a fixed order (engines return groups in any order; float sums follow it)."""
    return sorted(rows, key=lambda r: tuple((v is None, str(v)) for v in r.values()))


def _f(value: Any) -> float:
    return 0.0 if value is None else float(value)


def _metric_aggregates(
    rows: list[dict[str, Any]], plans: list[MetricPlan], segments: tuple[str, ...]
) -> dict[str, MetricAggregates]:
    cells: list[dict[CellKey, Cell]] = [defaultdict(Cell) for _ in plans]
    for row in rows:
        key = CellKey(
            row["variant"],
            row["day"],
            tuple((a, row[f"s{i}"]) for i, a in enumerate(segments)),
            int(row["allocation_version"]),
        )
        for p in plans:
            i = p.index
            n = float(row[f"n{i}"])
            if n == 0:
                continue  # no unit of this cell has a closed window for this metric yet
            cell = Cell(n=n, sum_y=_f(row[f"sy{i}"]), sum_y_sq=_f(row[f"syy{i}"]))
            if p.x is not None:
                extra = {
                    "sum_x": row[f"sx{i}"],
                    "sum_x_sq": row[f"sxx{i}"],
                    "sum_xy": row[f"sxy{i}"],
                }
                cell = _with(cell, extra)
            if p.d is not None:
                extra = {
                    "sum_d": row[f"sd{i}"],
                    "sum_d_sq": row[f"sdd{i}"],
                    "sum_yd": row[f"syd{i}"],
                }
                cell = _with(cell, extra)
            cells[i][key] = cells[i][key] + cell
    return {
        p.metric.name: MetricAggregates(p.metric.name, p.metric.kind, tuple(cells[p.index].items()))
        for p in plans
    }


def _with(cell: Cell, extra: dict[str, Any]) -> Cell:
    return replace(cell, **{k: _f(v) for k, v in extra.items()})


def _health(
    rows: list[dict[str, Any]],
    requests: list[dict[str, Any]],
    plans: list[MetricPlan],
    moment: datetime,
) -> Health:
    exposed = sum(int(r["n"]) for r in rows)
    several = sum(int(r["n"]) for r in rows if r["multiple"])
    srm: dict[tuple[int, str], list[float]] = defaultdict(lambda: [0, 0.0])
    for r in rows:
        counts = srm[(int(r["allocation_version"]), r["variant"])]
        counts[0] += int(r["n"])
        counts[1] += _f(r["probability"])
    crossovers: dict[str, int] = dict.fromkeys((r["variant"] for r in rows), 0)
    for r in rows:
        if r["multiple"]:
            crossovers[r["variant"]] += int(r["n"])
    analysed = rows
    return Health(
        exposed_units=exposed,
        analysed_units=exposed,
        multiple_exposure_units=several,
        crossovers=dict(sorted(crossovers.items())),
        srm=tuple(
            SrmCount(version, variant, int(n), total / n if n else math.nan)
            for (version, variant), (n, total) in sorted(srm.items())
        ),
        first_exposure=_extreme(min, (r["first"] for r in requests)),
        last_exposure=_extreme(max, (r["last"] for r in requests)),
        last_outcome=_extreme(max, (r["last_outcome"] for r in analysed)),
        outcomes={p.metric.name: sum(int(r[f"c{p.index}"]) for r in analysed) for p in plans},
        units_in_window=sum(int(r["open"]) for r in analysed),
        as_of=moment,
    )


def _extreme(pick: Any, values: Iterable[datetime | None]) -> datetime | None:
    """The min or max instant, in UTC (engines without zones, e.g. Spark, hand back UTC)."""
    present = [
        v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)
        for v in values
        if v is not None
    ]
    return pick(present) if present else None


def _segment_histograms(
    rows: list[dict[str, Any]], variants: list[str], segments: tuple[str, ...]
) -> tuple[tuple[tuple[str, str], LatencyHistogram], ...]:
    """Per (attribute, value): the histogram of the rows with that segment value."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        for i, attribute in enumerate(segments):
            groups[(attribute, row[f"s{i}"])].append(row)
    return tuple(
        (key, LatencyHistogram(HISTOGRAM_EDGES, _histogram(group, variants)))
        for key, group in sorted(groups.items())
    )


def _histogram(rows: list[dict[str, Any]], variants: list[str]) -> dict[str, tuple[int, ...]]:
    counts = {v: [0] * _BINS for v in variants}
    for r in rows:
        if r["bin"] is not None:
            counts.setdefault(r["variant"], [0] * _BINS)[int(r["bin"])] += int(r["requests"])
    return {v: tuple(c) for v, c in counts.items()}


def _serving(rows: list[dict[str, Any]], variants: list[str]) -> ServingStats:
    """Per variant: totals, the latency histogram, and the same sums per unit bucket."""
    sums: dict[str, _VariantServing] = {v: _VariantServing() for v in variants}
    for r in rows:
        s = sums.get(r["variant"]) or sums.setdefault(r["variant"], _VariantServing())
        n, e, b, k = r["requests"], r["errors"], r["bucket"], r["bin"]
        s.requests += n
        s.errors += e
        if k is not None:
            s.histogram[k] += n
        if b is None:  # no unit id: in the totals, in no bucket
            continue
        s.bucket_requests[b] += n
        s.bucket_errors[b] += e
        if k is not None:
            s.cells.append((b, k, n))
    return ServingStats(
        {v: s.requests for v, s in sums.items()},
        {v: s.errors for v, s in sums.items()},
        LatencyHistogram(HISTOGRAM_EDGES, {v: tuple(s.histogram) for v, s in sums.items()}),
        unit_buckets=UNIT_BUCKETS,
        bucket_requests={v: tuple(s.bucket_requests) for v, s in sums.items()},
        bucket_errors={v: tuple(s.bucket_errors) for v, s in sums.items()},
        bucket_latency={v: tuple(sorted(s.cells)) for v, s in sums.items()},
    )


class _VariantServing:
    """One variant's serving sums while the rows are read."""

    __slots__ = ("bucket_errors", "bucket_requests", "cells", "errors", "histogram", "requests")

    def __init__(self) -> None:
        self.requests = self.errors = 0
        self.histogram = [0] * _BINS
        self.bucket_requests = [0] * UNIT_BUCKETS
        self.bucket_errors = [0] * UNIT_BUCKETS
        self.cells: list[tuple[int, int, int]] = []
