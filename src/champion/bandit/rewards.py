"""Each unit's first exposure and its reward, read from the event store (a Parquet folder or
a database) with the analysis's attribution expressions.

A unit counts under its first exposure: the arm, the probability it had of that arm and the
allocation version it was served under, and whether it was in the holdout. Its reward is the
``reward`` metric's outcomes inside the metric's window after that exposure: for a
proportion 1 if any outcome was non-zero, for a mean their sum (0 without outcomes): the
analysis's own per-unit values (champion.analysis.attribution), so the two agree.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import ibis
import numpy as np

from champion.analysis.attribution import (
    counted_exposures,
    first_exposures,
    metric_outcomes,
    plan_metrics,
    unit_values,
)
from champion.analysis.store import EventStore, open_store
from champion.errors import InvalidArgument, NoExposures
from champion.events.schema import BANDIT_HOLDOUT_ATTRIBUTE
from champion.spec import Experiment
from champion.spec.models import Metric

__all__ = ["UnitRewards", "read_unit_rewards"]


@dataclass(frozen=True, slots=True, eq=False)
class UnitRewards:
    """One row per unit (arrays of equal length); ``arm`` indexes ``arms``."""

    arms: tuple[str, ...]
    unit_id: np.ndarray
    arm: np.ndarray
    probability: np.ndarray
    version: np.ndarray
    holdout: np.ndarray
    reward: np.ndarray
    closed: np.ndarray  # the unit's reward window has closed (as of the read)

    def __len__(self) -> int:
        return len(self.unit_id)

    def policy_counts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(sum, sum of squares, units) per arm of the units that train the policy."""
        k = len(self.arms)
        mask = ~self.holdout
        a, y = self.arm[mask], self.reward[mask]
        return (
            np.bincount(a, weights=y, minlength=k),
            np.bincount(a, weights=y * y, minlength=k),
            np.bincount(a, minlength=k).astype(float),
        )


def read_unit_rewards(
    events: str | os.PathLike[str], spec: Experiment, *, as_of: datetime
) -> UnitRewards:
    """The experiment's units as of ``as_of`` (see the module), from a Parquet folder or a
    database URL: the analysis's own expressions, so both count the same units alike."""
    if spec.bandit is None:
        raise InvalidArgument("name", spec.name, "is not a bandit: its spec has no 'bandit' block")
    if as_of.tzinfo is None or as_of.utcoffset() is None:
        raise InvalidArgument("as_of", as_of, "must be timezone-aware, e.g. in UTC")
    as_of = as_of.astimezone(UTC)
    metric = next(
        m for m in [spec.metrics.primary, *spec.metrics.secondary] if m.name == spec.bandit.reward
    )
    window = timedelta(days=metric.window_days)
    arms = tuple(spec.variants)
    folder = "://" not in os.fspath(events)
    try:  # a folder is read under the experiment's partition alone, which it may not have yet
        store = open_store(events, experiment=spec.name if folder else None)
    except NoExposures:
        rows: list[dict[str, Any]] = []
    else:
        rows = _unit_rows(store, spec, metric, as_of)
    index = {v: i for i, v in enumerate(arms)}
    unknown = sorted({r["variant"] for r in rows} - set(index))
    if unknown:
        raise InvalidArgument(
            "variant", unknown[0], f"was logged for {spec.name} but is not in its spec: "
            "the events belong to another experiment of that name",
        )  # fmt: skip

    def column(name: str, dtype: Any) -> np.ndarray:
        return np.asarray([r[name] for r in rows], dtype=dtype)

    first = [_utc(r["first_ts"]) for r in rows]
    return UnitRewards(
        arms=arms,
        unit_id=column("unit_id", object),
        arm=np.asarray([index[r["variant"]] for r in rows], dtype=np.int64),
        probability=column("probability", float),
        version=column("allocation_version", np.int64),
        holdout=column("holdout", bool),
        reward=column("reward", float),
        closed=np.asarray([t + window <= as_of for t in first], dtype=bool),
    )


def _unit_rows(
    store: EventStore, spec: Experiment, metric: Metric, as_of: datetime
) -> list[dict[str, Any]]:
    """Per unit: first exposure's variant, probability, version, holdout flag, and reward."""
    with store:
        exposed = counted_exposures(store.exposures, spec.name, as_of=as_of)
        units = first_exposures(exposed, [BANDIT_HOLDOUT_ATTRIBUTE], backend=store.backend)
        plans = plan_metrics([metric])
        sql = {metric.name: store.metric_table(metric.name, metric.sql)} if metric.sql else {}
        outcomes = metric_outcomes(store.outcomes, plans, sql, as_of=as_of)
        per_unit = unit_values(units, outcomes, plans)
        query = per_unit.select(
            "unit_id", "first_ts", "variant", "probability", "allocation_version",
            holdout=per_unit.s0 == ibis.literal("holdout", "string"), reward=per_unit.y0,
        ).order_by(["first_ts", "unit_id"])  # fmt: skip
        return store.fetch(query)


def _utc(ts: datetime) -> datetime:
    """An instant as UTC (an engine that returns naive timestamps stores them in UTC)."""
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts
