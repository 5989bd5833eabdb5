"""The result of assigning one unit: what it sees, why, and whether the experiment counts it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["REASONS", "Assignment", "Reason"]

Reason = Literal["hash", "override", "targeting", "holdout", "layer", "bandit_holdout"]
REASONS: tuple[str, ...] = ("hash", "override", "targeting", "holdout", "layer", "bandit_holdout")


@dataclass(frozen=True, slots=True)
class Assignment:
    """One unit's variant.

    ``exposed`` is True only for ``reason == "hash"`` (and a bandit's ``"bandit_holdout"``,
    its fixed uniform split): those units are the randomised sample the analysis compares.
    Overrides (QA pins), targeting misses, global-holdout units and units outside the
    experiment's layer range are served but not counted, so the split of exposed units
    matches the configured shares (SRM checks stay valid). ``probability``
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


class _Draft(Assignment):
    """An Assignment under construction: plain slot writes, then re-labelled an Assignment.

    A frozen dataclass fills each field through ``object.__setattr__`` inside an ``__init__``
    called from C, which costs more than hashing the unit. This subclass adds no slots and
    restores the default attribute setting, so the interpreter turns ``draft.field = value``
    into a direct slot store; setting ``__class__`` to Assignment then finishes it (the layout
    is the parent's, so the swap is allowed and cheap). A draft never leaves this module and
    the assigner.
    """

    __slots__ = ()
    __setattr__ = object.__setattr__
    __delattr__ = object.__delattr__


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
    """The Assignment with these fields, for a fraction of the cost of ``Assignment(...)``."""
    draft: Any = _new(_Draft)
    draft.unit_id = unit_id
    draft.variant = variant
    draft.bucket = bucket
    draft.reason = reason
    draft.exposed = exposed
    draft.probability = probability
    draft.hash_version = hash_version
    draft.allocation_version = allocation_version
    draft.__class__ = Assignment
    done: Assignment = draft  # typed for the checker: draft is Any so its fields can be written
    return done


_new = object.__new__
