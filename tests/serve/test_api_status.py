"""Status codes from the one table, on a real uvicorn: the findings of the gateway probe."""

from __future__ import annotations

import asyncio
import subprocess
import tempfile
import textwrap
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Request

from champion.registry import Registry
from tests.serve._safety import gateway, predict, register
from tests.serve._support import ThreadServer, wait_until


def _spec(tmp_path: Path, champion: str, challenger: str = "kind: python, target: "
          '"safety_models:picky"') -> Path:  # fmt: skip
    path = tmp_path / "status.yaml"
    path.write_text(textwrap.dedent(f"""\
        name: status
        unit: user
        models:
          champ: {{{champion}}}
          chall: {{{challenger}}}
        champion: champ
        challengers: [chall]
        allocation: {{champ: 1.0, chall: 0.0}}
        metrics:
          primary: {{name: converted, kind: proportion}}
        """))  # fmt: skip
    return path


def test_a_model_that_raises_answers_502_model_error(tmp_path):
    spec = _spec(tmp_path, 'kind: python, target: "safety_models:picky"')
    with gateway(specs=[str(spec)]) as server, httpx.Client(base_url=server.url) as client:
        failed = client.post("/v1/experiments/status/predict",
                             json={"unit_id": "u", "features": {"explode": 1}})  # fmt: skip
        fine = client.post("/v1/experiments/status/predict",
                           json={"unit_id": "u", "features": {}})  # fmt: skip
    assert fine.status_code == 200
    assert failed.status_code == 502, failed.text
    assert failed.json()["error"]["code"] == "model_error"
    assert "the model blew up" in failed.json()["error"]["message"]


def test_features_the_model_cannot_read_answer_422_at_body_features(tmp_path):
    spec = _spec(tmp_path, 'kind: python, target: "safety_models:needs_amount", '
                 "options: {example: {amount: 1}}")  # fmt: skip
    with gateway(specs=[str(spec)]) as server:
        response = httpx.post(f"{server.url}/v1/experiments/status/predict",
                              json={"unit_id": "u", "features": {"other": 1}})  # fmt: skip
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_features"
    assert response.json()["error"]["field"] == "body.features"


def _upstream() -> FastAPI:
    app = FastAPI()

    @app.post("/score")
    async def score(request: Request) -> dict:
        row = await request.json()
        if row.get("slow"):
            await asyncio.sleep(1.0)
        return {"score": 0.3}

    return app


def test_an_http_upstream_that_times_out_is_504_and_one_that_is_down_is_502(tmp_path):
    upstream = ThreadServer(_upstream()).__enter__()
    options = "{protocol: json, field: score, batch: false, timeout: 0.3, example: {amount: 1}}"
    spec = _spec(tmp_path, f'kind: http, target: "{upstream.url}/score", options: {options}')
    try:
        with gateway(specs=[str(spec)]) as server, httpx.Client(base_url=server.url) as client:
            ok = predict(client, "status", amount=1.0)
            slow = predict(client, "status", slow=1.0)
            upstream.__exit__()
            down = predict(client, "status", amount=1.0)
    finally:
        upstream.__exit__()
    assert ok.status_code == 200, ok.text
    assert slow.status_code == 504, slow.text
    assert slow.json()["error"]["code"] == "model_timeout"
    assert down.status_code == 502, down.text
    assert down.json()["error"]["code"] == "model_error"
    assert "cannot connect" in down.json()["error"]["message"]


def test_an_outcome_ts_out_of_range_is_422_at_its_path(tmp_path):
    spec = _spec(tmp_path, 'kind: python, target: "safety_models:picky"')
    with gateway(specs=[str(spec)], events=str(tmp_path / "events")) as server:
        body = {"outcomes": [
            {"unit_id": "u", "metric": "converted", "value": 1},
            {"unit_id": "u", "metric": "converted", "value": 1, "ts": "0001-01-01T00:00:00+14:00"},
        ]}  # fmt: skip
        response = httpx.post(f"{server.url}/v1/outcomes", json=body)
        nan = httpx.post(f"{server.url}/v1/outcomes", content=b'{"outcomes": [{"unit_id": "u", '
                         b'"metric": "converted", "value": NaN}]}',
                         headers={"content-type": "application/json"})  # fmt: skip
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == "body.outcomes.1.ts"
    assert "out of range" in response.json()["error"]["message"]
    assert nan.status_code == 422, nan.text
    assert nan.json()["error"]["field"] == "body.outcomes.0.value"


def test_assign_says_exposed_false_for_a_stopped_experiment(tmp_path):
    db = tmp_path / "reg.db"
    register(db, "checkout", allocation="{champ: 0.0, chall: 1.0}")
    units = [f"u{i}" for i in range(20)]
    with gateway(db) as server, httpx.Client(base_url=server.url) as client:
        running = [client.post("/v1/experiments/checkout/assign", json={"unit_id": u}).json()
                   for u in units]  # fmt: skip
        before = client.get("/readyz").json()
        with Registry(f"sqlite:///{db}") as registry:
            registry.stop("checkout", reason="guardrail")
            committed = registry.history("checkout")[-1].at
        assert wait_until(lambda: client.get("/readyz").json()["registry_version"] >= 3)
        # the gateway says when it took the change: after the commit, so its lag is measurable
        taken = datetime.fromisoformat(client.get("/readyz").json()["registry_version_at"])
        assert datetime.fromisoformat(before["registry_version_at"]) <= committed <= taken
        stopped = [client.post("/v1/experiments/checkout/assign", json={"unit_id": u}).json()
                   for u in units]  # fmt: skip
    assert all(a["exposed"] and a["variant"] == "chall" for a in running)
    assert not any(a["exposed"] for a in stopped)
    assert {a["variant"] for a in stopped} == {"champ"}


@pytest.fixture
def tiny_disk():
    """A 1 MB tmpfs (root only): a real full disk under the event journal."""
    folder = Path(tempfile.mkdtemp(prefix="champion-full-"))
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)],
                             capture_output=True, check=False)  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)
    folder.rmdir()


def _fill(folder: Path) -> Path:
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"x" * 4096)
        except OSError:
            pass
    return filler


def test_a_full_disk_in_sync_mode_answers_503_counts_it_and_readiness_says_so(tmp_path, tiny_disk):
    spec = _spec(tmp_path, 'kind: python, target: "safety_models:picky"')
    events = str(tiny_disk / "events")
    with (
        gateway(specs=[str(spec)], events=events, events_sync=True) as server,
        httpx.Client(base_url=server.url) as client,
    ):
        assert predict(client, "status").status_code == 200
        filler = _fill(tiny_disk)
        answers = [predict(client, "status", unit=f"u{i}") for i in range(50)]
        full = [r for r in answers if r.status_code != 200]
        ready = client.get("/readyz")
        metrics = client.get("/metrics").text
        filler.unlink()
        assert wait_until(lambda: predict(client, "status").status_code == 200)
    assert full, "the journal never hit the full disk"
    assert {r.status_code for r in full} == {503}
    assert {r.json()["error"]["code"] for r in full} == {"events_unavailable"}
    assert ready.status_code == 503
    assert "events" in ready.json()
    prefix = 'champion_request_errors_total{experiment="status"'
    errors = sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                 if line.startswith(prefix))  # fmt: skip
    assert errors >= len(full)


def test_openapi_documents_the_error_body_the_bearer_scheme_and_every_status(tmp_path):
    db = tmp_path / "reg.db"
    register(db, "checkout")
    with gateway(db) as server:
        schema = httpx.get(f"{server.url}/openapi.json").json()
    components = schema["components"]
    assert components["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer", "description": components["securitySchemes"][
            "bearer"]["description"]}  # fmt: skip
    assert "HTTPValidationError" not in components["schemas"]
    assert set(components["schemas"]["ErrorBody"]["properties"]) == {"error"}
    paths = schema["paths"]
    predict_op = paths["/v1/experiments/{name}/predict"]["post"]
    assert {"200", "401", "403", "404", "413", "422", "502", "503", "504"} <= set(
        predict_op["responses"])  # fmt: skip
    assert predict_op["security"] == [{"bearer": []}]
    ramp = paths["/v1/experiments/{name}/ramp"]["post"]["responses"]
    assert {"401", "403", "404", "409", "413", "422", "503"} <= set(ramp)
    error_ref = ramp["409"]["content"]["application/json"]["schema"]["$ref"]
    assert error_ref.endswith("/ErrorBody")
    assert "/v1/experiments/{name}/archive" in paths
