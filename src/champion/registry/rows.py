"""Row-level SQL shared by the Registry's methods: records from rows, counter, log, lookups."""

from __future__ import annotations

import math
from typing import Any

import sqlalchemy as sa

from champion.errors import ExperimentNotFound
from champion.registry.lifecycle import State
from champion.registry.records import AuditEntry, ExperimentState, LookRecord, as_utc
from champion.registry.schema import GLOBAL_VERSION, audit_log, experiments, meta

__all__ = [
    "STATE_COLUMNS",
    "append_log",
    "bump_global_version",
    "nan_as_null",
    "not_found",
    "read_global_version",
    "to_entry",
    "to_look",
    "to_state",
    "version_of",
]

SHOWN_NAMES = 5

# The columns an ExperimentState is built from, in its field order (unpacked by position:
# a snapshot of 1,000 rows spends most of its Python time here).
STATE_COLUMNS = tuple(
    experiments.c[k]
    for k in ("name", "state", "version", "allocation", "stage", "spec", "updated_at",
              "updated_by", "seq")
)  # fmt: skip


def to_state(row: Any) -> ExperimentState:
    name, state, version, allocation, stage, spec, updated_at, updated_by, seq = row
    return ExperimentState(
        name, State(state), version, allocation, stage, spec, as_utc(updated_at), updated_by, seq
    )


def to_entry(row: Any) -> AuditEntry:
    return AuditEntry(
        experiment=row.experiment,
        version=row.version,
        action=row.action,
        state=State(row.state),
        allocation=dict(row.allocation),
        stage=row.stage,
        by=row.actor,
        at=as_utc(row.at),
        reason=row.reason,
        seq=row.seq,
        evidence=getattr(row, "evidence", None),
    )


def nan_as_null(value: float) -> float | None:
    """How a float column of the look ledger stores ``value``: NaN as NULL."""
    return None if math.isnan(value) else float(value)


def _null_as_nan(value: float | None) -> float:
    return math.nan if value is None else float(value)


def to_look(row: Any) -> LookRecord:
    return LookRecord(
        experiment=row.experiment,
        variant=row.variant,
        index=row.idx,
        at=as_utc(row.at),
        information_fraction=float(row.information_fraction),
        statistic=_null_as_nan(row.statistic),
        boundary=_null_as_nan(row.boundary),
        alpha_spent=_null_as_nan(row.alpha_spent),
        max_information=_null_as_nan(row.max_information),
        decision=row.decision,
        final=bool(row.final),
    )


def append_log(conn: sa.Connection, **row: Any) -> None:
    """Insert one audit row; nothing in champion ever updates or deletes one."""
    conn.execute(sa.insert(audit_log).values(**row))


def bump_global_version(conn: sa.Connection) -> int:
    """Next global version; the row stays locked until commit, so commits come in order."""
    return conn.execute(
        sa.update(meta)
        .where(meta.c.key == GLOBAL_VERSION)
        .values(value=meta.c.value + 1)
        .returning(meta.c.value)
    ).scalar_one()


def read_global_version(conn: sa.Connection) -> int:
    return conn.execute(sa.select(meta.c.value).where(meta.c.key == GLOBAL_VERSION)).scalar_one()


def version_of(conn: sa.Connection, name: str) -> int:
    found = conn.execute(
        sa.select(experiments.c.version).where(experiments.c.name == name)
    ).scalar_one_or_none()
    return -1 if found is None else found


def not_found(conn: sa.Connection, name: str) -> ExperimentNotFound:
    names = conn.execute(
        sa.select(experiments.c.name).order_by(experiments.c.name).limit(SHOWN_NAMES)
    ).scalars()
    total = conn.execute(sa.select(sa.func.count()).select_from(experiments)).scalar_one()
    return ExperimentNotFound(name, list(names), total)
