"""Open Inference Protocol v2 types: the protocol's own examples parse; rows round-trip."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from champion.models.oip import (
    InferenceRequest,
    InferenceResponse,
    ResponseOutput,
    columns_request,
    decode_output,
    flatten,
    infer_datatype,
    tensor_request,
)

# The request and response examples of the protocol's HTTP/REST section (KServe
# "Open Inference Protocol (V2 Inference Protocol)", Inference Request/Response Examples).
SPEC_REQUEST = {
    "id": "42",
    "inputs": [
        {"name": "input0", "shape": [2, 2], "datatype": "UINT32", "data": [1, 2, 3, 4]},
        {"name": "input1", "shape": [3], "datatype": "BOOL", "data": [True]},
    ],
    "outputs": [{"name": "output0"}],
}
SPEC_RESPONSE = {
    "id": "42",
    "model_name": "mymodel",
    "outputs": [
        {
            "name": "output0",
            "shape": [3, 2],
            "datatype": "FP32",
            "data": [1.0, 1.1, 2.0, 2.1, 3.0, 3.1],
        }
    ],
}


def test_the_protocol_examples_parse_and_dump_back_unchanged() -> None:
    request = InferenceRequest.model_validate(SPEC_REQUEST)
    response = InferenceResponse.model_validate(SPEC_RESPONSE)
    assert request.model_dump(exclude_none=True) == SPEC_REQUEST
    assert response.model_dump(exclude_none=True) == SPEC_RESPONSE


def test_an_unknown_datatype_is_refused() -> None:
    bad = {"inputs": [{"name": "x", "shape": [1], "datatype": "FLOAT", "data": [1.0]}]}
    with pytest.raises(ValidationError, match=r"inputs.0.datatype"):
        InferenceRequest.model_validate(bad)


def test_decode_output_splits_rows_by_the_shape() -> None:
    output = ResponseOutput.model_validate(SPEC_RESPONSE["outputs"][0])
    assert decode_output(output, 3, positive=False) == [[1.0, 1.1], [2.0, 2.1], [3.0, 3.1]]
    assert decode_output(output, 3, positive=True) == [1.1, 2.1, 3.1]


def test_decode_output_accepts_nested_data_and_unwraps_single_values() -> None:
    nested = ResponseOutput(name="s", shape=[2, 1], datatype="FP64", data=[[0.25], [0.75]])
    assert decode_output(nested, 2, positive=True) == [0.25, 0.75]


def test_decode_output_keeps_higher_rank_rows_nested() -> None:
    cube = ResponseOutput(name="c", shape=[1, 2, 2], datatype="INT64", data=[1, 2, 3, 4])
    assert decode_output(cube, 1, positive=True) == [[[1, 2], [3, 4]]]


def test_decode_output_refuses_a_row_count_other_than_the_request() -> None:
    output = ResponseOutput(name="s", shape=[2], datatype="FP64", data=[0.1, 0.2])
    with pytest.raises(ValueError, match=r"output 's' has shape \[2\]; expected 3 row\(s\) first"):
        decode_output(output, 3, positive=True)


def test_flatten_is_row_major() -> None:
    assert flatten([[1, [2, 3]], [], [4], 5]) == [1, 2, 3, 4, 5]


def test_tensor_request_orders_columns_as_declared() -> None:
    rows = [{"b": 2.0, "a": 1.0}, {"a": 3.0, "b": 4.0}]
    tensor = tensor_request(rows, ["a", "b"], input_name="x", datatype="FP64").inputs[0]
    assert (tensor.name, tensor.shape, tensor.datatype, tensor.data) == (
        "x",
        [2, 2],
        "FP64",
        [1.0, 2.0, 3.0, 4.0],
    )


def test_columns_request_gives_each_feature_its_datatype() -> None:
    rows = [{"amount": 10, "ratio": 0.5, "new": True, "country": "FR"}]
    inputs = columns_request(rows, ["amount", "ratio", "new", "country"]).inputs
    assert [(i.name, i.shape, i.datatype) for i in inputs] == [
        ("amount", [1, 1], "INT64"),
        ("ratio", [1, 1], "FP64"),
        ("new", [1, 1], "BOOL"),
        ("country", [1, 1], "BYTES"),
    ]


def test_infer_datatype_widens_to_the_narrowest_type_holding_all() -> None:
    assert infer_datatype([1, 2.5]) == "FP64"
    assert infer_datatype([True, 1]) == "INT64"
    assert infer_datatype([1, "a"]) == "BYTES"
