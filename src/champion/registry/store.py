"""The Registry: experiment state and its append-only history, behind one small class.

Every change runs in one transaction that reads the experiment, checks the lifecycle,
updates the row under ``WHERE name = :name AND version = :expected`` (a zero rowcount means
someone committed first: StaleVersion), bumps the global version and appends one audit row.
Writes without an expected version lock the row while they read it instead. On SQLite the
whole transaction holds the write lock (BEGIN IMMEDIATE). Readers never lock:
``snapshot()`` is one query, ``global_version()`` reads one row.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from champion.errors import (
    ExperimentExists,
    InvalidArgument,
    InvalidTransition,
    StaleVersion,
)
from champion.registry.allocation import (
    AllocationCheck,
    champion_only,
    check_shares,
    layout_check,
    ramped,
    spec_allocation,
    stage_for,
)
from champion.registry.connection import WRITE, open_engine, translate_errors
from champion.registry.lifecycle import State, check_action
from champion.registry.looks import read_looks, record_look
from champion.registry.records import (
    AuditEntry,
    Changes,
    ExperimentState,
    LookRecord,
    Snapshot,
    WindowRecord,
)
from champion.registry.rows import (
    STATE_COLUMNS,
    append_log,
    bump_global_version,
    not_found,
    read_global_version,
    to_entry,
    to_state,
    version_of,
)
from champion.registry.schema import audit_log, ensure_schema, evidence, experiments
from champion.registry.windows import read_windows, record_windows
from champion.spec import Experiment, dump_spec

__all__ = ["Registry", "default_actor"]

# Given the current state and its spec, the allocation and stage a change writes.
Plan = Callable[[ExperimentState, Experiment], tuple[dict[str, float], int | None]]


def default_actor() -> str:
    """Who a change is recorded as when the caller does not say: $USER, else "unknown"."""
    return os.environ.get("USER") or "unknown"


def _actor(by: str | None) -> str:
    actor = default_actor() if by is None else by
    if not isinstance(actor, str) or not actor.strip() or len(actor) > 256:
        raise InvalidArgument("by", by, "a non-empty name of at most 256 characters")
    return actor.strip()


def _reason(reason: str, *, required: bool) -> str:
    if not isinstance(reason, str):
        raise InvalidArgument("reason", reason, "text saying why")
    if required and not reason.strip():
        raise InvalidArgument("reason", reason, "say why (it is kept in the audit log)")
    return reason.strip()


def _expected(version: int | None) -> int | None:
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        raise InvalidArgument("expected_version", version, "the integer version you read")
    return version


class Registry:
    """Experiments, their lifecycle and history, in SQLite (default) or PostgreSQL.

    ``url`` defaults to $CHAMPION_DB, then ``sqlite:///champion.db``; a bare path is a SQLite
    file. Opening checks the connection and creates missing tables. Writes take
    ``expected_version`` (the version you read): if the experiment moved on, StaleVersion.
    Without it, a write applies to whatever version it finds, still atomically.

    >>> reg = Registry("sqlite://")  # in memory: one connection, for trying things out
    >>> reg.global_version()
    0
    >>> reg.close()
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        busy_timeout: float = 30.0,
        allocation_check: AllocationCheck | None = None,
    ) -> None:
        if not isinstance(busy_timeout, int | float) or not busy_timeout > 0:
            raise InvalidArgument("busy_timeout", busy_timeout, "seconds, above 0")
        self._engine, self.url = open_engine(url, busy_timeout=float(busy_timeout))
        self._writer = self._engine.execution_options(**{WRITE: True})
        self._check = allocation_check or layout_check
        try:
            ensure_schema(self._writer, self.url)
        except BaseException:
            self._engine.dispose()
            raise

    def __repr__(self) -> str:
        return f"Registry({self.url!r})"

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._engine.dispose()

    # -- reads -------------------------------------------------------------------------

    def get(self, name: str) -> ExperimentState:
        with translate_errors(self.url), self._engine.connect() as conn:
            row = conn.execute(
                sa.select(*STATE_COLUMNS).where(experiments.c.name == name)
            ).one_or_none()
            if row is None:
                raise not_found(conn, name)
        return to_state(row)

    def spec(self, name: str) -> Experiment:
        """The experiment's spec, rebuilt from the YAML stored at creation."""
        return self.get(name).spec

    def history(self, name: str) -> list[AuditEntry]:
        """Every change to ``name``, oldest first."""
        with translate_errors(self.url), self._engine.connect() as conn:
            joined = audit_log.outerjoin(
                evidence,
                sa.and_(
                    evidence.c.experiment == audit_log.c.experiment,
                    evidence.c.version == audit_log.c.version,
                ),
            )
            rows = conn.execute(
                sa.select(audit_log, evidence.c.evidence)
                .select_from(joined)
                .where(audit_log.c.experiment == name)
                .order_by(audit_log.c.version)
            ).all()
            if not rows:
                raise not_found(conn, name)
        return [to_entry(r) for r in rows]

    def snapshot(self) -> Snapshot:
        """Every experiment, in one query; its global version is the newest row's ``seq``."""
        with translate_errors(self.url), self._engine.connect() as conn:
            rows = conn.execute(sa.select(*STATE_COLUMNS).order_by(experiments.c.name)).all()
        states = tuple(to_state(r) for r in rows)
        return Snapshot(max((s.seq for s in states), default=0), states)

    def global_version(self) -> int:
        """A number that grows with every change to any experiment: one row, one query."""
        with translate_errors(self.url), self._engine.connect() as conn:
            return read_global_version(conn)

    def poll_changes(self, since_version: int) -> Changes:
        """Experiments changed after global version ``since_version`` (0: all of them).

        Costs one tiny query when nothing changed. A ``since_version`` above the registry's
        (a registry rebuilt from scratch) returns every experiment, so pollers resync.
        """
        if isinstance(since_version, bool) or not isinstance(since_version, int):
            raise InvalidArgument("since_version", since_version, "an integer global version")
        with translate_errors(self.url), self._engine.connect() as conn:
            now = read_global_version(conn)
            if now == since_version:
                return Changes(since_version, now, ())
            query = sa.select(*STATE_COLUMNS).order_by(experiments.c.seq)
            if now > since_version:
                query = query.where(experiments.c.seq > since_version)
            rows = conn.execute(query).all()
        states = tuple(to_state(r) for r in rows)
        newest = max((s.seq for s in states), default=now)
        return Changes(since_version, max(now, newest), states)

    def watch(
        self,
        since_version: int = 0,
        *,
        interval: float = 1.0,
        stop: threading.Event | None = None,
    ) -> Iterator[Changes]:
        """Yield each batch of changes as polling finds them, until ``stop`` is set."""
        if not isinstance(interval, int | float) or not math.isfinite(interval) or interval < 0:
            raise InvalidArgument("interval", interval, "seconds between polls, 0 or more")
        since = since_version
        while stop is None or not stop.is_set():
            changes = self.poll_changes(since)
            since = changes.global_version
            if changes:
                yield changes
            if stop is None:
                time.sleep(interval)
            else:
                stop.wait(interval)

    def looks(self, name: str, variant: str | None = None) -> list[LookRecord]:
        """The look ledger of ``name`` (of one challenger if ``variant``), by variant and index."""
        return read_looks(self._engine, self.url, name, variant)

    def windows(
        self,
        name: str,
        since: datetime | None = None,
        *,
        newest: int | None = None,
        before: datetime | None = None,
    ) -> list[WindowRecord]:
        """The monitor's stored guardrail windows of ``name``, oldest first: from ``since``,
        before ``before``, only the ``newest`` that many windows (each with every variant)."""
        return read_windows(self._engine, self.url, name, since, newest=newest, before=before)

    # -- writes ------------------------------------------------------------------------

    def record_windows(self, rows: list[WindowRecord]) -> int:
        """Store closed guardrail windows once each (the first writer wins); how many were new."""
        return record_windows(self._writer, self.url, rows)

    def record_look(self, look: LookRecord) -> LookRecord:
        """Add a decision point to the look ledger, once; returns the row as stored.

        If the ledger already holds this (experiment, variant, index), nothing is written
        and the stored look comes back: the first writer wins, racing writers all get its
        row. Leaves the experiment's version and the global version unchanged.
        """
        return record_look(self._writer, self.url, look)

    def create(
        self, spec: Experiment, *, by: str | None = None, reason: str = ""
    ) -> ExperimentState:
        """Register ``spec`` as a draft at version 1; its YAML is stored with it."""
        if not isinstance(spec, Experiment):
            raise InvalidArgument(
                "spec", type(spec).__name__, "an Experiment (read one with champion.spec.load_spec)"
            )
        actor, why = _actor(by), _reason(reason, required=False)
        text, allocation, now = dump_spec(spec), champion_only(spec), datetime.now(UTC)
        try:
            with translate_errors(self.url), self._writer.begin() as conn:
                found = conn.execute(
                    sa.select(experiments.c.state, experiments.c.version).where(
                        experiments.c.name == spec.name
                    )
                ).one_or_none()
                if found is not None:
                    raise ExperimentExists(spec.name, found.state, found.version)
                seq = bump_global_version(conn)
                conn.execute(
                    sa.insert(experiments).values(
                        name=spec.name, state=State.DRAFT.value, version=1,
                        allocation=allocation, stage=None, spec=text, created_at=now,
                        updated_at=now, updated_by=actor, seq=seq,
                    )
                )  # fmt: skip
                append_log(conn, experiment=spec.name, version=1, seq=seq, action="create",
                           state=State.DRAFT.value, allocation=allocation, stage=None,
                           actor=actor, at=now, reason=why)  # fmt: skip
        except sa.exc.IntegrityError:  # a concurrent create of the same name won
            current = self.get(spec.name)
            raise ExperimentExists(spec.name, current.state.value, current.version) from None
        return self.get(spec.name)

    def start(
        self,
        name: str,
        *,
        shadow: bool = False,
        expected_version: int | None = None,
        by: str | None = None,
        reason: str = "",
    ) -> ExperimentState:
        """Serve the spec's allocation (running), or with ``shadow`` only mirror traffic."""
        if shadow:
            return self._change(name, "shadow", expected_version, by, reason, _all_champion)

        def plan(current: ExperimentState, spec: Experiment) -> tuple[dict[str, float], int | None]:
            allocation = spec_allocation(spec)
            return allocation, stage_for(spec, allocation[spec.challengers[0]])

        return self._change(name, "start", expected_version, by, reason, plan)

    def ramp(
        self,
        name: str,
        to: float,
        *,
        challenger: str | None = None,
        expected_version: int | None = None,
        by: str | None = None,
        reason: str = "",
        evidence: dict[str, Any] | None = None,
    ) -> ExperimentState:
        """Give ``challenger`` (default: the first) ``to`` percent; the champion takes the rest."""

        def plan(current: ExperimentState, spec: Experiment) -> tuple[dict[str, float], int | None]:
            allocation, which = ramped(spec, current.allocation, to, challenger)
            return allocation, stage_for(spec, allocation[which])

        return self._change(name, "ramp", expected_version, by, reason, plan, evidence)

    def reweight(
        self,
        name: str,
        weights: dict[str, float],
        *,
        expected_version: int | None = None,
        by: str | None = None,
        reason: str = "",
        evidence: dict[str, Any] | None = None,
    ) -> ExperimentState:
        """Serve a bandit's new weights (every variant's share) as a new allocation version."""

        def plan(current: ExperimentState, spec: Experiment) -> tuple[dict[str, float], int | None]:
            if spec.bandit is None:
                raise InvalidArgument(
                    "weights", dict(weights), f"{name} is not a bandit: add a 'bandit' block"
                )
            if set(weights) != set(spec.variants):
                raise InvalidArgument(
                    "weights", dict(weights), f"give a weight to each of {spec.variants}"
                )
            return {v: round(float(weights[v]), 12) for v in spec.variants}, None

        return self._change(name, "reweight", expected_version, by, reason, plan, evidence)

    def stop(
        self,
        name: str,
        *,
        reason: str,
        expected_version: int | None = None,
        by: str | None = None,
        evidence: dict[str, Any] | None = None,
    ) -> ExperimentState:
        """End the experiment; the champion serves everyone again."""
        why = _reason(reason, required=True)
        return self._change(name, "stop", expected_version, by, why, _all_champion, evidence)

    def pause(
        self,
        name: str,
        *,
        reason: str,
        expected_version: int | None = None,
        by: str | None = None,
        evidence: dict[str, Any] | None = None,
    ) -> ExperimentState:
        """Hold a running rollout at its stage (it keeps serving its allocation)."""
        why = _reason(reason, required=True)
        return self._change(name, "pause", expected_version, by, why, _same, evidence)

    def resume(
        self, name: str, *, reason: str, expected_version: int | None = None, by: str | None = None
    ) -> ExperimentState:
        """Let a paused rollout move again."""
        why = _reason(reason, required=True)
        return self._change(name, "resume", expected_version, by, why, _same)

    def promote(
        self,
        name: str,
        *,
        reason: str,
        challenger: str | None = None,
        expected_version: int | None = None,
        by: str | None = None,
        evidence: dict[str, Any] | None = None,
    ) -> ExperimentState:
        """End the experiment with ``challenger`` (default: the first) serving everyone."""
        why = _reason(reason, required=True)

        def plan(current: ExperimentState, spec: Experiment) -> tuple[dict[str, float], int | None]:
            winner = spec.challengers[0] if challenger is None else challenger
            if winner not in spec.challengers:
                raise InvalidArgument(
                    "challenger", winner, f"one of this experiment's challengers {spec.challengers}"
                )
            allocation = {v: 1.0 if v == winner else 0.0 for v in spec.variants}
            return allocation, stage_for(spec, 1.0)

        return self._change(name, "promote", expected_version, by, why, plan, evidence)

    def complete(
        self, name: str, *, reason: str, expected_version: int | None = None, by: str | None = None
    ) -> ExperimentState:
        """End the experiment with a decision, keeping the allocation it reached."""
        why = _reason(reason, required=True)
        return self._change(
            name, "complete", expected_version, by, why, lambda cur, _: (cur.allocation, cur.stage)
        )

    def rollback(
        self,
        name: str,
        *,
        reason: str,
        expected_version: int | None = None,
        by: str | None = None,
        evidence: dict[str, Any] | None = None,
    ) -> ExperimentState:
        """Abort a running experiment; the champion serves everyone again."""
        why = _reason(reason, required=True)
        return self._change(name, "rollback", expected_version, by, why, _all_champion, evidence)

    def archive(
        self, name: str, *, reason: str, expected_version: int | None = None, by: str | None = None
    ) -> ExperimentState:
        """Take the experiment out of service for good, from any state but archived.

        Works on an experiment whose spec no longer parses or whose models fail to load: the
        spec is not read. Gateways stop serving it; its row and history are kept (names are
        never reused).
        """
        why = _reason(reason, required=True)
        return self._change(name, "archive", expected_version, by, why, None)

    # -- internals ---------------------------------------------------------------------

    def _change(
        self,
        name: str,
        action: str,
        expected_version: int | None,
        by: str | None,
        reason: str,
        plan: Plan | None,
        evidence_: dict[str, Any] | None = None,
    ) -> ExperimentState:
        """One change in one transaction; ``plan=None`` (archive) keeps the allocation and
        never parses the spec."""
        if evidence_ is not None and not isinstance(evidence_, dict):
            raise InvalidArgument("evidence", evidence_, "a JSON object (dict) or None")
        actor, why, expected = (
            _actor(by),
            _reason(reason, required=False),
            _expected(expected_version),
        )
        query = sa.select(*STATE_COLUMNS).where(experiments.c.name == name)
        if expected is None:  # no version to hold the caller to: lock the row instead
            query = query.with_for_update()
        with translate_errors(self.url), self._writer.begin() as conn:
            row = conn.execute(query).one_or_none()
            if row is None:
                raise not_found(conn, name)
            current = to_state(row)
            if expected is not None and expected != current.version:
                raise StaleVersion(name, expected, current.version)
            expected = current.version if expected is None else expected
            if plan is None:
                if current.state is State.ARCHIVED:
                    raise InvalidTransition(name, current.state.value, action, [])
                target, allocation, stage = State.ARCHIVED, current.allocation, current.stage
            else:
                target = check_action(name, current.state, action)
                spec = current.spec
                allocation, stage = plan(current, spec)
                check_shares(allocation)
                self._check(spec, current.allocation, allocation)
            now, seq = datetime.now(UTC), bump_global_version(conn)
            done = conn.execute(
                sa.update(experiments)
                .where(experiments.c.name == name, experiments.c.version == expected)
                .values(version=expected + 1, state=target.value, allocation=allocation,
                        stage=stage, updated_at=now, updated_by=actor, seq=seq)
            )  # fmt: skip
            if done.rowcount != 1:
                raise StaleVersion(name, expected, version_of(conn, name))
            append_log(conn, experiment=name, version=expected + 1, seq=seq, action=action,
                       state=target.value, allocation=allocation, stage=stage, actor=actor,
                       at=now, reason=why)  # fmt: skip
            if evidence_ is not None:
                conn.execute(
                    sa.insert(evidence).values(
                        experiment=name, version=expected + 1, evidence=evidence_
                    )
                )
        return ExperimentState(name, target, expected + 1, allocation, stage, current.spec_yaml,
                               now, actor, seq)  # fmt: skip


def _same(current: ExperimentState, _spec: Experiment) -> tuple[dict[str, float], int | None]:
    return dict(current.allocation), current.stage


def _all_champion(_current: ExperimentState, spec: Experiment) -> tuple[dict[str, float], None]:
    return champion_only(spec), None
