"""Looks that spend alpha: when a read-out may decide, against which boundary, and the ledger.

People read an experiment every day and a monitor reads it every minute; a test at full
alpha on each read-out would ship one A/A experiment in eight. So a read-out decides on the
primary metric only at a *decision point*:

- information is measured, not assumed: ``I = 1 / se²`` of the (stratified) difference, and
  the maximum information ``I_max`` is the planned one, ``1 / (v_c/n_c + v_t/n_t)`` with the
  design's variances and the planner's sample (looks and floor included). It is fixed at
  the first look and kept in the ledger, so a drifting baseline or a ramp changes how fast
  information arrives, never where the end is. ``t = I / I_max``.
- a fixed-horizon design (``looks: 1``) has one decision point, ``t >= 1``, tested at alpha;
- a sequential design has one at each planned fraction ``k / looks``; the boundary is
  Lan-DeMets at the fractions actually observed (the ledger's and this one), so a late or
  skipped look spends what its information is worth; ``t >= 1`` is the final look, which
  always decides (``keep`` when the boundary is not crossed, never ``extend``);
- between decision points the read-out is *interim*: it reports numbers and the next
  decision point, and may stop only for harm, on the always-valid interval (valid at any
  time): the design says when an improvement is read.

Each decision point is a :class:`~champion.registry.records.LookRecord`; the caller stores
it (``champion analyze --registry`` does) and passes the ledger to the next read-out. Once a
look has reached a verdict, later read-outs keep it: a decision is made once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypedDict

from champion.analysis.comparison import Comparison
from champion.planner import make_plan, request_for_design
from champion.registry.records import LookRecord
from champion.spec.design import Design
from champion.stats.sequential import sequential_boundaries, sequential_decision

__all__ = ["Look", "interim_record", "max_information", "plan_look"]

_NAN = float("nan")
_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class Look:
    """Where one challenger's primary comparison stands in its design.

    ``index`` counts the decision points so far (this read-out's included when it is one);
    ``boundary`` is the |z| this read-out is judged against (NaN when interim);
    ``next_fraction`` the information fraction of the next decision point (NaN once
    decided). ``verdict`` is the primary's statistical verdict once a decision point
    reached one (``rollout_*``, ``rollback`` or ``keep``), else None. ``planned`` are the
    planned fractions and ``planned_boundaries`` their boundaries (for plots).
    """

    looks: int
    index: int
    information: float
    max_information: float
    information_fraction: float
    statistic: float
    boundary: float
    alpha: float
    alpha_spent: float
    decision_point: bool
    final: bool
    crossed: bool
    direction: str
    next_fraction: float
    spending: str
    alternative: str
    planned: tuple[float, ...]
    planned_boundaries: tuple[float, ...]
    verdict: str | None = None
    decided_at: datetime | None = None
    record: LookRecord | None = None

    @property
    def sequential(self) -> bool:
        return self.looks > 1

    def describe(self) -> str:
        """How this read-out stands, in words (for reasons and the terminal)."""
        if self.verdict is not None and not self.decision_point:
            when = f" on {self.decided_at:%Y-%m-%d %H:%M}" if self.decided_at else ""
            return f"decided at look {self.index}{when}"
        t = f"information {self.information_fraction:.0%}"
        if self.decision_point:
            kind = "final look" if self.final else f"look {self.index}"
            of = f" of {self.looks}" if self.sequential and not self.final else ""
            return f"{kind}{of} ({t}): |z| = {abs(self.statistic):.2f} against {self.boundary:.2f}"
        return f"interim ({t}): next decision point at information {self.next_fraction:.0%}"


def _design_variances(design: Design) -> tuple[float, float]:
    """Per-unit variances of the control and treatment arms that the design assumes."""
    if design.std is not None:
        return design.std**2, design.std**2
    p0 = design.baseline
    p1 = p0 * (1 + design.mde) if design.relative else p0 + design.mde
    p1 = min(max(p1, 1e-9), 1 - 1e-9)
    return p0 * (1 - p0), p1 * (1 - p1)


def max_information(
    design: Design, *, shares: tuple[float, float] | None, n_challengers: int
) -> float:
    """``1 / Var`` of the difference at the planned sample (looks and floor included).

    >>> from champion.spec.design import Design
    >>> d = Design(baseline=0.15, mde=0.1, relative=True)
    >>> round(max_information(d, shares=(0.5, 0.5), n_challengers=1))
    34885
    """
    plan = make_plan(request_for_design(design, shares=shares, n_challengers=n_challengers))
    v_c, v_t = _design_variances(design)
    return 1.0 / (v_c / plan.n_control + v_t / plan.n_treatment)


class _Boundaries(TypedDict):
    """The design's keyword arguments to the sequential boundaries and decision."""

    alpha: float
    spending: str
    alternative: str


class _LookCommon(TypedDict):
    """The :class:`Look` fields :func:`plan_look` fills the same way on every path."""

    looks: int
    information: float
    max_information: float
    information_fraction: float
    statistic: float
    alpha: float
    spending: str
    alternative: str
    planned: tuple[float, ...]
    planned_boundaries: tuple[float, ...]


def plan_look(
    c: Comparison,
    design: Design,
    ledger: Sequence[LookRecord],
    *,
    experiment: str,
    variant: str,
    at: datetime,
    shares: tuple[float, float] | None,
    n_challengers: int,
) -> Look:
    """This read-out's look for one challenger, given the looks recorded before it.

    The returned look's ``record`` is the ledger row to store when the read-out is a
    decision point (its ``decision`` is filled in by the read-out, which knows the lifts and
    thresholds); None otherwise.
    """
    looks = design.looks
    alpha = design.alpha / max(n_challengers, 1)
    kw: _Boundaries = {
        "alpha": alpha,
        "spending": design.spending,
        "alternative": design.alternative,
    }
    planned = tuple(k / looks for k in range(1, looks + 1))
    planned_bounds = tuple(float(b) for b in sequential_boundaries(planned, **kw))
    mine = sorted((r for r in ledger if r.variant == variant), key=lambda r: r.index)
    i_max = mine[0].max_information if mine else _NAN
    if not mine or not math.isfinite(i_max) or i_max <= 0:
        i_max = max_information(design, shares=shares, n_challengers=n_challengers)
    usable = c.ok and math.isfinite(c.se) and c.se > 0
    info = 1.0 / c.se**2 if usable else 0.0
    t = info / i_max
    z = c.test.statistic if usable else _NAN
    common: _LookCommon = {
        "looks": looks,
        "information": info,
        "max_information": i_max,
        "information_fraction": t,
        "statistic": z,
        "alpha": alpha,
        "spending": design.spending,
        "alternative": design.alternative,
        "planned": planned,
        "planned_boundaries": planned_bounds,
    }
    decided = next((r for r in mine if r.decision != "extend"), None)
    if decided is not None:
        return Look(
            index=decided.index, boundary=decided.boundary, alpha_spent=decided.alpha_spent,
            decision_point=False, final=decided.final, crossed=False, direction="none",
            next_fraction=_NAN, verdict=decided.decision, decided_at=decided.at, **common,
        )  # fmt: skip
    last = mine[-1].information_fraction if mine else 0.0
    spent = mine[-1].alpha_spent if mine else 0.0
    upcoming = [f for f in planned if f > last + _EPS]
    next_fraction = upcoming[0] if upcoming else 1.0
    if not usable or t + _EPS < next_fraction:
        return Look(
            index=len(mine), boundary=_NAN, alpha_spent=spent, decision_point=False,
            final=False, crossed=False, direction="none", next_fraction=next_fraction, **common,
        )  # fmt: skip
    final = t + _EPS >= 1.0
    fractions = [r.information_fraction for r in mine] + [min(t, 1.0)]
    index = len(mine) + 1
    d = sequential_decision(z, index, fractions, **kw)
    record = LookRecord(
        experiment=experiment,
        variant=variant,
        index=index,
        at=at,
        information_fraction=min(t, 1.0),
        statistic=z,
        boundary=abs(d.boundary),
        alpha_spent=d.alpha_spent,
        max_information=i_max,
        decision="extend",
        final=final,
    )
    following = [f for f in planned if f > min(t, 1.0) + _EPS]
    return Look(
        index=index, boundary=abs(d.boundary), alpha_spent=d.alpha_spent, decision_point=True,
        final=final, crossed=d.crossed, direction=d.direction,
        next_fraction=_NAN if final or d.crossed else (following[0] if following else 1.0),
        record=record, **common,
    )  # fmt: skip


def interim_record(look: Look, experiment: str, variant: str, at: datetime) -> LookRecord:
    """The ledger row of a decision taken between decision points on the always-valid
    interval (valid at any time, so it spends nothing of the design's alpha)."""
    return LookRecord(
        experiment=experiment,
        variant=variant,
        index=look.index + 1,
        at=at,
        information_fraction=min(look.information_fraction, 1.0),
        statistic=look.statistic,
        boundary=_NAN,
        alpha_spent=look.alpha_spent,
        max_information=look.max_information,
        decision="extend",
        final=False,
    )
