"""Python model targets are a trust boundary: the admin API cannot make the gateway run code."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from champion.registry import Registry
from tests.serve._safety import ADMIN, gateway
from tests.serve._support import spec_text


def _rce_body(marker: str) -> dict:
    """The issue's body: check_output(dict) runs the dict's keys as a command at load time."""
    return {
        "name": "e",
        "models": {
            "a": {"kind": "python", "target": "subprocess:check_output",
                  "options": {"example": {"touch": 0, marker: 0}}},
            "b": {"kind": "python", "target": "subprocess:check_output",
                  "options": {"example": {"touch": 0, marker: 0}}},
        },
        "champion": "a",
        "challengers": ["b"],
        "allocation": {"a": 0.5, "b": 0.5},
        "metrics": {"primary": {"name": "converted", "kind": "proportion"}},
    }  # fmt: skip


def test_the_rce_body_is_refused_with_403_and_nothing_runs(tmp_path):
    marker = tmp_path / "pwned"
    db = tmp_path / "reg.db"
    with gateway(db) as server, httpx.Client(base_url=server.url, headers=ADMIN) as client:
        response = client.post("/v1/experiments", json=_rce_body(str(marker)))
        as_yaml = client.post("/v1/experiments", content=json.dumps(_rce_body(str(marker))),
                              headers={"content-type": "application/yaml"})  # fmt: skip
        time.sleep(0.5)  # a poll or two: nothing may load it later either
    assert response.status_code == 403, response.text
    error = response.json()["error"]
    assert error["code"] == "model_not_allowed"
    assert error["field"] == "body.models.a.target"
    assert "subprocess" in error["message"]
    assert "--allow-python-module" in error["message"]
    assert as_yaml.status_code == 403
    assert not marker.exists()
    with Registry(f"sqlite:///{db}") as registry:
        assert registry.snapshot().experiments == ()


def test_python_targets_from_an_allowed_module_are_registered(tmp_path):
    db = tmp_path / "reg.db"
    with gateway(db, allow_python_modules=["serve_*"]) as server:
        response = httpx.post(f"{server.url}/v1/experiments", content=spec_text("ok"),
                              headers={**ADMIN, "content-type": "application/yaml"})  # fmt: skip
    assert response.status_code == 201, response.text


def test_an_allowed_pattern_does_not_allow_other_modules(tmp_path):
    marker = tmp_path / "pwned"
    with gateway(tmp_path / "reg.db", allow_python_modules=["serve_models"]) as server:
        response = httpx.post(f"{server.url}/v1/experiments", json=_rce_body(str(marker)),
                              headers=ADMIN)  # fmt: skip
    assert response.status_code == 403
    assert "allowed: serve_models" in response.json()["error"]["message"]
    assert not marker.exists()


@pytest.mark.parametrize(
    ("model", "field"),
    [
        ({"kind": "sklearn", "target": "/etc/passwd"}, "body.models.a.target"),
        ({"kind": "sklearn", "target": "../../outside.joblib"}, "body.models.a.target"),
        ({"kind": "mlflow", "target": "file:///srv/model"}, "body.models.a.target"),
        ({"kind": "http", "target": "http://127.0.0.1:9/x",
          "options": {"headers": {"x": "${CHAMPION_ADMIN_TOKEN}"}}},
         "body.models.a.options.headers"),
        ({"kind": "my-own-kind", "target": "x"}, "body.models.a.kind"),
    ],
)  # fmt: skip
def test_pickles_outside_the_models_folder_env_headers_and_other_kinds_are_refused(
    tmp_path, model, field
):
    body = _rce_body("x")
    body["models"]["a"] = model
    body["models"]["b"] = {"kind": "onnx", "target": "model.onnx"}
    with gateway(tmp_path / "reg.db") as server:
        response = httpx.post(f"{server.url}/v1/experiments", json=body, headers=ADMIN)
    assert response.status_code in (403, 422), response.text
    if response.status_code == 403:
        assert response.json()["error"]["field"] == field


def test_spec_files_the_operator_serves_stay_trusted(write_spec, models_dir, tmp_path):
    # champion serve -f: python targets beside the spec load without any allow-list.
    from champion.serve.app import create_app
    from tests.serve._safety import settings
    from tests.serve._support import ThreadServer

    app = create_app(settings(specs=[str(write_spec())]))
    with ThreadServer(app) as server:
        response = httpx.post(f"{server.url}/v1/experiments/checkout/predict",
                              json={"unit_id": "u", "features": {"amount": 3.0}})  # fmt: skip
    assert response.status_code == 200, response.text
