"""Open Inference Protocol v2 (KServe, MLServer, Triton, Seldon) request and response types.

The same models serve the HTTP adapter (champion calling an upstream model server) and the
gateway's own ``/v2/models/{name}/infer`` route (clients calling champion). Helpers turn
feature rows into a request and a response's output back into one prediction per row.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from champion.models.base import Prediction, to_prediction

__all__ = [
    "Datatype",
    "InferenceRequest",
    "InferenceResponse",
    "MetadataTensor",
    "ModelMetadata",
    "RequestInput",
    "RequestOutput",
    "ResponseOutput",
    "columns_request",
    "decode_output",
    "flatten",
    "infer_datatype",
    "tensor_request",
]

Datatype = Literal[
    "BOOL",
    "UINT8",
    "UINT16",
    "UINT32",
    "UINT64",
    "INT8",
    "INT16",
    "INT32",
    "INT64",
    "FP16",
    "FP32",
    "FP64",
    "BYTES",
]


class _Message(BaseModel):
    # Servers add fields of their own; keep them rather than fail on them.
    model_config = ConfigDict(extra="allow")


class RequestInput(_Message):
    name: str
    shape: list[int]
    datatype: Datatype
    parameters: dict[str, Any] | None = None
    data: list[Any] = Field(description="row-major, flat or nested")


class RequestOutput(_Message):
    name: str
    parameters: dict[str, Any] | None = None


class InferenceRequest(_Message):
    id: str | None = None
    parameters: dict[str, Any] | None = None
    inputs: list[RequestInput]
    outputs: list[RequestOutput] | None = None


class ResponseOutput(_Message):
    name: str
    shape: list[int]
    datatype: Datatype
    parameters: dict[str, Any] | None = None
    data: list[Any]


class InferenceResponse(_Message):
    model_name: str
    model_version: str | None = None
    id: str | None = None
    parameters: dict[str, Any] | None = None
    outputs: list[ResponseOutput]


class MetadataTensor(_Message):
    name: str
    datatype: Datatype
    shape: list[int]


class ModelMetadata(_Message):
    """``GET /v2/models/{name}``: what the model takes and returns."""

    name: str
    versions: list[str] | None = None
    platform: str = ""
    inputs: list[MetadataTensor] = Field(default_factory=list)
    outputs: list[MetadataTensor] = Field(default_factory=list)


def flatten(data: Sequence[Any]) -> list[Any]:
    """Row-major flat list of possibly nested data (the protocol allows both)."""
    out: list[Any] = []
    stack: list[Any] = [iter(data)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, list | tuple):
                stack.append(iter(item))
                break
            out.append(item)
        else:
            stack.pop()
    return out


def infer_datatype(values: Sequence[Any]) -> Datatype:
    """The narrowest protocol datatype holding every value of one column."""
    if all(isinstance(v, bool) for v in values):
        return "BOOL"
    if all(isinstance(v, int) for v in values):  # bools mixed with ints count as 0/1
        return "INT64"
    if all(isinstance(v, int | float) for v in values):
        return "FP64"
    return "BYTES"


def tensor_request(
    rows: Sequence[Mapping[str, Any]],
    features: Sequence[str],
    *,
    input_name: str = "input",
    datatype: Datatype = "FP32",
    outputs: Sequence[str] | None = None,
    parameters: dict[str, Any] | None = None,
) -> InferenceRequest:
    """One ``[rows, features]`` tensor, columns in the declared order (``KeyError`` if absent).

    >>> tensor_request([{"a": 1, "b": 2}], ["a", "b"]).inputs[0].shape
    [1, 2]
    """
    data = [row[f] for row in rows for f in features]
    tensor = RequestInput(
        name=input_name, shape=[len(rows), len(features)], datatype=datatype, data=data
    )
    return InferenceRequest(
        inputs=[tensor],
        outputs=[RequestOutput(name=o) for o in outputs] if outputs else None,
        parameters=parameters,
    )


def columns_request(
    rows: Sequence[Mapping[str, Any]],
    features: Sequence[str],
    *,
    outputs: Sequence[str] | None = None,
    parameters: dict[str, Any] | None = None,
) -> InferenceRequest:
    """One ``[rows, 1]`` input per feature, each with its own datatype (MLServer's columns)."""
    inputs = []
    for f in features:
        values = [row[f] for row in rows]
        inputs.append(
            RequestInput(name=f, shape=[len(rows), 1], datatype=infer_datatype(values), data=values)
        )
    return InferenceRequest(
        inputs=inputs,
        outputs=[RequestOutput(name=o) for o in outputs] if outputs else None,
        parameters=parameters,
    )


def decode_output(output: ResponseOutput, n_rows: int, *, positive: bool) -> list[Prediction]:
    """One prediction per row of an output tensor.

    A row of one value is that value; a row of exactly two numbers is read as binary class
    probabilities and, when ``positive``, served as the second one; wider rows stay lists.
    Raises ``ValueError`` when the shape and the data or the row count disagree.
    """
    data = flatten(output.data)
    total = math.prod(output.shape) if output.shape else 1
    if total != len(data):
        raise ValueError(f"output {output.name!r} has shape {output.shape} but {len(data)} values")
    if not output.shape or output.shape[0] != n_rows:
        raise ValueError(
            f"output {output.name!r} has shape {output.shape}; expected {n_rows} row(s) first"
        )
    width = total // n_rows if n_rows else 0
    if output.datatype == "BYTES":
        data = [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in data]
    rows = [data[i * width : (i + 1) * width] for i in range(n_rows)]
    inner = output.shape[1:]
    out: list[Prediction] = []
    for row in rows:
        if width == 1:
            out.append(to_prediction(row[0]))
        elif width == 2 and positive and len(inner) == 1:
            out.append(to_prediction(row[1]))
        elif len(inner) <= 1:
            out.append(to_prediction(row))
        else:
            out.append(_nest(row, inner))
    return out


def _nest(flat: list[Any], shape: list[int]) -> list[Any]:
    if len(shape) == 1:
        return list(flat)
    step = len(flat) // shape[0]
    return [_nest(flat[i * step : (i + 1) * step], shape[1:]) for i in range(shape[0])]
