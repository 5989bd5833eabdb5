"""Attribution as Ibis expressions: which exposures count, each unit's variant, its metric values.

The rules (docs/analysis.md, "Data"): a unit's first counted exposure (earliest ``ts``,
ties broken by ``request_id``) fixes its variant, day and segment values; a unit exposed to
two variants stays in that first arm (intent to treat) and is counted as a crossover; its
outcomes count inside each metric's window after that first exposure, and its covariate
comes from the lookback period before it.

Everything here builds expressions and runs nothing, so the same code compiles to DuckDB,
PostgreSQL, Spark or any Ibis engine. Names from a spec (experiment, metrics, segment
attributes) only ever enter the SQL as literals, which Ibis quotes; the columns it creates
are named by position (``y0``, ``s1``), never after a spec's names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from champion.analysis.kinds import kind_of
from champion.spec.models import Metric

__all__ = [
    "NO_VALUE",
    "MetricPlan",
    "attribute",
    "counted_exposures",
    "first_exposures",
    "metric_outcomes",
    "plan_metrics",
    "unit_values",
]

#: The segment value of a unit whose first exposure lacks the attribute.
NO_VALUE = "(none)"

# Engines that order structs field by field, so one MIN picks the whole first exposure;
# elsewhere a window function numbers each unit's exposures instead.
_STRUCT_MIN_BACKENDS = frozenset({"duckdb", "pyspark"})
_US_PER_DAY = 86_400_000_000


def counted_exposures(
    exposures: ir.Table, experiment: str, *, as_of: datetime | None = None
) -> ir.Table:
    """Exposure events of ``experiment`` with ``exposed = true`` (up to ``as_of``)."""
    e = exposures.filter(
        exposures.experiment == ibis.literal(experiment, "string"), exposures.exposed
    )
    if as_of is not None:
        e = e.filter(e.ts <= ibis.literal(as_of, e.ts.type()))
        if "date" in e.columns:  # lets Parquet and partitioned tables skip later days
            if e.date.type().is_date():
                e = e.filter(e.date <= ibis.literal(as_of.date(), "date"))
            elif e.date.type().is_string():  # a partition read as text (Spark, Hive)
                e = e.filter(e.date <= ibis.literal(as_of.date().isoformat(), "string"))
    return e


# Ibis' UDF decorators are untyped (no stubs); it reads these annotations as Ibis dtypes, and a
# builtin UDF has no Python body: hence the untyped-decorator, valid-type and empty-body ignores.
@ibis.udf.scalar.builtin(name="map_extract_value")  # type: ignore[untyped-decorator]
def _map_value(attributes: dt.Map(dt.string, dt.string), key: str) -> str:  # type: ignore[valid-type,empty-body]
    """DuckDB's own map lookup: a third of the cost of Ibis' portable one."""


@ibis.udf.scalar.builtin(name="json_extract_string")  # type: ignore[untyped-decorator]
def _json_values(attributes: str, keys: dt.Array(dt.string)) -> dt.Array(dt.string):  # type: ignore[valid-type]
    """DuckDB's JSON lookup by a list of keys: Ibis' single key becomes a JSON path that
    sqlglot cannot tokenize when the key holds a quote."""


def attribute(column: ir.Value, key: str, *, backend: str | None = None) -> ir.StringValue:
    """``column[key]`` as text, null when missing: a map (Parquet), JSON (PostgreSQL) or text."""
    dtype = column.type()
    literal = ibis.literal(key, "string")
    if dtype.is_map():
        if backend == "duckdb" and dtype.value_type.is_string():
            return _map_value(column, literal)
        return column.get(literal).cast("string")
    plain_key = not key.startswith(("$", "/"))  # DuckDB reads those as paths
    if backend == "duckdb" and (dtype.is_json() or dtype.is_string()) and plain_key:
        return _json_values(column.cast("string"), ibis.array([literal]))[0]
    if dtype.is_json():
        return column[literal].str
    if dtype.is_string():
        return column.cast("json")[literal].str
    if dtype.is_struct():
        if key in dtype.names:
            return column[key].cast("string")
        return ibis.null("string")
    raise TypeError(f"attributes column of type {dtype} cannot hold segment values")


def first_exposures(
    exposed: ir.Table, segments: Sequence[str], *, backend: str | None = None
) -> ir.Table:
    """One row per unit: its first counted exposure and whether it saw several variants.

    Columns: ``unit_id, first_ts, multiple, variant, allocation_version,
    probability, s0, s1, ...`` (``s<i>`` is ``segments[i]``, :data:`NO_VALUE` when missing).
    Ties on ``ts`` go to the smaller ``request_id`` (a missing one first), then to the
    smaller remaining fields, so every engine picks the same exposure.
    """
    fields: dict[str, ir.Value] = {
        "ts": exposed.ts,
        "tie": exposed.request_id.fill_null(""),
        "variant": exposed.variant,
        "allocation_version": exposed.allocation_version,
        "probability": exposed.probability,
    }
    backend = backend or _backend_of(exposed)
    for i, name in enumerate(segments):
        fields[f"s{i}"] = attribute(exposed.attributes, name, backend=backend).fill_null(NO_VALUE)
    keep = [name for name in fields if name not in ("ts", "tie")]
    if backend in _STRUCT_MIN_BACKENDS:
        units = exposed.group_by("unit_id").aggregate(
            first=ibis.struct(fields).min(),
            low=exposed.variant.min(),
            high=exposed.variant.max(),
        )
        return units.select(
            "unit_id",
            first_ts=units.first["ts"],
            multiple=units.low != units.high,
            **{name: units.first[name] for name in keep},
        )
    everyone = ibis.window(group_by=exposed.unit_id)
    in_order = ibis.window(group_by=exposed.unit_id, order_by=list(fields.values()))
    ranked = exposed.select(
        "unit_id",
        first_ts=exposed.ts,
        multiple=exposed.variant.min().over(everyone) != exposed.variant.max().over(everyone),
        rank=ibis.row_number().over(in_order),
        **{name: fields[name] for name in keep},
    )
    return ranked.filter(ranked["rank"] == 0).drop("rank")


def _backend_of(table: ir.Table) -> str | None:
    try:
        return str(table._find_backend().name)
    except Exception:  # an unbound table: compile for any engine
        return None


# -- metrics -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MetricPlan:
    """What one metric sums per unit, and under which column names (by position)."""

    index: int
    metric: Metric
    y: str  # outcome name summed into y (the numerator for ratios)
    d: str | None  # outcome name summed into d (ratios)
    x: str | None  # covariate outcome name

    @property
    def window_days(self) -> float:
        return float(self.metric.window_days)

    @property
    def lookback_days(self) -> float:
        lookback = self.metric.lookback_days
        return float(self.metric.window_days if lookback is None else lookback)

    @property
    def outcome_names(self) -> tuple[str, ...]:
        return tuple(n for n in (self.y, self.d, self.x) if n is not None)


def plan_metrics(metrics: Sequence[Metric]) -> list[MetricPlan]:
    plans = []
    for i, m in enumerate(metrics):
        y, d = kind_of(m.kind).outcomes(m)
        plans.append(MetricPlan(i, m, y, d, m.covariate))
    return plans


def metric_outcomes(
    outcomes: ir.Table,
    plans: Sequence[MetricPlan],
    sql_tables: dict[str, ir.Table],
    *,
    as_of: datetime | None = None,
) -> ir.Table:
    """``unit_id, metric, ts, value`` rows the metrics read.

    Rows of a warehouse-native metric (``sql_tables[name]``: its ``unit_id, ts, value``)
    replace the outcome events of that name, wherever the name is used.
    """
    names = sorted({n for p in plans for n in p.outcome_names})
    from_events = [n for n in names if n not in sql_tables]
    ts_type = outcomes.ts.type().copy(nullable=True)
    parts = []
    if from_events or not sql_tables:
        rows = outcomes.filter(
            outcomes.metric.isin([ibis.literal(n, "string") for n in from_events])
        )
        parts.append(
            rows.select(unit_id=rows.unit_id, metric=rows.metric, ts=rows.ts, value=rows.value)
        )
    for name in names:
        if name in sql_tables:
            t = sql_tables[name]
            parts.append(
                t.select(
                    unit_id=t.unit_id, metric=ibis.literal(name, "string"), ts=t.ts, value=t.value
                )
            )
    # one schema for the union: nullable text, the outcome table's instants, doubles
    types = {"unit_id": dt.string, "metric": dt.string, "ts": ts_type, "value": dt.float64}
    parts = [p.select(**{c: p[c].cast(types[c]) for c in types}) for p in parts]
    rows = parts[0] if len(parts) == 1 else ibis.union(*parts, distinct=False)
    if as_of is not None:
        rows = rows.filter(rows.ts <= ibis.literal(as_of, outcomes.ts.type()))
    return rows


def _interval(days: float) -> Any:
    """An interval of ``days`` in seconds (microseconds if needed): a fixed length, which
    engines add to a UTC instant without calendar arithmetic."""
    us = round(days * _US_PER_DAY)
    if us % 1_000_000 == 0:
        return ibis.interval(seconds=us // 1_000_000)
    return ibis.interval(microseconds=us)


def unit_values(units: ir.Table, rows: ir.Table, plans: Sequence[MetricPlan]) -> ir.Table:
    """Per unit: its first exposure's columns and, per metric ``i``, ``y<i>`` (``x<i>``,
    ``d<i>``) and ``c<i>`` (outcome rows counted), plus ``last_outcome``.

    Units exposed to several variants keep their outcomes (intent to treat). Only
    ``unit_id`` and the window bounds meet the outcomes: the join and the per-unit sums
    stay narrow whatever the first exposure carries, and the sums are joined back to the
    units at the end. The join keeps only outcomes between the earliest lookback and the
    latest window end, so each outcome row is read once for every metric.
    """
    ends = {w: f"end{k}" for k, w in enumerate(sorted({p.window_days for p in plans}))}
    starts = {b: f"start{k}" for k, b in enumerate(sorted({p.lookback_days for p in plans if p.x}))}
    bounds: dict[str, ir.Value] = {}
    for days, name in ends.items():
        bounds[name] = units.first_ts + _interval(days)
    for days, name in starts.items():
        bounds[name] = units.first_ts - _interval(days)
    u = units.select(unit_key=units.unit_id, start_ts=units.first_ts, **bounds)
    low = u[starts[max(starts)]] if starts else u.start_ts
    high = u[ends[max(ends)]] if ends else u.start_ts
    joined = u.join(rows, [u.unit_key == rows.unit_id, rows.ts >= low, rows.ts < high])
    # CASE sums rather than FILTER clauses: DuckDB spills these states to disk under a
    # memory limit where FILTER's ran out. Flags are integers: a bare 1.0 is NUMERIC in
    # PostgreSQL, not a double.
    zero = ibis.literal(0.0, "float64")
    aggregates: dict[str, ir.Value] = {"last_outcome": joined.ts.max()}
    for p in plans:
        end = joined[ends[p.window_days]]
        inside = (joined.ts >= joined.start_ts) & (joined.ts < end)
        is_y = joined.metric == ibis.literal(p.y, "string")
        counted = is_y
        if kind_of(p.metric.kind).per_unit == "any":
            hit = is_y & inside & (joined.value != 0)
            aggregates[f"y{p.index}"] = hit.ifelse(1, 0).max()
        else:
            aggregates[f"y{p.index}"] = (is_y & inside).ifelse(joined.value, zero).sum()
        if p.d is not None:
            is_d = joined.metric == ibis.literal(p.d, "string")
            aggregates[f"d{p.index}"] = (is_d & inside).ifelse(joined.value, zero).sum()
            counted = is_y | is_d
        aggregates[f"c{p.index}"] = (counted & inside).ifelse(1, 0).sum()
        if p.x is not None:
            start = joined[starts[p.lookback_days]]
            before = (joined.ts >= start) & (joined.ts < joined.start_ts)
            is_x = joined.metric == ibis.literal(p.x, "string")
            aggregates[f"x{p.index}"] = (is_x & before).ifelse(joined.value, zero).sum()
    sums = joined.group_by("unit_key").aggregate(**aggregates)
    per_unit = units.left_join(sums, units.unit_id == sums.unit_key).drop("unit_key")
    filled = {
        name: per_unit[name].cast("float64").fill_null(0.0)
        for name in aggregates
        if name != "last_outcome"
    }
    return per_unit.mutate(**filled)
