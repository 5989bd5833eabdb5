"""Tokens: an empty one stops the start; comparison on raw bytes; the audit log names the token."""

from __future__ import annotations

import httpx
import pytest

from champion.errors import ConfigError
from champion.registry import Registry
from champion.serve.settings import load_settings
from tests.serve._safety import ADMIN, ADMIN_TOKEN, champion_serve, gateway, register
from tests.serve._support import spec_text


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CHAMPION_ADMIN_TOKEN", ""),
        ("CHAMPION_ADMIN_TOKEN", "   "),
        ("CHAMPION_ADMIN_TOKEN", "\xa0"),
        ("CHAMPION_PREDICT_TOKEN", "\x85"),
        ("CHAMPION_ADMIN_TOKEN", " secret"),
    ],
)
def test_an_empty_or_whitespace_token_refuses_to_start(write_spec, variable, value):
    done = champion_serve(["-f", str(write_spec())], {variable: value})
    err = done.stderr.decode()
    assert done.returncode == 2, err
    assert f"{variable} is empty, holds only spaces" in err
    assert "Traceback" not in err


def test_load_settings_names_the_variable():
    with pytest.raises(ConfigError, match=r"^CHAMPION_ADMIN_TOKEN is empty.*openssl rand"):
        load_settings(admin_token="\u3000")


TRICKS = [b"Bearer \xa0", b"Bearer \x85", b"Bearer \x1c", b"Bearer \xa0\xa0", b"bearer \xa0\x85x",
          b"Bearer " + ADMIN_TOKEN.encode() + b"\xa0"]  # fmt: skip


@pytest.mark.parametrize("raw", TRICKS)
def test_unicode_spaces_and_control_characters_never_pass_as_a_token(tmp_path, raw):
    with gateway(tmp_path / "reg.db") as server:
        response = httpx.get(f"{server.url}/v1/experiments", headers={"Authorization": raw})
    # 400: the HTTP parser itself refuses a control character in a header (\x1c)
    assert response.status_code in (400, 401, 403), response.text
    if response.status_code != 400:
        assert response.json()["error"]["code"] in ("unauthorized", "forbidden")


def test_the_token_with_surrounding_ascii_spaces_still_works(tmp_path):
    with gateway(tmp_path / "reg.db") as server:
        header = f"Bearer   {ADMIN_TOKEN}"
        response = httpx.get(f"{server.url}/v1/experiments", headers={"Authorization": header})
    assert response.status_code == 200, response.text


def test_the_audit_log_records_the_token_name_not_the_token(tmp_path):
    db = tmp_path / "reg.db"
    register(db, "checkout", start=False)
    tokens = {"alice": "alice-token-123", "argo": "argo-token-456"}
    yaml_admin = {**ADMIN, "content-type": "application/yaml"}
    with (
        gateway(db, admin_tokens=tokens, allow_python_modules=["serve_models"]) as server,
        httpx.Client(base_url=server.url) as client,
    ):
        started = client.post("/v1/experiments/checkout/start",
                              headers={"Authorization": "Bearer alice-token-123"})  # fmt: skip
        ramped = client.post("/v1/experiments/checkout/ramp", json={"to": 10},
                             headers={"Authorization": "Bearer argo-token-456"})  # fmt: skip
        created = client.post("/v1/experiments", content=spec_text("other"), headers=yaml_admin)
    assert (started.status_code, ramped.status_code, created.status_code) == (200, 200, 201)
    with Registry(f"sqlite:///{db}") as registry:
        by = [e.by for e in registry.history("checkout")]
        other = [e.by for e in registry.history("other")]
    assert by == ["operator", "api:alice", "api:argo"]
    assert other == ["api:admin"]
    assert not any("token" in who for who in by + other)


def test_a_list_setting_that_is_not_json_is_a_config_error(monkeypatch):
    monkeypatch.setenv("CHAMPION_ALLOW_PYTHON_MODULES", "fraud_models,team_*")
    with pytest.raises(ConfigError, match=r"^CHAMPION_ALLOW_PYTHON_MODULES is not valid JSON"):
        load_settings()
    monkeypatch.setenv("CHAMPION_ALLOW_PYTHON_MODULES", '["fraud_models", "team_*"]')
    assert load_settings().allow_python_modules == ["fraud_models", "team_*"]
