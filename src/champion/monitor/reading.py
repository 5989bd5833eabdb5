"""What the stage gates read beyond the guardrail windows: units per arm in the stage, and
the valid read-out (with the look ledger, so the monitor's read-outs spend alpha once)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import ibis

from champion.analysis.aggregate import load_analysis_data
from champion.analysis.attribution import counted_exposures
from champion.analysis.guardrails import FAIL
from champion.analysis.readout import build_report
from champion.analysis.store import EventStore
from champion.monitor.rollout import current_challenger
from champion.registry import ExperimentState, Registry
from champion.spec.models import Experiment

__all__ = ["read_out", "stage_units"]


def stage_units(
    store: EventStore,
) -> Callable[[ExperimentState, Experiment, datetime], dict[str, int]]:
    """Units per variant exposed under the experiment's current allocation version."""

    def count(state: ExperimentState, spec: Experiment, now: datetime) -> dict[str, int]:
        t = counted_exposures(store.exposures, spec.name, as_of=now)
        t = t.filter(t.allocation_version == ibis.literal(state.version, "int64"))
        rows = store.fetch(t.group_by("variant").aggregate(units=t.unit_id.nunique()))
        found = {r["variant"]: int(r["units"]) for r in rows}
        return {v: found.get(v, 0) for v in spec.variants if state.allocation.get(v, 0.0) > 0}

    return count


def read_out(
    registry: Registry, store: EventStore
) -> Callable[[ExperimentState, Experiment, datetime], tuple[str, list[str], bool, bool]]:
    """(decision, reasons, SRM ok, a guardrail failed) of the read-out as of ``now``."""

    def read(
        state: ExperimentState, spec: Experiment, now: datetime
    ) -> tuple[str, list[str], bool, bool]:
        data = load_analysis_data(store, spec, as_of=now)
        history, ledger = registry.history(state.name), registry.looks(state.name)
        report = build_report(data, spec, state=state, history=history, ledger=ledger)
        for look in report.new_looks:
            registry.record_look(look)
        # the challenger being rolled out is judged on its own decision, not the best one's
        which = current_challenger(spec, state.allocation)
        overall = (report.decision.decision, report.decision.reasons)
        decision, reasons = report.decision.per_challenger.get(which, overall)
        failed = any(g.status == FAIL and g.variant == which for g in report.guardrails)
        return decision, list(reasons), not report.health.srm.mismatch, failed

    return read
