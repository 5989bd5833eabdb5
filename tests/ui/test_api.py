"""The dashboard's JSON routes: one error body per mistake, scopes, and ``champion ui``'s flags.

No browser here: a real uvicorn serves the gateway (or ``champion ui``'s app) and httpx asks.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from champion.cli import app as cli
from champion.serve.settings import load_settings
from champion.ui import create_ui_app
from champion.ui.shell import ASSETS
from champion.ui.tools import MAX_RACE_WORK
from tests.serve._support import HERE as SERVE_TESTS
from tests.serve._support import ThreadServer, spec_text
from tests.ui.conftest import DEMO, TOKEN, Stack

ADMIN = {"Authorization": f"Bearer {TOKEN}"}


def _error(response: httpx.Response) -> dict[str, str]:
    error: dict[str, str] = response.json()["error"]
    return error


def test_an_unknown_experiment_is_404_on_every_route(gateway: str) -> None:
    for path in ("/ui/api/experiments/nope", "/ui/api/experiments/nope/readout",
                 "/ui/api/experiments/nope/shadow"):  # fmt: skip
        response = httpx.get(gateway + path)
        assert response.status_code == 404, path
        assert "nope" in _error(response)["message"]


def test_a_ramp_without_a_percent_names_the_field(gateway: str) -> None:
    response = httpx.post(f"{gateway}/ui/api/experiments/{DEMO}/actions/ramp", headers=ADMIN,
                          json={"reason": "next stage"})  # fmt: skip
    assert response.status_code == 422
    assert _error(response)["field"] == "body.to"


def test_an_action_the_lifecycle_refuses_is_409_and_changes_nothing(
    gateway: str, stack: Stack
) -> None:
    with stack.registry() as registry:
        before = registry.get(DEMO).version
    response = httpx.post(f"{gateway}/ui/api/experiments/{DEMO}/actions/resume", headers=ADMIN,
                          json={"reason": "it is not paused"})  # fmt: skip
    assert response.status_code == 409
    assert "resume" in _error(response)["message"]
    with stack.registry() as registry:
        assert registry.get(DEMO).version == before


def test_an_action_needs_a_reason(gateway: str) -> None:
    response = httpx.post(f"{gateway}/ui/api/experiments/{DEMO}/actions/pause", headers=ADMIN,
                          json={"reason": ""})  # fmt: skip
    assert response.status_code == 422
    assert _error(response)["field"] == "body.reason"


def test_an_unknown_action_is_refused_before_any_token_check(gateway: str) -> None:
    response = httpx.post(f"{gateway}/ui/api/experiments/{DEMO}/actions/delete",
                          json={"reason": "x"})  # fmt: skip
    assert response.status_code == 422
    assert _error(response)["field"] == "path.action"


def test_a_race_too_big_for_a_request_names_runs(gateway: str) -> None:
    response = httpx.post(f"{gateway}/ui/api/race", json={"requests": 1_000_000, "runs": 1_000})
    assert response.status_code == 422
    assert _error(response)["field"] == "body.runs"
    assert f"{MAX_RACE_WORK:,}" in _error(response)["message"]


def test_a_plan_that_cannot_be_made_is_422(gateway: str) -> None:
    response = httpx.post(f"{gateway}/ui/api/plan", json={"baseline": 0.95, "mde": 0.1})
    assert response.status_code == 422
    assert "0.95" in _error(response)["message"] or "baseline" in _error(response)["message"]


@pytest.fixture
def guarded_reads(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """``champion ui`` with a predict token: reading needs it too."""
    monkeypatch.delenv("CHAMPION_ADMIN_TOKEN", raising=False)
    settings = load_settings(db=stack.db, events=stack.events, predict_token="reader-token")
    with ThreadServer(create_ui_app(settings)) as server:
        yield server.url


def test_with_a_predict_token_the_data_needs_it_but_the_page_does_not(guarded_reads: str) -> None:
    assert httpx.get(f"{guarded_reads}/ui").status_code == 200
    assert httpx.get(f"{guarded_reads}/ui/assets/app.js").status_code == 200
    assert httpx.get(f"{guarded_reads}/ui/api/experiments").status_code == 401
    reader = {"Authorization": "Bearer reader-token"}
    found = httpx.get(f"{guarded_reads}/ui/api/experiments", headers=reader)
    assert found.status_code == 200
    assert DEMO in [e["name"] for e in found.json()["experiments"]]
    # the reader's token grants no action
    act = httpx.post(f"{guarded_reads}/ui/api/experiments/{DEMO}/actions/pause", headers=reader,
                     json={"reason": "x"})  # fmt: skip
    assert act.status_code == 403


def test_a_gateway_over_spec_files_says_the_dashboard_needs_a_registry(tmp_path: Path) -> None:
    from champion.serve.app import create_app

    spec = tmp_path / "checkout.yaml"
    spec.write_text(spec_text())
    settings = load_settings(specs=[str(spec)], models_dir=str(SERVE_TESTS))
    with ThreadServer(create_app(settings)) as server:
        response = httpx.get(f"{server.url}/ui/api/experiments")
    assert response.status_code == 409
    assert "--registry" in _error(response)["message"]


def test_the_dashboard_routes_stay_out_of_the_openapi_schema(gateway: str) -> None:
    paths = httpx.get(f"{gateway}/openapi.json").json()["paths"]
    assert not [p for p in paths if p.startswith("/ui")]


def test_every_asset_the_page_names_is_served_from_the_package(gateway: str) -> None:
    page = httpx.get(f"{gateway}/ui").text
    for asset in ASSETS:
        assert f"/ui/assets/{asset}?v=" in page
        response = httpx.get(f"{gateway}/ui/assets/{asset}")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith(
            "text/css" if asset.endswith(".css") else "text/javascript")  # fmt: skip
        assert len(response.content) > 500


def test_an_asset_outside_the_list_is_404(gateway: str) -> None:
    assert httpx.get(f"{gateway}/ui/assets/..%2F__init__.py").status_code == 404
    assert httpx.get(f"{gateway}/ui/assets/routes.py").status_code == 404


def test_champion_ui_refuses_a_registry_that_does_not_exist(tmp_path: Path) -> None:
    missing = tmp_path / "nothing.db"
    result = CliRunner().invoke(cli, ["ui", "--registry", str(missing)])
    assert result.exit_code == 2
    assert "--registry" in result.output
    assert not missing.exists()  # no empty registry was created on the way


def test_champion_ui_refuses_an_events_path_that_is_not_a_folder(stack: Stack) -> None:
    result = CliRunner().invoke(cli, ["ui", "--registry", stack.db, "--events", "/no/such/dir"])
    assert result.exit_code == 2
    assert "--events" in result.output
