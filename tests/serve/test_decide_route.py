"""``POST /v1/experiments/{name}/decide``: ``champion decide apply`` through the admin API, on
a real uvicorn gateway on 127.0.0.1 over a real SQLite registry and a Parquet event folder.

The oracle for which challenger moves is the read-out itself (``champion analyze``), checked
first: v3 converts at 16% against 10% for v1 and v2, so the decision is v3's, not the first
challenger's."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from champion.decide import read_out
from champion.registry import Registry
from champion.serve.app import create_app
from champion.serve.settings import GatewaySettings
from champion.spec.models import Experiment
from tests.analysis._events import make_spec, write_experiment
from tests.serve._support import HERE, ThreadServer

NAME = "checkout-v2"
ADMIN = {"Authorization": "Bearer admin-secret"}
MODELS = {
    "v1": {"kind": "python", "target": "serve_models:champion"},
    "v2": {"kind": "python", "target": "serve_models:challenger"},
    "v3": {"kind": "python", "target": "serve_models:close_shadow"},
}


def _spec(hours: float) -> Experiment:
    return make_spec(
        models=MODELS, challengers=["v2", "v3"], allocation={"v1": 0.8, "v2": 0.1, "v3": 0.1},
        rollout={"stages": [10, 25, 50, 100], "min_stage_hours": hours},
    )  # fmt: skip


@pytest.fixture(scope="module")
def events(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("decide-route") / "events"
    values = {"converted": {"v1": 0.10, "v2": 0.10, "v3": 0.16}}
    write_experiment(folder, _spec(24), units=30_000, values=values, seed=2)
    return folder


Start = Callable[..., tuple[str, str]]


@pytest.fixture
def gateway(tmp_path: Path, events: Path, serve_app: Callable[[object], ThreadServer]) -> Start:
    """A running experiment in a fresh registry and a gateway over it: (url, registry url)."""

    def start(hours: float = 0.0, **settings: Any) -> tuple[str, str]:
        url = f"sqlite:///{tmp_path / 'champion.db'}"
        with Registry(url) as registry:
            registry.create(_spec(hours), reason="test")
            registry.start(NAME, reason="test")
        values = {"admin_token": "admin-secret", "db": url, "events": str(events),
                  "models_dir": str(HERE), **settings}  # fmt: skip
        return serve_app(create_app(GatewaySettings(**values))).url, url

    return start


def _decide(base: str, body: dict[str, Any] | None = None, **kw: Any) -> httpx.Response:
    headers = kw.pop("headers", ADMIN)
    return httpx.post(f"{base}/v1/experiments/{NAME}/decide", json=body, headers=headers,
                      timeout=60, **kw)  # fmt: skip


def _state(url: str) -> tuple[Any, list[Any]]:
    with Registry(url) as registry:
        return registry.get(NAME), registry.history(NAME)


def test_the_readout_decides_for_v3(gateway: Start, events: Path) -> None:
    _, url = gateway()
    with Registry(url) as registry:
        decision = read_out(registry, NAME, str(events)).decision
    assert (decision.decision, decision.variant) == ("rollout_full", "v3")


def test_a_dry_run_answers_the_plan_and_changes_nothing(gateway: Start) -> None:
    base, url = gateway(hours=24)
    answer = _decide(base, {"dry_run": True})
    assert answer.status_code == 200, answer.text
    plan = answer.json()
    assert (plan["decision"], plan["variant"], plan["action"]) == ("rollout_full", "v3", "ramp")
    assert (plan["from_percent"], plan["to_percent"]) == (10, 25)
    assert (plan["dry_run"], plan["applied"], plan["state"]) == (True, False, None)
    assert plan["min_stage_hours"] == 24
    assert 0 <= plan["held_hours"] < 0.1
    assert plan["reasons"]
    state, history = _state(url)
    assert state.version == 2
    assert [e.action for e in history] == ["create", "start"]


def test_an_apply_moves_the_winner_to_the_next_stage_and_writes_the_audit_log(
    gateway: Start,
) -> None:
    base, url = gateway(hours=0)
    answer = _decide(base, {})
    assert answer.status_code == 200, answer.text
    out = answer.json()
    assert (out["action"], out["variant"], out["applied"]) == ("ramp", "v3", True)
    assert out["state"]["allocation"] == pytest.approx({"v1": 0.65, "v2": 0.10, "v3": 0.25})
    state, history = _state(url)
    assert state.allocation == pytest.approx({"v1": 0.65, "v2": 0.10, "v3": 0.25})
    last = history[-1]
    assert (last.action, last.by) == ("ramp", "api:admin")
    assert last.reason.startswith("decide apply: rollout_full (v3): ")
    shown = httpx.get(f"{base}/v1/experiments/{NAME}", headers=ADMIN).json()
    assert shown["version"] == state.version == 3


def test_without_the_admin_token_nothing_is_read_or_written(gateway: Start) -> None:
    base, url = gateway(hours=0)
    missing = _decide(base, {}, headers={})
    wrong = _decide(base, {}, headers={"Authorization": "Bearer not-the-token"})
    assert missing.status_code == 401, missing.text
    assert wrong.status_code in (401, 403), wrong.text
    assert missing.json()["error"]["code"]
    state, _ = _state(url)
    assert state.version == 2


def test_min_stage_hours_is_held_unless_forced_with_a_reason(gateway: Start) -> None:
    base, url = gateway(hours=24)
    early = _decide(base, {})
    assert early.status_code == 409, early.text
    error = early.json()["error"]
    assert error["code"] == "stage_held_too_briefly"
    assert "ramp v3 from 10% to the next stage, 25%: refused" in error["message"]
    assert "rollout.min_stage_hours" in error["message"]
    no_reason = _decide(base, {"force": True})
    assert no_reason.status_code == 422, no_reason.text
    assert no_reason.json()["error"]["field"] == "body.reason"
    assert _state(url)[0].version == 2
    forced = _decide(base, {"force": True, "reason": "launch review signed off"})
    assert forced.status_code == 200, forced.text
    state, history = _state(url)
    assert state.allocation["v3"] == pytest.approx(0.25)
    assert "[forced before rollout.min_stage_hours: launch review signed off]" in (
        history[-1].reason)  # fmt: skip


def test_a_stale_expected_version_is_refused(gateway: Start) -> None:
    base, url = gateway(hours=0)
    stale = _decide(base, {"expected_version": 1})
    assert stale.status_code == 409, stale.text
    assert stale.json()["error"]["code"] == "stale_version"
    assert _state(url)[0].version == 2


def test_a_gateway_without_an_event_store_says_how_to_give_it_one(gateway: Start) -> None:
    base, url = gateway(hours=0, events=None)
    answer = _decide(base, {})
    assert answer.status_code == 409, answer.text
    error = answer.json()["error"]
    assert error["code"] == "no_event_store"
    assert "--events" in error["message"]
    assert _state(url)[0].version == 2


def test_an_experiment_without_exposures_in_the_store_is_404(
    gateway: Start, tmp_path: Path
) -> None:
    empty = tmp_path / "no-events"
    empty.mkdir()
    base, url = gateway(hours=0, events=str(empty))
    answer = _decide(base, {})
    assert answer.status_code == 404, answer.text
    assert answer.json()["error"]["code"] == "no_exposures"
    assert _state(url)[0].version == 2


def test_the_body_cannot_name_a_store_or_a_time_to_read_out_at(gateway: Start) -> None:
    base, url = gateway(hours=0)
    for field, value in (("events", "/etc"), ("as_of", "2024-05-02T00:00:00Z")):
        answer = _decide(base, {field: value})
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["field"] == f"body.{field}"
    assert _state(url)[0].version == 2
