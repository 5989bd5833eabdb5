"""The experiment spec as pydantic models: what a data scientist writes and reviews.

Field-level rules live here; rules that span fields (allocation sums to 1, names declared)
live in :mod:`champion.spec.checks` so every problem is reported at once.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from champion.spec.design import Design

__all__ = [
    "BUILTIN_GUARDRAIL_METRICS",
    "MONITOR_GUARDRAIL_METRICS",
    "Bandit",
    "Condition",
    "DecisionRules",
    "Experiment",
    "Guardrail",
    "Holdout",
    "Layer",
    "Metric",
    "Metrics",
    "ModelRef",
    "Monitor",
    "Rollout",
    "Shadow",
]

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"

# Measured from the exposure events themselves, so a guardrail may name them undeclared.
BUILTIN_GUARDRAIL_METRICS = frozenset(
    {"latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "latency_mean_ms", "error_rate"}
)
# Judged only by ``champion monitor`` on serving windows (the read-out has no outcome for it).
MONITOR_GUARDRAIL_METRICS = frozenset({"prediction_psi"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelRef(_Strict):
    """How to load a model; ``target`` means ``module:function`` for kind ``python``."""

    kind: Literal["python", "sklearn", "onnx", "mlflow", "http"]
    target: str = Field(min_length=1)
    options: dict[str, Any] = Field(default_factory=dict)


class Shadow(_Strict):
    """A model that sees a sample of requests whose answers go nowhere."""

    model: str
    sample: float = Field(1.0, gt=0, le=1, description="share of requests mirrored")
    timeout_ms: float = Field(200, gt=0, description="a slower shadow call is cut")


class Metric(_Strict):
    name: str = Field(pattern=NAME_PATTERN)
    kind: Literal["proportion", "mean", "ratio", "quantile"] = "proportion"
    direction: Literal["higher", "lower"] = "higher"
    window_days: float = Field(7, gt=0, description="attribution window after first exposure")
    covariate: str | None = Field(None, description="pre-period metric for CUPED")
    lookback_days: float | None = Field(
        None, gt=0, description="covariate period before first exposure (default window_days)"
    )
    numerator: str | None = Field(None, description="ratio metrics: outcome summed on top")
    denominator: str | None = Field(None, description="ratio metrics: outcome summed below")
    quantile: float | None = Field(None, gt=0, lt=1, description="quantile metrics: e.g. 0.95")
    sql: str | None = Field(None, description="warehouse-native definition over your tables")


class Guardrail(_Strict):
    """A line the challenger must not cross: absolute bounds, a ratio to the champion's
    value (serving metrics) and/or non-inferiority."""

    name: str = Field(pattern=NAME_PATTERN)
    min: float | None = None
    max: float | None = None
    non_inferiority_margin: float | None = Field(None, ge=0)
    max_ratio: float | None = Field(
        None, gt=0, description="serving metrics: at most this times the champion's value"
    )
    stop_after: int | None = Field(
        None, ge=1, le=100, description="consecutive violating windows that stop the experiment"
    )


class Metrics(_Strict):
    primary: Metric
    secondary: list[Metric] = Field(default_factory=list)
    guardrails: list[Guardrail] = Field(default_factory=list)

    def all(self) -> list[Metric]:
        return [self.primary, *self.secondary]


class DecisionRules(_Strict):
    """How a read-out becomes a decision; defaults follow common practice (docs/analysis.md)."""

    full_rollout_lift: float = Field(0.20, gt=0, description="relative lift for a full rollout")
    gradual_rollout_lift: float = Field(0.05, ge=0, description="relative lift for a gradual one")
    srm_threshold: float = Field(0.001, gt=0, lt=1, description="p-value below which SRM fails")
    correction: Literal["holm", "bh", "bonferroni"] = Field(
        "holm", description="multiple-testing correction for secondary metrics and segments"
    )


def _default_stages() -> list[float]:
    return [10, 25, 50, 100]


class Rollout(_Strict):
    stages: list[float] = Field(default_factory=_default_stages)
    min_stage_hours: float = Field(24, ge=0)
    min_stage_sample: int = Field(0, ge=0, description="units per arm before advancing")
    on_fail: Literal["rollback", "pause"] = Field(
        "rollback", description="what the monitor does when a stage gate fails"
    )
    on_inconclusive: Literal["pause", "extend"] = Field(
        "pause", description="a gate that cannot pass yet: pause the rollout, or keep waiting"
    )
    apply: Literal["auto", "propose"] = Field(
        "propose", description="at the last stage: apply the read-out's decision, or only say it"
    )
    promote_alias: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_\-]{1,64}$",
        description="MLflow alias moved to the winner's version on promotion, e.g. champion",
    )


class Monitor(_Strict):
    """How ``champion monitor`` judges guardrails on serving data (docs/rollout.md)."""

    window_minutes: float = Field(5, gt=0, le=1440, description="length of a guardrail window")
    min_window_requests: int = Field(
        100, ge=1, description="challenger requests below which a window is no_data"
    )
    stop_after: int = Field(
        3, ge=1, le=100, description="consecutive violating windows that stop (per guardrail)"
    )
    alpha: float = Field(
        0.01, gt=0, lt=0.5, description="false-stop rate of all guardrails of an experiment"
    )
    settle_seconds: float = Field(
        2.5, ge=0, le=600, description="a window is judged this long after it ends (late events)"
    )
    horizon_days: float = Field(
        14,
        gt=0,
        le=3650,
        description=(
            "how long the change scan spends most of its alpha over (it stays valid after: "
            "its thresholds rise slowly)"
        ),
    )


class Condition(_Strict):
    """One targeting rule on a request attribute; all rules must hold."""

    attribute: str = Field(min_length=1)
    op: Literal["eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "exists"] = "eq"
    value: Any = None


class Holdout(_Strict):
    """A share of all units kept on the champion across every experiment with this salt."""

    share: float = Field(gt=0, lt=1)
    salt: str = "champion-global-holdout"


class Layer(_Strict):
    """Mutually exclusive experiments share a layer and own disjoint ranges of it."""

    name: str = Field(pattern=NAME_PATTERN)
    start: float = Field(0.0, ge=0, le=1)
    end: float = Field(1.0, ge=0, le=1)


_DURATION = r"^\s*\d+(\.\d+)?\s*(s|m|h|d)\s*$"
_SECONDS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


class Bandit(_Strict):
    """Serve the experiment as a Thompson-sampling bandit (docs/bandits.md).

    The policy's weights are recomputed every ``update_every`` from the ``reward`` logged so
    far and published as a new allocation version; a ``holdout`` share of units gets a fixed
    uniform split that never trains the policy, so the bandit can be compared with it.
    """

    reward: str = Field(
        description="a proportion or mean metric of the spec: what the bandit maximises"
    )
    update_every: str = Field(
        "10m",
        pattern=_DURATION,
        description="how often the weights are recomputed: 30s, 10m, 1h, 1d",
    )
    min_share: float = Field(0.05, ge=0, lt=1, description="the floor of every arm's weight")
    holdout: float = Field(
        0.1, ge=0, le=0.5, description="share of units served a fixed uniform split (0: none)"
    )

    @property
    def update_seconds(self) -> float:
        text = self.update_every.strip()
        return float(text[:-1].strip()) * _SECONDS[text[-1]]


class Experiment(_Strict):
    """A champion/challenger experiment."""

    name: str = Field(pattern=NAME_PATTERN, max_length=128)
    description: str = ""
    owner: str = ""
    unit: Literal["user", "session", "request"] = "user"
    salt: str | None = Field(None, min_length=1)
    models: dict[str, ModelRef]
    champion: str
    challengers: list[str] = Field(min_length=1)
    allocation: dict[str, float]
    shadow: list[Shadow] = Field(default_factory=list)
    metrics: Metrics
    design: Design | None = None
    rollout: Rollout | None = None
    segments: list[str] = Field(default_factory=list)
    targeting: list[Condition] = Field(default_factory=list)
    overrides: dict[str, str] = Field(default_factory=dict)
    holdout: Holdout | None = None
    layer: Layer | None = None
    decision: DecisionRules | None = None
    monitor: Monitor | None = None
    bandit: Bandit | None = None

    @field_validator("allocation")
    @classmethod
    def _shares_in_unit_interval(cls, value: dict[str, float]) -> dict[str, float]:
        bad = {k: v for k, v in value.items() if not 0 <= v <= 1}
        if bad:
            raise ValueError(f"shares must lie in [0, 1]; got {bad}")
        return value

    @field_validator("overrides", mode="before")
    @classmethod
    def _ids_as_text(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): v for k, v in value.items()}
        return value

    @property
    def effective_salt(self) -> str:
        return self.salt or self.name

    @property
    def variants(self) -> list[str]:
        return [self.champion, *self.challengers]
