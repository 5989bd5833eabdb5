"""Request and response bodies of the gateway, with the examples the OpenAPI schema shows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
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


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PredictRequest(_Body):
    unit_id: str | None = Field(
        None, min_length=1, description="user, session or request id (per the spec's unit)"
    )
    features: dict[str, Any] = Field(description="what the model reads")
    attributes: dict[str, Any] = Field(
        default_factory=dict, description="targeting and segment attributes (country, device)"
    )
    request_id: str | None = Field(None, description="your id for this request; made up if absent")

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
    unit_id: str = Field(min_length=1)
    attributes: dict[str, Any] = Field(default_factory=dict)

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
    unit_id: str = Field(min_length=1)
    metric: str = Field(min_length=1)
    value: float
    ts: datetime | None = Field(None, description="when it happened (UTC); now if absent")


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


class StartRequest(_Body):
    shadow: bool = Field(False, description="start in shadow mode (challengers see traffic only)")
    reason: str = ""
    expected_version: int | None = None


class RampRequest(_Body):
    to: float = Field(ge=0, le=100, description="challenger's share in percent")
    challenger: str | None = None
    reason: str = ""
    expected_version: int | None = None

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"to": 25}]})


class StopRequest(_Body):
    reason: str = Field(min_length=1, description="why: kept in the audit log")
    expected_version: int | None = None
