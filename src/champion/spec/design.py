"""The ``design`` block of a spec (what the planner needs) and a loader that reads just that.

The full experiment spec builds on this model; ``champion plan --spec`` needs only the design,
the allocation and the variant names, so it reads those and leaves the rest to ``validate``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from champion.errors import SpecError

__all__ = ["Design", "PlanInputs", "load_plan_inputs"]


class Design(BaseModel):
    """Statistical design of an experiment's primary metric."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    alpha: float = Field(0.05, gt=0, lt=1, description="false-positive rate per comparison")
    power: float = Field(0.8, gt=0, lt=1, description="chance to detect an effect of size mde")
    mde: float = Field(..., description="minimum detectable effect (absolute or relative)")
    relative: bool = Field(False, description="mde is a share of the baseline")
    baseline: float = Field(..., description="control rate (proportion) or mean")
    std: float | None = Field(None, gt=0, description="standard deviation, for mean metrics")
    alternative: Literal["two-sided", "larger", "smaller"] = "two-sided"
    looks: int = Field(1, ge=1, le=50, description="planned analyses, including the final one")
    spending: Literal["obrien-fleming", "pocock"] = "obrien-fleming"
    min_sample_size: int = Field(0, ge=0, description="floor on units per arm")
    max_duration_days: float | None = Field(None, gt=0)
    daily_units: float | None = Field(None, gt=0, description="eligible units per day")

    @model_validator(mode="after")
    def _effect_is_meaningful(self) -> Design:
        if self.mde == 0:
            raise ValueError("mde must be non-zero: the smallest effect worth detecting")
        if self.std is None and not 0 < self.baseline < 1:
            raise ValueError(
                "baseline must lie in (0, 1) for a proportion metric; set std for a mean metric"
            )
        return self


@dataclass(frozen=True, slots=True)
class PlanInputs:
    """What the planner reads from a spec: the design and the traffic split."""

    design: Design
    champion: str | None
    challengers: tuple[str, ...]
    allocation: dict[str, float]

    @property
    def shares(self) -> tuple[float, float] | None:
        """(champion share, smallest challenger share): the slowest arm sets the duration."""
        if not self.allocation or self.champion not in self.allocation:
            return None
        share = min(self.allocation.get(c, 0.0) for c in self.challengers or ("",))
        return (self.allocation[self.champion], share) if share > 0 else None

    @property
    def ratio(self) -> float:
        """n_treatment / n_control implied by the shares (1 without an allocation)."""
        shares = self.shares
        return shares[1] / shares[0] if shares and shares[0] > 0 else 1.0


def _read_mapping(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(str(path), ["file not found: check the path"]) from None
    except OSError as e:
        raise SpecError(str(path), [f"cannot read the file: {e.strerror}"]) from e
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise SpecError(str(path), [f"{where}not valid YAML ({getattr(e, 'problem', e)})"]) from e
    if not isinstance(data, dict):
        raise SpecError(str(path), ["the top level must be a mapping of fields (name: ...)"])
    return data


def _field(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "design"


def load_plan_inputs(path: str | Path) -> PlanInputs:
    """Read ``design``, ``allocation``, ``champion`` and ``challengers`` from a spec file."""
    path = Path(path)
    data = _read_mapping(path)
    problems: list[str] = []
    if "design" not in data:
        raise SpecError(str(path), ["design: missing; add a design block (alpha, power, mde ...)"])
    try:
        design = Design.model_validate(data["design"])
    except ValidationError as e:
        problems.extend(f"design.{_field(err['loc'])}: {err['msg']}" for err in e.errors())
        design = None
    allocation = data.get("allocation") or {}
    if not isinstance(allocation, dict) or not all(
        isinstance(v, int | float) for v in allocation.values()
    ):
        problems.append("allocation: must map variant names to shares, e.g. {v1: 0.95, v2: 0.05}")
        allocation = {}
    challengers = data.get("challengers") or []
    if isinstance(challengers, str):
        challengers = [challengers]
    if problems or design is None:
        raise SpecError(str(path), problems)
    return PlanInputs(
        design=design,
        champion=data.get("champion"),
        challengers=tuple(challengers),
        allocation={str(k): float(v) for k, v in allocation.items()},
    )
