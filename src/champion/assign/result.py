"""The result of assigning one unit: what it sees, why, and whether the experiment counts it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["REASONS", "Assignment", "Reason"]

Reason = Literal["hash", "override", "targeting", "holdout", "layer"]
REASONS: tuple[str, ...] = ("hash", "override", "targeting", "holdout", "layer")


@dataclass(frozen=True, slots=True)
class Assignment:
    """One unit's variant.

    ``exposed`` is True only for ``reason == "hash"``: those units are the randomised
    sample the analysis compares. Overrides (QA pins), targeting misses, global-holdout units
    and units outside the experiment's layer range are served but not counted, so the split
    of exposed units matches the configured shares (SRM checks stay valid). ``probability``
    is the chance this unit had of this variant: the variant's share of the buckets for a
    hashed unit, 1.0 when a rule decided. ``bucket`` is always the unit's bucket under the
    experiment's salt, whatever the reason.
    """

    unit_id: str
    variant: str
    bucket: int
    reason: Reason
    exposed: bool
    probability: float
    hash_version: int
    allocation_version: int | str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready fields; the unit's id is under ``unit``."""
        return {
            "unit": self.unit_id,
            "variant": self.variant,
            "bucket": self.bucket,
            "reason": self.reason,
            "exposed": self.exposed,
            "probability": self.probability,
            "hash_version": self.hash_version,
            "allocation_version": self.allocation_version,
        }


@dataclass(slots=True)
class _Draft:
    """Same slots as Assignment, built without the frozen ``__init__``'s per-field hop.

    A frozen dataclass sets each field through ``object.__setattr__``, which costs more than
    hashing the unit. The assigner fills this twin and re-labels it as an Assignment (the slot
    layouts are identical, so ``__class__`` may change); the result is a true Assignment.
    """

    unit_id: str
    variant: str
    bucket: int
    reason: Reason
    exposed: bool
    probability: float
    hash_version: int
    allocation_version: int | str | None = None


def make_assignment(
    unit_id: str,
    variant: str,
    bucket: int,
    reason: Reason,
    exposed: bool,
    probability: float,
    hash_version: int,
    allocation_version: int | str | None,
) -> Assignment:
    draft: Any = _Draft(
        unit_id, variant, bucket, reason, exposed, probability, hash_version, allocation_version
    )
    draft.__class__ = Assignment
    return draft
