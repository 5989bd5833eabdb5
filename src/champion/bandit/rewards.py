"""Each unit's first exposure and its reward, read from a Parquet event store with DuckDB.

A unit counts under its first exposure: the arm, the probability it had of that arm and the
allocation version it was served under, and whether it was in the holdout. Its reward is the
``reward`` metric's outcomes inside the metric's window after that exposure: for a
proportion 1 if any outcome was positive, for a mean their sum (0 without outcomes).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import duckdb
import numpy as np

from champion.errors import InvalidArgument
from champion.events.readers import parquet_source
from champion.events.schema import BANDIT_HOLDOUT_ATTRIBUTE
from champion.spec import Experiment

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
    """The experiment's units as of ``as_of`` (see the module); events must be a folder."""
    if spec.bandit is None:
        raise InvalidArgument("name", spec.name, "is not a bandit: its spec has no 'bandit' block")
    if "://" in str(events):
        raise InvalidArgument(
            "events", str(events), "a bandit reads a Parquet event folder (a path, not a URL)"
        )
    metric = next(
        m for m in [spec.metrics.primary, *spec.metrics.secondary] if m.name == spec.bandit.reward
    )
    window = timedelta(days=metric.window_days)
    arms = tuple(spec.variants)
    exposures = parquet_source(events, "exposures").select_sql()
    outcomes = parquet_source(events, "outcomes").select_sql()
    per_unit = "max(CASE WHEN o.value > 0 THEN 1.0 ELSE 0.0 END)" if metric.kind == "proportion" \
        else "sum(o.value)"  # fmt: skip
    sql = f"""
        WITH e AS ({exposures}), o AS ({outcomes}),
        first AS (
            SELECT unit_id, min(ts) AS t0,
                   arg_min(variant, ts) AS variant,
                   arg_min(probability, ts) AS probability,
                   arg_min(allocation_version, ts) AS version,
                   arg_min(coalesce(attributes['{BANDIT_HOLDOUT_ATTRIBUTE}'], ''), ts)
                       = 'holdout' AS holdout
            FROM e WHERE experiment = $name AND exposed AND ts <= $as_of
            GROUP BY unit_id
        )
        SELECT f.unit_id, f.variant, f.probability, f.version, f.holdout,
               coalesce({per_unit}, 0.0) AS reward,
               f.t0 + to_microseconds($window) <= $as_of AS closed
        FROM first f LEFT JOIN o
          ON o.unit_id = f.unit_id AND o.metric = $metric
         AND o.ts >= f.t0 AND o.ts < f.t0 + to_microseconds($window) AND o.ts <= $as_of
        GROUP BY f.unit_id, f.t0, f.variant, f.probability, f.version, f.holdout
        ORDER BY f.t0, f.unit_id
    """
    params = {
        "name": spec.name, "as_of": as_of, "metric": metric.name,
        "window": int(window.total_seconds() * 1e6),
    }  # fmt: skip
    with duckdb.connect() as con:
        rows = con.execute(sql, params).fetchall()
    index = {v: i for i, v in enumerate(arms)}
    columns: list[tuple[Any, ...]] = list(zip(*rows, strict=True)) if rows else [()] * 7
    unit_id, variants, probability, version, holdout, reward, closed = columns
    return UnitRewards(
        arms=arms,
        unit_id=np.asarray(unit_id, dtype=object),
        arm=np.asarray([index[v] for v in variants], dtype=np.int64),
        probability=np.asarray(probability, dtype=float),
        version=np.asarray(version, dtype=np.int64),
        holdout=np.asarray(holdout, dtype=bool),
        reward=np.asarray(reward, dtype=float),
        closed=np.asarray(closed, dtype=bool),
    )
