"""The HTTP gateway on a real uvicorn server on 127.0.0.1, called with httpx."""

from __future__ import annotations

import json
import statistics
import time

import duckdb
import httpx
import pytest
from typer.testing import CliRunner

from champion.cli import app as cli
from champion.events import open_writer
from champion.registry import Registry
from champion.serve import RegistrySource, Router, SpecSource
from champion.serve.app import create_app
from champion.serve.settings import GatewaySettings
from champion.spec import load_spec

ADMIN = {"Authorization": "Bearer admin-secret"}


def _settings(**kw: object) -> GatewaySettings:
    return GatewaySettings(admin_token="admin-secret", **kw)  # type: ignore[arg-type]


@pytest.fixture
def gateway(write_spec, models_dir, serve_app, tmp_path):
    spec_path = write_spec(shadow="{model: broken, sample: 1.0}")
    events = open_writer(tmp_path / "events")
    router = Router(SpecSource([load_spec(spec_path)]), events=events, models_dir=models_dir)
    server = serve_app(create_app(_settings(), router=router, events=events))
    yield server, spec_path, router, tmp_path / "events"
    router.close()
    events.close()


def test_predict_answers_and_routing_matches_champion_assign(gateway, tmp_path):
    server, spec_path, _, _ = gateway
    ids = [f"user-{i}" for i in range(300)]
    with httpx.Client(base_url=server.url) as client:
        served = {
            u: client.post("/v1/experiments/checkout/predict",
                           json={"unit_id": u, "features": {"amount": 5.0}}).json()
            for u in ids
        }  # fmt: skip
    units = tmp_path / "ids.txt"
    units.write_text("\n".join(ids))
    result = CliRunner().invoke(cli, ["assign", "checkout", "--units", str(units), "-f",
                                      str(spec_path)])  # fmt: skip
    assert result.exit_code == 0, result.output
    cli_variants = {
        row["unit"]: row["variant"] for row in map(json.loads, result.stdout.splitlines())
    }
    assert {u: body["variant"] for u, body in served.items()} == cli_variants
    assert set(served["user-0"]) == {"prediction", "variant", "model", "request_id"}


def test_open_inference_protocol_route(gateway):
    server, *_ = gateway
    body = {
        "inputs": [{"name": "amount", "shape": [1], "datatype": "FP64", "data": [5.0]}],
        "parameters": {"unit_id": "user-7", "attributes": {"country": "US"}},
    }
    response = httpx.post(f"{server.url}/v2/models/checkout/infer", json=body)
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["model_name"] == "checkout"
    assert data["outputs"][0]["datatype"] == "FP64"
    assert data["parameters"]["variant"] in {"champ", "chall"}


def test_assign_only_route(gateway):
    server, *_ = gateway
    data = httpx.post(f"{server.url}/v1/experiments/checkout/assign",
                      json={"unit_id": "user-3"}).json()  # fmt: skip
    assert set(data) >= {"unit", "variant", "bucket", "reason", "exposed", "probability"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"unit_id": "u1"}, "body.features"),
        ({"unit_id": "u1", "features": [1, 2]}, "body.features"),
        ({"unit_id": "", "features": {}}, "body.unit_id"),
        ({"unit_id": "u1", "features": {}, "colour": "red"}, "body.colour"),
    ],
)
def test_bad_bodies_get_422_naming_the_field(gateway, body, field):
    server, *_ = gateway
    response = httpx.post(f"{server.url}/v1/experiments/checkout/predict", json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["field"] == field


def test_unknown_experiment_is_404(gateway):
    server, *_ = gateway
    response = httpx.post(f"{server.url}/v1/experiments/nope/predict",
                          json={"unit_id": "u", "features": {}})  # fmt: skip
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "experiment_not_found"


def test_outcomes_are_ingested_into_the_event_log(gateway):
    server, *_ = gateway
    outcomes = [{"unit_id": f"u{i}", "metric": "converted", "value": i % 2} for i in range(10)]
    response = httpx.post(f"{server.url}/v1/outcomes", json={"outcomes": outcomes})
    assert response.json() == {"accepted": 10, "warnings": []}
    typo = [{"unit_id": "u1", "metric": "convertd", "value": 1}] * 2
    warned = httpx.post(f"{server.url}/v1/outcomes", json={"outcomes": typo}).json()
    assert warned["accepted"] == 2  # stored anyway: accepted data is never lost
    assert warned["warnings"] == [
        ("metric 'convertd' (2 rows) is read by no experiment this gateway serves; did you "
        "mean 'converted'?")
    ]
    wrong = {"outcomes": [{"unit_id": "u", "metric": "m", "value": "x"}]}
    bad = httpx.post(f"{server.url}/v1/outcomes", json=wrong)
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "body.outcomes.0.value"


def test_metrics_count_requests_and_failing_shadows(gateway):
    server, _, router, _ = gateway
    for i in range(5):
        httpx.post(f"{server.url}/v1/experiments/checkout/predict",
                   json={"unit_id": f"u{i}", "features": {"amount": 1.0}})  # fmt: skip
    assert router.drain_shadows()
    text = httpx.get(f"{server.url}/metrics").text
    served = sum(
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
        if line.startswith('champion_requests_total{experiment="checkout"')
    )  # fmt: skip
    assert served == 5
    assert 'champion_shadow_errors_total{experiment="checkout",model="broken"} 5.0' in text


def test_admin_needs_a_token_with_the_admin_scope(gateway):
    server, *_ = gateway
    url = f"{server.url}/v1/experiments/checkout/ramp"
    assert httpx.post(url, json={"to": 25}).status_code == 401
    wrong = httpx.post(url, json={"to": 25}, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403
    assert wrong.json()["error"]["code"] == "forbidden"


def test_predict_token_when_configured(write_spec, models_dir, serve_app):
    router = Router(SpecSource([load_spec(write_spec())]), models_dir=models_dir)
    server = serve_app(create_app(_settings(predict_token="p-secret"), router=router))
    url = f"{server.url}/v1/experiments/checkout/predict"
    body = {"unit_id": "u", "features": {}}
    assert httpx.post(url, json=body).status_code == 401
    assert httpx.post(url, json=body, headers={"Authorization": "Bearer x"}).status_code == 403
    assert (
        httpx.post(url, json=body, headers={"Authorization": "Bearer p-secret"}).status_code == 200
    )
    assert httpx.post(url, json=body, headers=ADMIN).status_code == 200  # admin implies predict
    router.close()


def test_admin_api_creates_starts_ramps_and_stops(write_spec, models_dir, serve_app, tmp_path):
    registry = Registry(f"sqlite:///{tmp_path / 'reg.db'}")
    router = Router(RegistrySource(registry), models_dir=models_dir, poll_interval=0.1)
    settings = _settings(allow_python_modules=["serve_models"])
    server = serve_app(create_app(settings, router=router, registry=registry))
    with httpx.Client(base_url=server.url, headers=ADMIN) as client:
        spec = write_spec(allocation="{champ: 0.9, chall: 0.1}").read_text()
        created = client.post("/v1/experiments", content=spec,
                              headers={"content-type": "application/yaml"})  # fmt: skip
        assert created.status_code == 201, created.text
        assert created.json()["state"] == "draft"
        assert client.post("/v1/experiments/checkout/start").json()["state"] == "running"
        ramped = client.post("/v1/experiments/checkout/ramp", json={"to": 25}).json()
        assert ramped["allocation"] == {"champ": 0.75, "chall": 0.25}
        assert router.runtime("checkout").assigner.probabilities["chall"] == 0.25
        missing_reason = client.post("/v1/experiments/checkout/stop", json={})
        assert missing_reason.status_code == 422
        assert missing_reason.json()["error"]["field"] == "body.reason"
        stopped = client.post("/v1/experiments/checkout/stop", json={"reason": "guardrail"})
        assert stopped.json()["state"] == "stopped"
        again = client.post("/v1/experiments/checkout/ramp", json={"to": 50})
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "invalid_transition"
        bad = client.post(
            "/v1/experiments", content="name: [", headers={"content-type": "application/yaml"}
        )
        assert bad.status_code == 422
        assert bad.json()["error"]["code"] == "invalid_spec"
    router.close()
    registry.close()


def test_a_shadow_sleeping_two_seconds_leaves_champion_latency_unchanged(
    write_spec, models_dir, serve_app
):
    # Two gateways, one whose every request also starts a shadow that sleeps 2 s; requests
    # alternate between them so the machine's noise falls on both alike.
    def gateway(**spec_kwargs: object) -> tuple[Router, str]:
        router = Router(SpecSource([load_spec(write_spec(**spec_kwargs))]),
                        models_dir=models_dir, shadow_concurrency=8)  # fmt: skip
        return router, serve_app(create_app(_settings(), router=router)).url

    plain_router, plain_url = gateway(name="plain")
    slow_router, slow_url = gateway(
        name="shadowed", shadow="{model: slow, sample: 1.0, timeout_ms: 3000}"
    )
    times: dict[str, list[float]] = {plain_url: [], slow_url: []}
    clients = {url: httpx.Client(base_url=url) for url in times}
    for i in range(420):
        for url, client in clients.items():
            name = "plain" if url == plain_url else "shadowed"
            start = time.perf_counter()
            client.post(f"/v1/experiments/{name}/predict",
                        json={"unit_id": f"u{i}", "features": {"amount": 1.0}})  # fmt: skip
            if i >= 20:  # warm-up: connections, first imports, the shadow pool's threads
                times[url].append((time.perf_counter() - start) * 1000)
    for client in clients.values():
        client.close()
    assert slow_router.shadow_stats["dropped"] > 0  # the bound was reached and held
    plain_router.close()
    slow_router.close()

    def summary(values: list[float]) -> tuple[float, float]:
        values = sorted(values)
        return statistics.median(values), values[int(0.99 * len(values))]

    (base_median, base_p99), (slow_median, slow_p99) = (
        summary(times[plain_url]),
        summary(times[slow_url]),
    )
    # Within noise: a shadow that waited on the answer would add 2,000 ms to every request.
    assert slow_median < max(1.5 * base_median, base_median + 2), (base_median, slow_median)
    assert slow_p99 < max(2 * base_p99, base_p99 + 10), (base_p99, slow_p99)


def test_exposures_from_the_gateway_land_in_parquet(gateway):
    server, _, router, root = gateway
    for i in range(20):
        httpx.post(f"{server.url}/v1/experiments/checkout/predict",
                   json={"unit_id": f"u{i}", "features": {"amount": 1.0},
                         "attributes": {"country": "FR"}})  # fmt: skip
    router._events.flush()
    count = duckdb.sql(
        f"select count(*) from read_parquet('{root}/exposures/**/*.parquet', "
        "hive_partitioning=true) where attributes['country'] = 'FR'"
    ).fetchall()[0][0]
    assert count == 20


def test_openapi_schema_lists_every_route_with_examples(gateway):
    server, *_ = gateway
    schema = httpx.get(f"{server.url}/openapi.json").json()
    paths = set(schema["paths"])
    assert {
        "/v1/experiments/{name}/predict", "/v2/models/{name}/infer",
        "/v1/experiments/{name}/assign", "/v1/outcomes", "/healthz", "/readyz", "/metrics",
        "/v1/experiments",
        "/v1/experiments/{name}/start", "/v1/experiments/{name}/ramp",
        "/v1/experiments/{name}/stop",
    } <= paths  # fmt: skip
    predict = schema["components"]["schemas"]["PredictRequest"]
    assert predict["examples"][0]["unit_id"] == "user-42"
