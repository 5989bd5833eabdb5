"""Allocations the registry serves in each state, the ramp arithmetic and the stage index.

Shares are fractions that sum to 1, keyed by variant (champion first, as in the spec).
A ramp sets one challenger's share; the other challengers keep theirs and the champion
takes what is left, so several challengers ramp one at a time.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from champion.errors import InvalidArgument
from champion.spec import Experiment

__all__ = [
    "AllocationCheck",
    "champion_only",
    "check_shares",
    "layout_check",
    "no_layout_check",
    "ramped",
    "spec_allocation",
    "stage_for",
]

# Called as check(spec, old, new) before a new allocation is written; raises to refuse it.
AllocationCheck = Callable[[Experiment, Mapping[str, float], Mapping[str, float]], None]

_DIGITS = 12  # shares are stored rounded, so 1 - 0.1 - 0.05 is stored as 0.85


def champion_only(spec: Experiment) -> dict[str, float]:
    """Everything to the champion: what is served before a start and after a stop."""
    return {v: 1.0 if v == spec.champion else 0.0 for v in spec.variants}


def spec_allocation(spec: Experiment) -> dict[str, float]:
    """The spec's planned shares, keyed in variant order."""
    return {v: float(spec.allocation.get(v, 0.0)) for v in spec.variants}


def stage_for(spec: Experiment, share: float) -> int | None:
    """Index of the rollout stage (percent) equal to ``share``; None off the plan."""
    if spec.rollout is None:
        return None
    for i, stage in enumerate(spec.rollout.stages):
        if math.isclose(stage, share * 100, abs_tol=1e-9):
            return i
    return None


def check_shares(allocation: Mapping[str, float]) -> None:
    """Every share in [0, 1] and their sum 1 (to 1e-9)."""
    bad = {k: v for k, v in allocation.items() if not 0 <= v <= 1}
    if bad:
        raise InvalidArgument("allocation", dict(allocation), f"shares {bad} are outside [0, 1]")
    total = math.fsum(allocation.values())
    if not math.isclose(total, 1.0, abs_tol=1e-9):
        raise InvalidArgument("allocation", dict(allocation), f"shares sum to {total:.12g}, not 1")


def ramped(
    spec: Experiment, current: Mapping[str, float], to: float, challenger: str | None = None
) -> tuple[dict[str, float], str]:
    """The allocation after giving ``challenger`` (default: the first) ``to`` percent.

    Returns the new shares and the challenger's name. Raises InvalidArgument for a
    percentage outside [0, 100], an unknown challenger, or a share the other challengers
    leave no room for.
    """
    if isinstance(to, bool) or not isinstance(to, int | float) or not math.isfinite(to):
        raise InvalidArgument("to", to, "a percentage between 0 and 100 (25 means 25%)")
    if not 0 <= to <= 100:
        raise InvalidArgument("to", to, "a percentage between 0 and 100 (25 means 25%)")
    name = spec.challengers[0] if challenger is None else challenger
    if name not in spec.challengers:
        raise InvalidArgument(
            "challenger", name, f"must be one of this experiment's challengers {spec.challengers}"
        )
    others = math.fsum(current.get(c, 0.0) for c in spec.challengers if c != name)
    share = to / 100
    if share + others > 1 + 1e-9:
        room = max(0.0, (1 - others) * 100)
        raise InvalidArgument(
            "to",
            to,
            f"the other challengers hold {others * 100:g}%, so {name} can get at most "
            f"{room:g}%: ramp them down first",
        )
    allocation = {v: float(current.get(v, 0.0)) for v in spec.variants}
    allocation[name] = round(share, _DIGITS)
    allocation[spec.champion] = max(0.0, round(1 - share - others, _DIGITS))
    check_shares(allocation)
    return allocation, name


def layout_check(spec: Experiment, old: Mapping[str, float], new: Mapping[str, float]) -> None:
    """Refuse an allocation that champion.assign's bucket layout cannot represent.

    In that layout each challenger's buckets depend on its own share alone, so any allocation
    it can build is reached from ``old`` without moving units between challengers; the
    allocations it cannot build (an overflow into another challenger's occupied sector) raise
    InvalidArgument saying which share to lower first.
    """
    del old  # the layout is a function of the new shares alone
    # Imported here: champion.assign loads pyarrow, which read-only commands never need.
    from champion.assign.layout import build_layout

    build_layout(spec.champion, spec.challengers, new)


def no_layout_check(spec: Experiment, old: Mapping[str, float], new: Mapping[str, float]) -> None:
    """A hook that accepts every allocation whose shares are valid (for other assigners)."""
    del spec, old, new
