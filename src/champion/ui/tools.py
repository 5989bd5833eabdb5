"""The planning tools behind the dashboard: the sample-size explorer and the bandit race.

Both call what the CLI calls (``champion plan``: :func:`champion.planner.make_plan`;
``champion simulate``: :func:`champion.stats.race.race`) with the same defaults, so a
page and a command given the same inputs print the same numbers. The race is capped
(requests x runs) so one request cannot hold a worker for minutes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from champion.errors import InvalidArgument
from champion.ui._json import json_object

if TYPE_CHECKING:
    from champion.planner import PlanRequest

__all__ = ["MAX_RACE_WORK", "PlanForm", "RaceForm", "plan_payload", "race_payload"]

#: requests x runs of one race (about 1.5 s of one core at 10,000 x 1,000)
MAX_RACE_WORK = 10_000_000
#: effect sizes of the power curve, as multiples of the MDE
CURVE_MULTIPLES = tuple(i / 8 for i in range(25))


class PlanForm(BaseModel):
    """``champion plan``'s flags, with its defaults."""

    model_config = ConfigDict(extra="forbid")

    baseline: float = Field(description="control's rate (proportion) or mean (with std)")
    mde: float = Field(gt=0, description="minimum detectable effect")
    relative: bool = False
    alpha: float = Field(0.05, gt=0, lt=1)
    power: float = Field(0.8, gt=0, lt=1)
    ratio: float = Field(1.0, gt=0, description="n_treatment / n_control")
    one_sided: bool = False
    std: float | None = Field(None, gt=0)
    looks: int = Field(1, ge=1, le=50)
    challengers: int = Field(1, ge=1, le=50)
    daily_units: float | None = Field(None, gt=0)


class RaceForm(BaseModel):
    """``champion simulate``'s flags, with its defaults (but 200 runs, for a quick answer)."""

    model_config = ConfigDict(extra="forbid")

    rates: list[float] = Field(default=[0.031, 0.038], min_length=2, max_length=10)
    requests: int = Field(10_000, ge=1, le=1_000_000)
    runs: int = Field(200, ge=1, le=10_000)
    policy: Literal["fixed", "thompson", "both"] = "both"
    batch: int = Field(100, ge=1)
    min_share: float = Field(0.0, ge=0, le=0.5)
    seed: int = Field(0, ge=0)

    @field_validator("rates")
    @classmethod
    def _rates(cls, value: list[float]) -> list[float]:
        bad = [r for r in value if not 0 <= r <= 1]
        if bad:
            raise ValueError(f"{bad[0]:g} is not a rate: each lies in [0, 1] (3.1% is 0.031)")
        return value


def _curve(req: PlanRequest, n_control: int) -> list[dict[str, float]]:
    """Power of the fixed-horizon test at ``n_control`` against effects 0 to 3x the MDE."""
    from champion.stats.power import power_mean, power_proportion

    out = []
    for multiple in CURVE_MULTIPLES[1:]:
        effect = req.mde * multiple
        try:
            if req.std is not None:
                power = power_mean(
                    req.std, effect, n_control, relative=req.relative, baseline_mean=req.baseline,
                    alpha=req.alpha, ratio=req.ratio, alternative=req.alternative,
                    n_challengers=req.n_challengers,
                )  # fmt: skip
            else:
                power = power_proportion(
                    req.baseline, effect, n_control, relative=req.relative, alpha=req.alpha,
                    ratio=req.ratio, alternative=req.alternative, n_challengers=req.n_challengers,
                )  # fmt: skip
        except ValueError:
            break  # the effect leaves (0, 1): the curve ends there
        out.append({"multiple": multiple, "effect": effect, "power": power})
    return out


def plan_payload(form: PlanForm) -> dict[str, Any]:
    """``champion plan --json`` for these inputs, and the power curve at the planned size."""
    from champion.planner import PlanRequest, make_plan

    req = PlanRequest(
        baseline=form.baseline, mde=form.mde, relative=form.relative, alpha=form.alpha,
        power=form.power, ratio=form.ratio,
        alternative="larger" if form.one_sided else "two-sided", std=form.std,
        looks=form.looks, n_challengers=form.challengers, daily_units=form.daily_units,
    )  # fmt: skip
    plan = make_plan(req)
    return json_object({**plan.to_dict(), "power_curve": _curve(req, plan.fixed_horizon.n_control)})


def race_payload(form: RaceForm) -> dict[str, Any]:
    """``champion simulate --json`` for these inputs."""
    from champion.stats.race import race

    if form.requests * form.runs > MAX_RACE_WORK:
        raise InvalidArgument("runs", form.runs, f"requests x runs is at most {MAX_RACE_WORK:,} "
                              "here: lower runs or requests, or use champion simulate")
    if form.min_share > 1 / len(form.rates):
        raise InvalidArgument("min_share", form.min_share,
                              f"at most {1 / len(form.rates):.4g} with {len(form.rates)} arms")
    policies = ("fixed", "thompson") if form.policy == "both" else (form.policy,)
    result = race(form.rates, n_requests=form.requests, n_runs=form.runs, policies=policies,
                  batch_size=form.batch, min_share=form.min_share, seed=form.seed)  # fmt: skip
    return json_object(result.to_dict())
