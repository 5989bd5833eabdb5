"""What the stage gates read beyond the guardrail windows: units per arm in the stage, and
the valid read-out (with the look ledger, so the monitor's read-outs spend alpha once)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import ibis

from champion.analysis.aggregate import load_analysis_data
from champion.analysis.attribution import counted_exposures
from champion.analysis.progress import always_valid_interval
from champion.analysis.readout import Report, build_report
from champion.analysis.store import EventStore
from champion.monitor.rollout import current_challenger
from champion.monitor.rules import DEFAULTS, SERVING, family_size
from champion.registry import ExperimentState, Registry
from champion.spec.models import Experiment

__all__ = ["outcome_harm", "read_out", "stage_units"]


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
        # guardrails are the monitor's: serving ones on its windows, outcome ones below on
        # always-valid intervals; the read-out decides on the primary metric and health
        primary_only = spec.model_copy(
            update={"metrics": spec.metrics.model_copy(update={"guardrails": []})}
        )
        report = build_report(data, primary_only, state=state, history=history, ledger=ledger)
        for look in report.new_looks:
            registry.record_look(look)
        # the challenger being rolled out is judged on its own decision, not the best one's
        which = current_challenger(spec, state.allocation)
        overall = (report.decision.decision, report.decision.reasons)
        decision, reasons = report.decision.per_challenger.get(which, overall)
        harm = outcome_harm(report, spec, which)
        if harm:
            return "rollback", [harm, *reasons], not report.health.srm.mismatch, True
        return decision, list(reasons), not report.health.srm.mismatch, False

    return read


def outcome_harm(report: Report, spec: Experiment, variant: str) -> str:
    """Why ``variant`` is shown worse than the champion by more than a guardrail's
    non-inferiority margin on an outcome metric, or "" if it is not.

    The gates read the experiment many times, so these margins are judged on the
    always-valid interval (at the monitor's alpha, shared with the serving rules), not the
    read-out's one-look test: a gate may be read every tick without inflating false stops.
    """
    settings = spec.monitor or DEFAULTS
    rules = [
        g for g in spec.metrics.guardrails
        if g.non_inferiority_margin is not None and g.name not in SERVING
    ]  # fmt: skip
    alpha = settings.alpha / (family_size(spec) + len(rules) * len(spec.challengers))
    for g in rules:
        try:
            c = report.metric(g.name).challengers[variant].comparison
        except KeyError:
            continue
        lo, hi = always_valid_interval(c, 2 * alpha)  # one-sided at alpha
        margin = float(g.non_inferiority_margin or 0.0)
        worse = lo > margin if c.sign < 0 else hi < -margin
        if worse:
            return (
                f"guardrail {g.name}: {variant} is worse than the champion by more than the "
                f"margin {margin:g} (difference {c.test.diff:.4g}, always-valid interval "
                f"{lo:.4g} to {hi:.4g})"
            )
    return ""
