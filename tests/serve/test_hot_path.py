"""The predict hot path: ordinary requests never reach FastAPI, the rest reach it intact.

The ASGI app behind :class:`PredictFastPath` here is a recorder standing in for FastAPI,
so each test sees which side answered; the Router, its models and its event log are real.
What FastAPI answers for the requests handed on is tested over HTTP in test_api_*.py.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import duckdb
import pytest

from champion.events import open_writer
from champion.serve import Router, SpecSource
from champion.serve.app import create_app
from champion.serve.hot_path import PredictFastPath
from champion.serve.settings import GatewaySettings
from champion.spec import load_spec

BODY = json.dumps({"unit_id": "user-1", "features": {"amount": 10.0}}).encode()


class Recorder:
    """The app behind the fast path: remembers what it was handed, answers 299."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        self.bodies.append(b"".join(chunks))
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def _call(app: Any, path: str, messages: list[dict], headers: list | None = None) -> dict:
    """Run one request through the ASGI app; the status and body it answered."""
    fastapi_app = create_app(GatewaySettings(predict_token="p-token"), router=app.router)
    scope = {
        "type": "http", "method": "POST", "path": path, "headers": headers or [],
        "app": fastapi_app, "query_string": b"",
    }  # fmt: skip
    pending = list(messages)
    sent: list[dict] = []

    async def receive() -> dict:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return {"status": sent[0]["status"], "body": body}


TOKEN = [(b"authorization", b"Bearer p-token")]


def _exposures(folder: Any) -> list[str]:
    """The request ids of the exposures stored under ``folder``."""
    files = list(folder.glob("exposures/**/*.parquet"))
    if not files:
        return []
    rows = duckdb.sql(
        f"select request_id from read_parquet('{folder}/exposures/**/*.parquet', "
        "hive_partitioning = true)"
    ).fetchall()
    return [r[0] for r in rows]


@pytest.fixture
def fast(write_spec, models_dir, tmp_path):
    events = open_writer(tmp_path / "events")
    spec = load_spec(write_spec())
    router = Router(SpecSource([spec]), events=events, models_dir=models_dir)
    recorder = Recorder()
    yield PredictFastPath(recorder, router), recorder, events, tmp_path / "events"
    router.close()
    events.close()


def test_an_ordinary_predict_is_answered_without_the_app(fast):
    app, recorder, events, folder = fast
    answer = _call(app, "/v1/experiments/checkout/predict",
                   [{"type": "http.request", "body": BODY}], TOKEN)  # fmt: skip
    assert answer["status"] == 200
    assert recorder.bodies == []
    routed = json.loads(answer["body"])
    assert routed["variant"] == app.router.assign("checkout", "user-1").variant
    events.flush()
    assert _exposures(folder) == [routed["request_id"]]


@pytest.mark.parametrize(
    ("path", "body", "headers"),
    [
        ("/v1/experiments/checkout/predict", b'{"unit_id": "u", "features": ', TOKEN),
        ("/v1/experiments/checkout/predict", b'{"unit_id": "u", "features": {}, "x": 1}', TOKEN),
        ("/v1/experiments/checkout/predict", BODY, []),  # no token: the app answers 401
        ("/v1/experiments/checkout/predict", BODY, [(b"authorization", b"Bearer wrong")]),
        ("/v1/experiments/nope/predict", BODY, TOKEN),  # unknown: the app answers 404
        ("/v1/experiments//predict", BODY, TOKEN),
        ("/v1/experiments/a/b/predict", BODY, TOKEN),
    ],
    ids=["bad-json", "extra-field", "no-token", "wrong-token", "unknown", "empty", "slash"],
)
def test_anything_unusual_reaches_the_app_with_its_body_and_nothing_logged(
    fast, path, body, headers
):
    app, recorder, events, folder = fast
    answer = _call(app, path, [{"type": "http.request", "body": body}], headers)
    assert answer["status"] == 299
    assert recorder.bodies == [body]
    events.flush()
    assert _exposures(folder) == []


def test_a_body_in_several_messages_reaches_the_app_whole(fast):
    app, recorder, _, _ = fast
    half = len(BODY) // 2
    messages = [
        {"type": "http.request", "body": BODY[:half], "more_body": True},
        {"type": "http.request", "body": BODY[half:], "more_body": False},
    ]
    assert _call(app, "/v1/experiments/checkout/predict", messages, TOKEN)["status"] == 299
    assert recorder.bodies == [BODY]


def test_other_routes_are_not_touched(fast):
    app, recorder, _, _ = fast
    answer = _call(app, "/v1/experiments/checkout/assign",
                   [{"type": "http.request", "body": b'{"unit_id": "u"}'}], TOKEN)  # fmt: skip
    assert answer["status"] == 299
    assert recorder.bodies == [b'{"unit_id": "u"}']


def test_a_model_failure_on_the_fast_path_is_answered_from_the_error_table(
    write_spec, models_dir, tmp_path
):
    events = open_writer(tmp_path / "events")
    spec = load_spec(write_spec(challenger="broken", allocation="{champ: 0.0, chall: 1.0}"))
    with Router(
        SpecSource([spec]), events=events, models_dir=models_dir, fallback_to_champion=False
    ) as router:
        recorder = Recorder()
        answer = _call(PredictFastPath(recorder, router), "/v1/experiments/checkout/predict",
                       [{"type": "http.request", "body": BODY}], TOKEN)  # fmt: skip
    events.close()
    assert recorder.bodies == []
    assert answer["status"] == 502
    error = json.loads(answer["body"])["error"]
    assert error["code"] == "model_error"
    assert len(_exposures(tmp_path / "events")) == 1  # logged once


def test_a_worker_freezes_what_it_loaded_and_sets_its_switch_interval(
    write_spec, models_dir, monkeypatch
):
    """A full collection walks every tracked object: a worker's libraries and models are
    frozen once it is built, so collections walk only what requests create; its background
    threads hold the interpreter at most ``switch_interval_ms`` while a request waits."""
    import gc

    from champion.serve.app import app_from_env

    monkeypatch.setenv("CHAMPION_SPECS", json.dumps([str(write_spec())]))
    monkeypatch.setenv("CHAMPION_MODELS_DIR", str(models_dir))
    monkeypatch.setenv("CHAMPION_SWITCH_INTERVAL_MS", "0.25")
    gc.unfreeze()
    before, interval = gc.get_freeze_count(), sys.getswitchinterval()
    app = app_from_env()
    try:
        assert before == 0
        assert gc.get_freeze_count() > 10_000
        assert sys.getswitchinterval() == pytest.approx(0.00025)
    finally:
        gc.unfreeze()
        sys.setswitchinterval(interval)
        app.state.router.close()
