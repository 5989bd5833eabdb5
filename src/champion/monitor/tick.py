"""One tick of the monitor: for each live experiment, store the windows that closed, judge
the guardrails, and apply what they and the rollout gates say, through the registry.

Everything a tick needs is in the registry (state, history, window ledger, look ledger)
and the event store, so a restarted monitor carries on where the last one stopped, and
two monitors never double-apply: every write names the version it read
(``expected_version``); the loser's StaleVersion means the other one acted, and the next
tick sees its result. One broken experiment (a spec the store cannot read, missing
events) is reported in its result and never stops the others.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from champion.analysis.store import EventStore
from champion.errors import ChampionError, NoExposures, StaleVersion
from champion.monitor import reading
from champion.monitor.promotion import move_alias
from champion.monitor.reading import stage_units
from champion.monitor.rollout import Move, current_challenger, gate, read_out_move
from champion.monitor.rules import (
    DEFAULTS,
    NO_DATA,
    PASS,
    SCAN_WINDOWS,
    VIOLATION,
    RuleStatus,
    cumulative,
    difference,
    judge_change,
    judge_comparative,
    judge_slo,
    judge_stage,
    monitored,
    totals,
)
from champion.monitor.windows import closed_windows, empty_sums, read_windows, window_start
from champion.registry import ExperimentState, Registry
from champion.registry.records import AuditEntry, WindowRecord
from champion.spec.models import Experiment

__all__ = ["ACTOR", "SETTLE_SECONDS", "ExperimentTick", "tick", "verdict"]

log = logging.getLogger("champion.monitor")

ACTOR = "champion-monitor"
#: a window is judged this long after its end (the gateway's writer flushes every second);
#: the spec's ``monitor.settle_seconds`` overrides it
SETTLE_SECONDS = DEFAULTS.settle_seconds
LIVE = ("running", "paused")
_STAGE_ACTIONS = ("start", "ramp", "resume")


@dataclass(frozen=True, slots=True)
class ExperimentTick:
    """What one tick found and did for one experiment."""

    name: str
    state: str
    percent: float | None  # the rolled-out challenger's share, in percent
    rules: tuple[RuleStatus, ...] = ()
    stage: tuple[RuleStatus, ...] = ()  # SLO rules on the current stage's windows pooled
    action: str | None = None  # stop, advance, pause, rollback, complete, promote, propose
    reason: str = ""
    applied: bool = False  # False in dry runs, or when another monitor acted first
    error: str | None = None
    new_windows: int = 0
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "state": self.state, "stage_percent": self.percent,
            "verdict": verdict(self.rules, self.stage),
            "rules": [r.to_dict() for r in self.rules],
            "stage_rules": [r.to_dict() for r in self.stage],
            "action": self.action, "reason": self.reason, "applied": self.applied,
            "error": self.error, "new_windows": self.new_windows,
        }  # fmt: skip


def verdict(rules: Sequence[RuleStatus], stage: Sequence[RuleStatus] = ()) -> str:
    """``fail`` when a rule violates now; ``pass`` only when none does, every SLO rule keeps
    its limit on the stage's pooled windows and no comparative rule lacks data;
    ``inconclusive`` otherwise (``no_data`` is never a pass)."""
    if any(r.stop or r.status == VIOLATION for r in rules):
        return "fail"
    if any(r.status == NO_DATA for r in rules if r.kind == "comparative"):
        return "inconclusive"
    if stage and all(r.status == PASS for r in stage):
        return "pass"
    if not stage and rules and all(r.status == PASS for r in rules):
        return "pass"
    return "inconclusive"


def _started(history: Sequence[AuditEntry]) -> tuple[datetime, datetime]:
    """(when traffic started, when the current stage started) from the audit log."""
    start = next((e.at for e in history if e.action == "start"), history[0].at)
    stage = next((e.at for e in reversed(history) if e.action in _STAGE_ACTIONS), start)
    return start, stage


def _settle(spec: Experiment) -> float:
    return (spec.monitor or DEFAULTS).settle_seconds


def _grouped(windows: Iterable[WindowRecord]) -> tuple[list[dict[str, dict[str, Any]]], list[str]]:
    by_start: dict[datetime, dict[str, dict[str, Any]]] = defaultdict(dict)
    for w in windows:
        by_start[w.start][w.variant] = w.sums
    starts = sorted(by_start)
    return [by_start[s] for s in starts], [s.isoformat() for s in starts]


#: an SLO rule reads at most this many times its ``stop_after`` newest windows (windows
#: without data are skipped when counting k, so it may look past K of them)
LOOKBACK = 4


def _seconds(spec: Experiment) -> float:
    return (spec.monitor or DEFAULTS).window_minutes * 60


def _lookback(spec: Experiment) -> int:
    default = (spec.monitor or DEFAULTS).stop_after
    return LOOKBACK * max([g.stop_after or default for g in monitored(spec)], default=default)


def recent_windows(
    registry: Registry, name: str, spec: Experiment, started: datetime
) -> list[WindowRecord]:
    """The newest stored windows since traffic started: what the rules read (the newest
    carries the running totals since the start)."""
    since = window_start(started, _seconds(spec))
    return registry.windows(name, since=since, newest=_lookback(spec))


def stage_baseline(
    registry: Registry, name: str, spec: Experiment, started: datetime, stage_started: datetime
) -> tuple[datetime, dict[str, dict[str, Any]]]:
    """(the first window of the stage, the running totals just before it: empty when the
    stage began with the traffic)."""
    seconds = _seconds(spec)
    first = window_start(stage_started, seconds) + timedelta(seconds=seconds)
    since = window_start(started, seconds)
    before = registry.windows(name, since=since, before=first, newest=1)
    return first, {w.variant: w.sums["cum"] for w in before if "cum" in w.sums}


def sync_windows(
    registry: Registry, store: EventStore | None, state: ExperimentState, spec: Experiment,
    since: datetime, now: datetime, *, dry_run: bool,
) -> tuple[list[WindowRecord], int]:  # fmt: skip
    """The newest stored windows plus those closed since, each new one carrying the running
    totals since the start (``sums["cum"]``): no tick needs to read the whole ledger."""
    seconds = _seconds(spec)
    stored = recent_windows(registry, state.name, spec, since)
    first = stored[-1].start + timedelta(seconds=seconds) if stored else since
    starts = closed_windows(first, now, seconds, _settle(spec))
    if store is None:  # nothing logged yet: the windows are empty, judged no_data
        new = [WindowRecord(state.name, s, seconds, v, 0, 0, empty_sums())
               for s in starts for v in spec.variants]  # fmt: skip
    else:
        drift = any(g.name == "prediction_psi" for g in monitored(spec))
        new = read_windows(store, state.name, spec.variants, starts, seconds, scores=drift)
    running: dict[str, dict[str, Any] | None] = {}
    if stored:
        running = {w.variant: w.sums.get("cum") for w in stored if w.start == stored[-1].start}
    for w in new:  # oldest first, every variant of a window together
        w.sums["cum"] = cumulative(running.get(w.variant), w.sums)
        running[w.variant] = w.sums["cum"]
    inserted = 0 if dry_run or not new else registry.record_windows(new)
    return [*stored, *new], inserted


def _running_totals(grouped: list[dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """The running totals of the newest window (older ledgers without them: the sum)."""
    if grouped and all("cum" in sums for sums in grouped[-1].values()):
        return {v: sums["cum"] for v, sums in grouped[-1].items()}
    return totals(grouped)


Marks = dict[int, dict[str, dict[str, Any]]]


def judge(
    spec: Experiment, windows: Sequence[WindowRecord], marks: Marks | None = None,
    index: int = 0,
) -> list[RuleStatus]:  # fmt: skip
    """Every rule of every challenger: SLO rules on the newest windows, comparative rules
    on the running totals since the start, and their change scan on the running totals
    ``marks`` (:func:`change_marks`; ``index``: the newest window's, 0 the first)."""
    grouped, starts = _grouped(windows)
    last = starts[-1] if starts else ""
    summed = _running_totals(grouped)
    return [
        *judge_slo(spec, grouped, starts),
        *judge_comparative(spec, summed, last),
        *judge_change(spec, summed, marks or {}, index, last),
    ]


def change_marks(
    registry: Registry, name: str, spec: Experiment, started: datetime,
    windows: Sequence[WindowRecord],
) -> tuple[Marks, int]:  # fmt: skip
    """What the change scan compares the newest running totals with: for each lookback L
    of ``SCAN_WINDOWS``, the running totals up to the window before the newest L (from
    ``windows`` when they hold it, else one ledger read), and the newest window's index
    since the start. Lookbacks reaching before the start are left out."""
    if not windows:
        return {}, 0
    seconds = _seconds(spec)
    first, last = window_start(started, seconds), windows[-1].start
    index = max(0, round((last - first).total_seconds() / seconds))
    loaded: dict[datetime, list[WindowRecord]] = defaultdict(list)
    for w in windows:
        loaded[w.start].append(w)
    marks: Marks = {}
    for lookback in SCAN_WINDOWS:
        if lookback > index:
            break
        point = last - timedelta(seconds=lookback * seconds)
        rows = loaded.get(point) or registry.windows(
            name, since=first, before=point + timedelta(seconds=seconds), newest=1
        )
        cum = {w.variant: w.sums["cum"] for w in rows if "cum" in w.sums}
        if cum:
            marks[lookback] = cum
    return marks, index


def judge_stored(
    registry: Registry, name: str, spec: Experiment, started: datetime,
    windows: Sequence[WindowRecord],
) -> list[RuleStatus]:  # fmt: skip
    """:func:`judge` with the change scan's marks read from the ledger."""
    marks, index = change_marks(registry, name, spec, started, windows)
    return judge(spec, windows, marks, index)


def stage_sums(
    windows: Sequence[WindowRecord], first: datetime, baseline: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Per variant, the sums of the current stage's windows: the newest running totals less
    those before the stage (``stage_baseline``); empty before the stage has a window."""
    grouped, _ = _grouped(w for w in windows if w.start >= first)
    if not grouped:
        return {}
    return {v: difference(c, baseline.get(v)) for v, c in _running_totals(grouped).items()}


def judge_current_stage(
    spec: Experiment, windows: Sequence[WindowRecord], first: datetime,
    baseline: dict[str, dict[str, Any]],
) -> list[RuleStatus]:  # fmt: skip
    """The SLO rules on the current stage's windows pooled."""
    return judge_stage(spec, stage_sums(windows, first, baseline), first.isoformat())


def stage_requests(
    windows: Sequence[WindowRecord], first: datetime, baseline: dict[str, dict[str, Any]]
) -> dict[str, int]:
    """Requests per variant in the current stage's windows."""
    return {v: int(sum(c["requests"])) for v, c in stage_sums(windows, first, baseline).items()}


ReadOut = Callable[[ExperimentState, Experiment, datetime], tuple[str, list[str], bool, bool]]


def _evidence(rules: Sequence[RuleStatus], **extra: Any) -> dict[str, Any]:
    return {"rules": [r.to_dict() for r in rules], **extra}


def _decide(
    state: ExperimentState, spec: Experiment, rules: list[RuleStatus], stage: list[RuleStatus],
    history: Sequence[AuditEntry], now: datetime, units: Callable[[], dict[str, int]],
    read_out: ReadOut | None,
) -> Move | None:  # fmt: skip
    stopping = [r for r in rules if r.stop]
    if stopping:
        reason = "guardrail stop: " + "; ".join(r.describe() for r in stopping)
        return Move("stop", reason, evidence=_evidence(stopping))
    if spec.rollout is None or state.state.value != "running" or read_out is None:
        return None
    _, stage_started = _started(history)
    seconds = (spec.monitor or DEFAULTS).window_minutes * 60
    in_stage = len(closed_windows(stage_started, now, seconds, _settle(spec))) - 1
    patience = max((r.stop_after for r in rules), default=1)
    cheap, move = gate(spec.rollout, rules, stage, stage_started, now, {}, in_stage, patience)
    if move is not None or not cheap.ready:
        return move
    counted = units()
    cheap, move = gate(spec.rollout, rules, stage, stage_started, now, counted, in_stage, patience)
    if move is not None or not cheap.ready:
        return move
    decision, reasons, srm_ok, guardrail_failed = read_out(state, spec, now)
    percent = 100 * state.allocation.get(current_challenger(spec, state.allocation), 0.0)
    return read_out_move(spec.rollout, decision, reasons, srm_ok, percent, guardrail_failed)


def _apply(registry: Registry, state: ExperimentState, spec: Experiment, move: Move) -> None:
    version = state.version
    which = current_challenger(spec, state.allocation)
    if move.action in ("stop", "pause", "rollback"):  # the same call, by name
        getattr(registry, move.action)(
            state.name, reason=move.reason, evidence=move.evidence, expected_version=version,
            by=ACTOR,
        )  # fmt: skip
    elif move.action == "advance":
        assert move.to is not None
        registry.ramp(state.name, move.to, challenger=which, reason=move.reason,
                      evidence=move.evidence, expected_version=version, by=ACTOR)  # fmt: skip
    elif move.action == "promote":
        registry.promote(state.name, reason=move.reason, challenger=which,
                         evidence=move.evidence, expected_version=version, by=ACTOR)  # fmt: skip
        alias = spec.rollout.promote_alias if spec.rollout else None
        if alias:
            try:
                log.info("%s: %s", state.name, move_alias(spec, which, alias))
            except Exception as e:  # the promotion stands; say what failed
                log.error("%s promoted, but its MLflow alias %r was not moved: %s",
                          state.name, alias, _one_line(e))  # fmt: skip
    elif move.action == "complete":
        registry.complete(state.name, reason=move.reason, expected_version=version, by=ACTOR)


_APPLIED = ("stop", "advance", "pause", "rollback", "promote", "complete")


def tick_one(
    registry: Registry, store: EventStore | None, state: ExperimentState, now: datetime, *,
    dry_run: bool = False, units: Callable[[ExperimentState, Experiment, datetime], dict[str, int]]
    | None = None, read_out: ReadOut | None = None,
) -> ExperimentTick:  # fmt: skip
    """Judge and act on one live experiment."""
    spec = state.spec
    history = registry.history(state.name)
    started, _ = _started(history)
    windows, inserted = sync_windows(registry, store, state, spec, started, now, dry_run=dry_run)
    rules = judge_stored(registry, state.name, spec, started, windows)
    _, stage_started = _started(history)
    first, baseline = stage_baseline(registry, state.name, spec, started, stage_started)
    stage = judge_current_stage(spec, windows, first, baseline)
    percent = 100 * state.allocation.get(current_challenger(spec, state.allocation), 0.0)
    if store is None:  # no events: the gates cannot pass, nothing to count or read
        units = units or (lambda *_: {})
    else:
        units = units or stage_units(store)
        read_out = read_out or reading.read_out(registry, store)
    count = partial(units, state, spec, now)
    move = _decide(state, spec, rules, stage, history, now, count, read_out)
    result = ExperimentTick(
        state.name, state.state.value, percent, tuple(rules), tuple(stage), new_windows=inserted
    )
    if move is None or move.action == "wait":
        reason = move.reason if move else ""
        return _replace(result, reason=reason)
    applied = False
    if move.action in _APPLIED and not dry_run:
        try:
            _apply(registry, state, spec, move)
            applied = True
        except StaleVersion:  # another monitor or a person acted first: next tick sees it
            log.info("%s changed since it was read; leaving it to the next tick", state.name)
    return _replace(result, action=move.action, reason=move.reason, applied=applied,
                    evidence=move.evidence)  # fmt: skip


def _replace(t: ExperimentTick, **changes: Any) -> ExperimentTick:
    return replace(t, **changes)


def tick(
    registry: Registry, open_store: Callable[[str], EventStore], names: Sequence[str] = (), *,
    now: datetime | None = None, dry_run: bool = False,
    units: Callable[[ExperimentState, Experiment, datetime], dict[str, int]] | None = None,
    read_out: ReadOut | None = None,
) -> list[ExperimentTick]:  # fmt: skip
    """One pass over every live experiment (or the named ones)."""
    now = now or datetime.now(UTC)
    snapshot = registry.snapshot()
    wanted = set(names)
    out = []
    for state in snapshot.experiments:
        if wanted and state.name not in wanted:
            continue
        if state.state.value not in LIVE:
            continue
        try:
            try:
                opened = open_store(state.name)
            except NoExposures:  # a live experiment that has logged nothing yet
                out.append(tick_one(registry, None, state, now, dry_run=dry_run, units=units,
                                    read_out=read_out))  # fmt: skip
                continue
            with opened as store:
                out.append(tick_one(registry, store, state, now, dry_run=dry_run, units=units,
                                    read_out=read_out))  # fmt: skip
        except (ChampionError, ValueError, OSError) as e:
            out.append(ExperimentTick(state.name, state.state.value, None, error=_one_line(e)))
        except Exception as e:
            log.exception("monitor tick failed for %s", state.name)
            out.append(ExperimentTick(state.name, state.state.value, None, error=_one_line(e)))
    missing = sorted(wanted - {s.name for s in snapshot.experiments})
    out.extend(
        ExperimentTick(name, "unknown", None, error=f"no experiment named {name!r}")
        for name in missing
    )
    return out


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return f"{type(e).__name__}: {text}"[:500]
