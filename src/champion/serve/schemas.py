"""Request and response bodies of the gateway, with the examples the OpenAPI schema shows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "MAX_ATTRIBUTES",
    "MAX_FEATURES",
    "MAX_ID_LENGTH",
    "ArchiveRequest",
    "AssignRequest",
    "AssignResponse",
    "OutcomeIn",
    "OutcomesRequest",
    "OutcomesResponse",
    "PredictRequest",
    "PredictResponse",
    "RampRequest",
    "StartRequest",
    "StopRequest",
]


# Limits on what one request may carry (the body as a whole: settings.max_body_bytes).
MAX_ID_LENGTH = 256  # unit_id, request_id, an outcome's unit_id
MAX_FEATURES = 1_000  # features of one request (OIP: inputs)
MAX_ATTRIBUTES = 100  # segment and targeting attributes of one request
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$"  # metric names, as specs spell them

UnitId = Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH)]
Features = Annotated[
    dict[str, Any], Field(max_length=MAX_FEATURES, description="what the model reads")
]
Attributes = Annotated[
    dict[str, Any],
    Field(
        max_length=MAX_ATTRIBUTES, description="targeting and segment attributes (country, device)"
    ),
]
Reason = Annotated[str, Field(max_length=10_000, description="why: kept in the audit log")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PredictRequest(_Body):
    unit_id: UnitId | None = Field(
        None, description="user, session or request id (per the spec's unit)"
    )
    features: Features
    attributes: Attributes = Field(default_factory=dict)
    request_id: UnitId | None = Field(
        None, description="your id for this request; made up if absent"
    )

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "unit_id": "user-42",
                    "features": {"amount": 120.0, "new_device": 1, "foreign": 0},
                    "attributes": {"country": "US", "device": "ios"},
                }
            ]
        },
    )


class PredictResponse(BaseModel):
    prediction: Any
    variant: str
    model: str
    request_id: str

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"prediction": 0.42, "variant": "v2_0", "model": "v2_0", "request_id": "9f1c..."}
            ]
        }
    )


class AssignRequest(_Body):
    unit_id: UnitId
    attributes: Attributes = Field(default_factory=dict)

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"unit_id": "user-42", "attributes": {"country": "US"}}]},
    )


class AssignResponse(BaseModel):
    unit: str
    variant: str
    bucket: int | None
    reason: str
    exposed: bool
    probability: float
    model: str


class OutcomeIn(_Body):
    unit_id: UnitId
    metric: str = Field(pattern=NAME_PATTERN, description="a metric name from the spec")
    value: float = Field(allow_inf_nan=False)
    ts: datetime | None = Field(
        None, description="when it happened; without an offset it is UTC; now if absent"
    )

    @field_validator("ts")
    @classmethod
    def _utc(cls, ts: datetime | None) -> datetime | None:
        if ts is None:
            return None
        if ts.tzinfo is None or ts.utcoffset() is None:
            return ts.replace(tzinfo=UTC)
        try:
            return ts.astimezone(UTC)
        except OverflowError:
            raise ValueError("is out of range once converted to UTC (years 1 to 9999)") from None


class OutcomesRequest(_Body):
    outcomes: list[OutcomeIn] = Field(min_length=1, max_length=100_000)

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"outcomes": [{"unit_id": "user-42", "metric": "fraud_caught", "value": 1}]}
            ]
        },
    )


class OutcomesResponse(BaseModel):
    accepted: int
    warnings: list[str] = Field(
        default_factory=list,
        description="metric names no experiment this gateway serves reads (stored anyway)",
    )


Version = Annotated[int, Field(ge=1, le=2**31 - 1, description="the version you read")]


class StartRequest(_Body):
    shadow: bool = Field(False, description="start in shadow mode (challengers see traffic only)")
    reason: Reason = ""
    expected_version: Version | None = None


class RampRequest(_Body):
    to: float = Field(ge=0, le=100, description="challenger's share in percent")
    challenger: str | None = Field(None, max_length=128)
    reason: Reason = ""
    expected_version: Version | None = None

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"to": 25}]})


class StopRequest(_Body):
    reason: Reason = Field(min_length=1, pattern=r"\S")
    expected_version: Version | None = None


class ArchiveRequest(_Body):
    """Archive an experiment in any state, a broken one included: no gateway serves it."""

    reason: Reason = Field(min_length=1, pattern=r"\S")
    expected_version: Version | None = None
