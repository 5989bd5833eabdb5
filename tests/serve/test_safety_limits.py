"""Limits: bodies, ids, features and YAML aliases are refused with clear 413/422 errors."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.serve._safety import ADMIN, gateway, predict, register
from tests.serve._support import spec_text

ROUTES = [
    "/v1/experiments/checkout/predict",
    "/v2/models/checkout/infer",
    "/v1/experiments/checkout/assign",
    "/v1/outcomes",
    "/v1/experiments",
    "/v1/experiments/checkout/ramp",
    "/v1/experiments/checkout/flagger/rollback",
]


@pytest.fixture
def server(tmp_path):
    db = tmp_path / "reg.db"
    register(db, "checkout")
    limits = {"max_body_bytes": 100_000, "max_spec_bytes": 20_000}
    events = str(tmp_path / "events")
    with gateway(db, events=events, allow_python_modules=["serve_models"], **limits) as running:
        yield running


@pytest.mark.parametrize("route", ROUTES)
def test_a_body_over_the_limit_is_413_on_every_route(server, route):
    body = json.dumps({"unit_id": "u", "features": {"pad": "x" * 200_000}})
    response = httpx.post(f"{server.url}{route}", content=body, headers=ADMIN)
    assert response.status_code == 413, response.text
    error = response.json()["error"]
    assert error["code"] == "body_too_large"
    assert "100,000 bytes; CHAMPION_MAX_BODY_BYTES" in error["message"]


def test_a_chunked_body_over_the_limit_is_413(server):
    def chunks():
        yield b'{"unit_id": "u", "features": {"pad": "'
        for _ in range(50):
            yield b"x" * 10_000
        yield b'"}}'

    response = httpx.post(f"{server.url}/v1/experiments/checkout/predict", content=chunks())
    assert response.status_code == 413
    small = httpx.post(f"{server.url}/v1/experiments/checkout/predict",
                       content=iter([b'{"unit_id": "u", ', b'"features": {"amount": 1}}']),
                       headers={"content-type": "application/json"})  # fmt: skip
    assert small.status_code == 200, small.text


def test_concurrent_50_mb_bodies_are_refused_before_they_are_read(server):
    huge = b"x" * 50_000_000
    url = f"{server.url}/v1/experiments/checkout/predict"

    def post(_: int) -> int | None:
        with httpx.Client(timeout=30) as client:
            try:
                return client.post(url, content=huge).status_code
            except (httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadError):
                return None  # the server answered 413 and closed while this was still sending

    start = time.perf_counter()
    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(post, range(4)))
    assert time.perf_counter() - start < 10
    assert set(statuses) <= {413, None}
    with httpx.Client(base_url=server.url) as client:  # the gateway still serves
        assert predict(client, "checkout").status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"unit_id": "u" * 257, "features": {}}, "body.unit_id"),
        ({"unit_id": "u", "request_id": "r" * 257, "features": {}}, "body.request_id"),
        ({"unit_id": "u", "features": {f"f{i}": 1 for i in range(1_001)}}, "body.features"),
        ({"unit_id": "u", "features": {}, "attributes": {f"a{i}": 1 for i in range(101)}},
         "body.attributes"),
    ],
)  # fmt: skip
def test_ids_features_and_attributes_have_limits(server, body, field):
    response = httpx.post(f"{server.url}/v1/experiments/checkout/predict", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field


def test_ids_at_the_limit_are_served(server):
    with httpx.Client(base_url=server.url) as client:
        response = predict(client, "checkout", unit="u" * 256)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"inputs": [], "parameters": {"unit_id": "u" * 1_000}}, "body.parameters.unit_id"),
        ({"id": "r" * 1_000, "inputs": [], "parameters": {"unit_id": "u"}}, "body.id"),
        ({"inputs": [{"name": f"f{i}", "shape": [1], "datatype": "FP64", "data": [1]}
                     for i in range(1_001)], "parameters": {"unit_id": "u"}}, "body.inputs"),
    ],
)  # fmt: skip
def test_open_inference_protocol_ids_and_inputs_have_limits(server, body, field):
    response = httpx.post(f"{server.url}/v2/models/checkout/infer", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field


def test_outcome_unit_ids_have_a_limit(server):
    body = {"outcomes": [{"unit_id": "u" * 300, "metric": "converted", "value": 1}]}
    response = httpx.post(f"{server.url}/v1/outcomes", json=body)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "body.outcomes.0.unit_id"


_LAUGHS = """\
a: &a ["x","x","x","x","x","x","x","x","x"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
name: laughs
"""


def test_yaml_aliases_are_refused_at_once(server):
    start = time.perf_counter()
    response = httpx.post(f"{server.url}/v1/experiments", content=_LAUGHS,
                          headers={**ADMIN, "content-type": "application/yaml"})  # fmt: skip
    assert time.perf_counter() - start < 1.0
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_spec"
    assert "aliases (*a) are not accepted" in error["message"]
    assert error["field"] == "body"


def test_a_spec_over_the_spec_limit_is_413_and_a_normal_one_registers(server):
    big = spec_text("big") + "".join(f"# {'padding ' * 10}\n" for _ in range(400))
    headers = {**ADMIN, "content-type": "application/yaml"}
    too_big = httpx.post(f"{server.url}/v1/experiments", content=big, headers=headers)
    assert too_big.status_code == 413
    assert too_big.json()["error"]["code"] == "spec_too_large"
    fine = httpx.post(f"{server.url}/v1/experiments", content=spec_text("fine"), headers=headers)
    assert fine.status_code == 201, fine.text
