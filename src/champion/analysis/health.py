"""Health first: can the comparison be trusted before any effect is read?

Sample-ratio mismatch per allocation version (each ramp stage has its own expected shares:
the probabilities logged on the exposures) and overall, by the classic chi-square test and by
the sequential test that stays valid however often the report is run; units exposed to more
than one variant (crossovers, kept in their first arm and counted per arm); how fresh the
data is; units whose outcomes may still arrive.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING

from champion.analysis.aggregates import Health, SrmCount
from champion.stats.always_valid import sequential_srm
from champion.stats.contingency import srm
from champion.stats.results import SRMResult

if TYPE_CHECKING:
    from champion.registry.records import AuditEntry

__all__ = [
    "EXPOSURE_STALE_HOURS",
    "MULTIPLE_EXPOSURE_WARNING",
    "OUTCOME_STALE_HOURS",
    "UNSEEN",
    "HealthReport",
    "SrmReport",
    "SrmStage",
    "check_health",
    "check_srm",
]

MULTIPLE_EXPOSURE_WARNING = 0.001  # warn above 0.1 % of exposed units
EXPOSURE_STALE_HOURS = 24.0  # no exposure for a day: is traffic still flowing?
OUTCOME_STALE_HOURS = 48.0  # no outcome for two days: is the outcome feed late?
UNSEEN = "(unseen)"  # the share of variants that got no unit at an allocation version
_SHARE_TOLERANCE = 1e-6


@dataclass(frozen=True, slots=True)
class SrmStage:
    """One allocation version: units per variant, the shares they were given, the tests."""

    allocation_version: int
    label: str
    observed: dict[str, int]
    expected_shares: dict[str, float]
    test: SRMResult | None
    sequential: SRMResult | None
    mismatch: bool
    note: str = ""

    @property
    def units(self) -> int:
        return sum(self.observed.values())


@dataclass(frozen=True, slots=True)
class SrmReport:
    """Every stage's test and the overall one (expected shares mixed by each stage's units)."""

    overall: SRMResult | None
    sequential: SRMResult | None
    stages: tuple[SrmStage, ...]
    threshold: float
    mismatch: bool
    observed: dict[str, int]
    expected_shares: dict[str, float]

    @property
    def p_value(self) -> float:
        return self.overall.p_value if self.overall is not None else math.nan

    def reason(self) -> str:
        """One sentence naming the worst stage that mismatches, else the overall mismatch."""
        if not self.mismatch:
            return ""
        worst = min(
            (s for s in self.stages if s.mismatch),
            key=lambda s: _min_p(s.test, s.sequential),
            default=None,
        )
        if worst is None:
            split = _split(self.observed)
            want = _split_shares(self.expected_shares)
            p = _min_p(self.overall, self.sequential)
            return (
                f"SRM: observed split {split} against the expected {want} "
                f"(p = {_p(p)} < {self.threshold:g})"
            )
        return (
            f"SRM at {worst.label}: observed split {_split(worst.observed)} against the "
            f"expected {_split_shares(worst.expected_shares)} "
            f"(p = {_p(_min_p(worst.test, worst.sequential))} < {self.threshold:g})"
        )


@dataclass(frozen=True, slots=True)
class HealthReport:
    srm: SrmReport
    exposed_units: int
    analysed_units: int
    multiple_exposure_units: int
    first_exposure: datetime | None
    last_exposure: datetime | None
    last_outcome: datetime | None
    as_of: datetime
    outcomes: dict[str, int]
    units_in_window: int
    warnings: tuple[str, ...]
    crossovers: dict[str, int] = field(default_factory=dict)

    def daily_exposed(self, variant: str) -> float:
        """Units first exposed to ``variant`` per day of exposures (windows open or not)."""
        return self.srm.observed.get(variant, 0) / self.days_elapsed

    @property
    def multiple_exposure_share(self) -> float:
        return self.multiple_exposure_units / self.exposed_units if self.exposed_units else 0.0

    @property
    def units_in_window_share(self) -> float:
        return self.units_in_window / self.analysed_units if self.analysed_units else 0.0

    @property
    def exposure_lag_hours(self) -> float | None:
        return _hours(self.as_of, self.last_exposure)

    @property
    def outcome_lag_hours(self) -> float | None:
        return _hours(self.as_of, self.last_outcome)

    @property
    def days_running(self) -> float:
        """Days from the first exposure to ``as_of``: how long the experiment has run."""
        if self.first_exposure is None:
            return 0.0
        return max((self.as_of - self.first_exposure).total_seconds() / 86400.0, 0.0)

    @property
    def days_elapsed(self) -> float:
        """Days from the first to the last exposure, at least one (rates per day divide by it)."""
        if self.first_exposure is None or self.last_exposure is None:
            return 1.0
        return max((self.last_exposure - self.first_exposure).total_seconds() / 86400.0, 1.0)


def _hours(as_of: datetime, ts: datetime | None) -> float | None:
    return None if ts is None else (as_of - ts).total_seconds() / 3600.0


def _p(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.2g}"


def _min_p(*results: SRMResult | None) -> float:
    ps = [r.p_value for r in results if r is not None and not math.isnan(r.p_value)]
    return min(ps) if ps else math.nan


def _split(observed: dict[str, int]) -> str:
    total = sum(observed.values())
    return "/".join(f"{v}:{n / total:.1%}" for v, n in observed.items()) if total else "-"


def _split_shares(shares: dict[str, float]) -> str:
    return "/".join(f"{v}:{s:.1%}" for v, s in shares.items())


def _flags(result: SRMResult | None, threshold: float) -> bool:
    return result is not None and not math.isnan(result.p_value) and result.p_value < threshold


def _test(
    observed: dict[str, int], shares: dict[str, float]
) -> tuple[SRMResult | None, SRMResult | None, str]:
    """Chi-square and sequential SRM on the variants with a positive share.

    Units in a variant whose share is 0 are a mismatch by themselves (p = 0); with a single
    variant left there is nothing to compare.
    """
    stray = {v: n for v, n in observed.items() if shares.get(v, 0.0) <= 0 and n > 0}
    if stray:
        names = ", ".join(f"{v} ({n:,} units)" for v, n in stray.items())
        zero = SRMResult(math.inf, 0.0, tuple(stray.values()), (0.0,) * len(stray))
        return zero, None, f"units in variants given no share: {names}"
    arms = [v for v, s in shares.items() if s > 0]
    if len(arms) < 2:
        return None, None, "one variant only: nothing to compare"
    counts = [observed.get(v, 0) for v in arms]
    weights = [shares[v] for v in arms]
    total = sum(weights)
    weights = [w / total for w in weights]
    return srm(counts, weights), sequential_srm(counts, weights), ""


def _stage_label(version: int, entries: dict[int, AuditEntry], stages: Sequence[float]) -> str:
    entry = entries.get(version)
    if entry is None:
        return f"allocation version {version}"
    if entry.stage is not None and entry.stage < len(stages):
        return f"version {version} (stage {entry.stage + 1}: {stages[entry.stage]:g}%)"
    return f"version {version} ({entry.action})"


def check_srm(
    counts: Sequence[SrmCount],
    threshold: float,
    *,
    history: Sequence[AuditEntry] = (),
    stages: Sequence[float] = (),
) -> SrmReport:
    """SRM per allocation version and overall, from units per (version, variant) and shares.

    Shares of one version that add up to less than 1 leave the rest to variants that got no
    unit (``UNSEEN``, observed 0); more than 1 are rescaled. Overall, each variant's expected
    share is the unit-weighted mix of its stage shares.
    """
    entries = {e.version: e for e in history}
    by_version: dict[int, list[SrmCount]] = {}
    for c in counts:
        by_version.setdefault(c.allocation_version, []).append(c)
    stage_reports = []
    expected: dict[str, float] = {}
    observed_all: dict[str, int] = {}
    for version in sorted(by_version):
        rows = by_version[version]
        observed = {r.variant: int(r.units) for r in rows}
        shares = {r.variant: float(r.share) for r in rows}
        total_share = sum(shares.values())
        note = ""
        if total_share < 1 - _SHARE_TOLERANCE:
            shares[UNSEEN] = 1.0 - total_share
            observed[UNSEEN] = 0
        elif total_share > 1 + _SHARE_TOLERANCE:
            note = f"logged shares add up to {total_share:.4g}, rescaled to 1"
            shares = {v: s / total_share for v, s in shares.items()}
        test, seq, why = _test(observed, shares)
        units = sum(observed.values())
        for v, s in shares.items():
            expected[v] = expected.get(v, 0.0) + units * s
            observed_all[v] = observed_all.get(v, 0) + observed.get(v, 0)
        stage_reports.append(
            SrmStage(
                allocation_version=version,
                label=_stage_label(version, entries, stages),
                observed=observed,
                expected_shares=shares,
                test=test,
                sequential=seq,
                mismatch=_flags(test, threshold) or _flags(seq, threshold),
                note="; ".join(x for x in (note, why) if x),
            )
        )
    total = sum(observed_all.values())
    mixed = {v: e / total for v, e in expected.items()} if total else {}
    overall = sequential = None
    if total:
        overall, sequential, _ = _test(observed_all, mixed)
    mismatch = any(s.mismatch for s in stage_reports) or _flags(overall, threshold)
    mismatch = mismatch or _flags(sequential, threshold)
    return SrmReport(
        overall, sequential, tuple(stage_reports), threshold, mismatch, observed_all, mixed
    )


def check_health(
    health: Health,
    *,
    srm_threshold: float,
    primary_window_days: float,
    history: Sequence[AuditEntry] = (),
    stages: Sequence[float] = (),
) -> HealthReport:
    """SRM, multiple exposure, freshness and outcomes still to come, with warnings in words."""
    srm_report = check_srm(health.srm, srm_threshold, history=history, stages=stages)
    warnings = []
    if health.exposed_units == 0:
        warnings.append("no exposures: nothing to analyse yet (is the experiment running?)")
    if srm_report.mismatch:
        warnings.append(srm_report.reason() + "; results are untrustworthy: fix the assignment")
    report = HealthReport(
        srm=srm_report,
        exposed_units=health.exposed_units,
        analysed_units=health.analysed_units,
        multiple_exposure_units=health.multiple_exposure_units,
        first_exposure=health.first_exposure,
        last_exposure=health.last_exposure,
        last_outcome=health.last_outcome,
        as_of=health.as_of,
        outcomes=dict(health.outcomes),
        units_in_window=health.units_in_window,
        warnings=(),
        crossovers=dict(health.crossovers),
    )
    share = report.multiple_exposure_share
    if share > MULTIPLE_EXPOSURE_WARNING:
        per_arm = ", ".join(f"{v} {n:,}" for v, n in health.crossovers.items())
        warnings.append(
            f"{health.multiple_exposure_units:,} units ({share:.2%}) saw more than one variant "
            f"(above {MULTIPLE_EXPOSURE_WARNING:.1%}; by first arm: {per_arm or 'n/a'}): they "
            "count in the arm of their first exposure (intent to treat), which dilutes the "
            "effect; a ramp moves them one way, anything else: check assignment stickiness"
        )
    lag = report.exposure_lag_hours
    if lag is not None and lag > EXPOSURE_STALE_HOURS:
        warnings.append(f"the last exposure is {lag:.0f} h old: is traffic still flowing?")
    lag = report.outcome_lag_hours
    if health.exposed_units and health.last_outcome is None:
        warnings.append("no outcome has arrived yet: load outcomes (champion outcomes load)")
    elif lag is not None and lag > OUTCOME_STALE_HOURS:
        warnings.append(f"the last outcome is {lag:.0f} h old: is the outcome feed late?")
    if health.units_in_window:
        warnings.append(
            f"{health.units_in_window:,} units ({report.units_in_window_share:.1%}) are still "
            f"inside the primary metric's {primary_window_days:g}-day window: "
            "their outcomes may still arrive"
        )
    return replace(report, warnings=tuple(warnings))
