"""The verdict for delivery controllers, over a real gateway on 127.0.0.1 and a real SQLite
registry whose window ledger holds what a monitor stored."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from champion.monitor.verdict import experiment_verdict
from champion.monitor.windows import empty_sums, window_start
from champion.registry import Registry
from champion.registry.records import WindowRecord
from champion.serve.app import create_app
from champion.serve.router import Router
from champion.serve.sources import SpecSource
from champion.spec.models import Experiment
from tests.serve._support import ThreadServer

W = 60.0
#: the top-level fields docs/rollout.md promises, and those of each guardrail entry
ANSWER = {"verdict", "stage", "stage_percent", "n", "guardrails", "reason"}
GUARDRAIL = {"name", "rule", "variant", "estimate", "bound", "limit", "status", "k",
             "stop_after"}  # fmt: skip


def make_spec(name: str = "exp", *, window_minutes: float = 1, settle: float = 2.5) -> Experiment:
    return Experiment.model_validate({
        "name": name,
        "models": {v: {"kind": "python", "target": f"m:{v}"} for v in ("a", "b")},
        "champion": "a", "challengers": ["b"], "allocation": {"a": 0.9, "b": 0.1},
        "metrics": {"primary": {"name": "converted"},
                    "guardrails": [{"name": "error_rate", "max": 0.02, "stop_after": 2}]},
        "monitor": {"window_minutes": window_minutes, "min_window_requests": 50, "alpha": 0.05,
                    "settle_seconds": settle},
        "rollout": {"stages": [10, 25, 50, 100]},
    })  # fmt: skip


def sums(requests: int, errors: int) -> dict[str, Any]:
    out: dict[str, Any] = empty_sums()
    per = np.full(64, requests // 64)
    per[: requests % 64] += 1
    err = np.zeros(64, int)
    err[:errors] = 1 if errors <= 64 else 0
    if errors > 64:
        err = np.full(64, errors // 64)
        err[: errors % 64] += 1
    out["requests"], out["errors"] = per.tolist(), err.tolist()
    out["latency"] = (per * 50.0).tolist()
    return out


def store_windows(
    reg: Registry, name: str, count: int, rate: float, *, after: datetime, seconds: float = W
) -> None:
    """``count`` windows as a monitor stores them, from the first that starts after ``after``
    (the registry stamps the start with the real clock, so the windows follow it)."""
    first = window_start(after, seconds) + timedelta(seconds=seconds)
    rows = []
    for k in range(count):
        start = first + timedelta(seconds=seconds * k)
        for variant, requests in (("a", 9_000), ("b", 1_000)):
            errors = round(requests * (rate if variant == "b" else 0.005))
            rows.append(WindowRecord(name, start, seconds, variant, requests, errors,
                                     sums(requests, errors)))  # fmt: skip
    reg.record_windows(rows)


Gateway = tuple[Registry, str]


@pytest.fixture
def gateway(tmp_path: Path, serve_app: Callable[[object], ThreadServer]) -> Iterator[Gateway]:
    db = f"sqlite:///{tmp_path / 'registry.db'}"
    registry = Registry(db)
    app = create_app(router=Router(SpecSource([])), registry=registry)
    server = serve_app(app)
    yield registry, server.url
    registry.close()


def running(reg: Registry, name: str = "exp", spec: Experiment | None = None) -> datetime:
    reg.create(spec or make_spec(name))
    started: datetime = reg.start(name).updated_at
    return started


def ask(url: str, name: str = "exp", **params: int) -> dict[str, Any]:
    r = httpx.get(f"{url}/v1/experiments/{name}/verdict", params=params, timeout=10)
    assert r.status_code == 200  # always: a controller must never read an error as a pass
    body: dict[str, Any] = r.json()
    assert set(body) >= ANSWER
    return body


def test_a_healthy_stage_passes_with_its_numbers(gateway: Gateway) -> None:
    reg, url = gateway
    t0 = running(reg)
    store_windows(reg, "exp", 4, 0.004, after=t0)
    body = ask(url)
    assert body["verdict"] == "pass"
    assert body["stage"] == 0
    assert body["stage_percent"] == pytest.approx(10.0)
    assert body["n"] == {"a": 36_000, "b": 4_000}
    stage = next(g for g in body["guardrails"] if g["kind"] == "stage")
    assert stage["status"] == "pass"
    assert stage["bound"] <= stage["limit"] == 0.02


def test_fresh_windows_decide_and_no_data_is_never_a_pass(gateway: Gateway) -> None:
    reg, url = gateway
    running(reg, "exp")
    assert ask(url)["verdict"] == "inconclusive"  # nothing stored yet
    assert "champion monitor" in ask(url)["reason"]
    t0 = running(reg, "bad")
    store_windows(reg, "bad", 3, 0.08, after=t0)
    bad = ask(url, "bad")
    assert bad["verdict"] == "fail"
    rule = next(g for g in bad["guardrails"] if g["kind"] == "slo")
    assert rule["status"] == "violation"
    assert rule["bound"] > rule["limit"] == 0.02
    assert (rule["k"], rule["stop_after"]) == (2, 2)


def test_every_guardrail_entry_carries_the_documented_fields(gateway: Gateway) -> None:
    reg, url = gateway
    store_windows(reg, "exp", 4, 0.004, after=running(reg))
    guardrails = ask(url)["guardrails"]
    assert {g["kind"] for g in guardrails} == {"slo", "stage"}
    for entry in guardrails:
        assert set(entry) >= GUARDRAIL
        assert entry["variant"] == "b"  # the challenger is judged, never the champion


def test_stale_windows_are_inconclusive(gateway: Gateway) -> None:
    reg, _ = gateway
    t0 = running(reg, "old")
    store_windows(reg, "old", 3, 0.004, after=t0)
    body = experiment_verdict(reg, "old", now=t0 + timedelta(minutes=30))
    assert body["verdict"] == "inconclusive"
    assert "no monitor has stored a window since" in body["reason"]


def test_a_ledger_no_monitor_refreshes_turns_inconclusive_over_http(gateway: Gateway) -> None:
    """Windows of 0.6 s: fresh they pass; three window lengths after the newest one ends
    with nothing newer stored (no monitor running), the same ledger is inconclusive."""
    reg, url = gateway
    seconds = 0.6
    t0 = running(reg, "brief", make_spec("brief", window_minutes=seconds / 60, settle=0))
    store_windows(reg, "brief", 4, 0.004, after=t0, seconds=seconds)
    newest_end = window_start(t0, seconds) + timedelta(seconds=5 * seconds)
    assert ask(url, "brief")["verdict"] == "pass"
    deadline = time.monotonic() + 15
    while (body := ask(url, "brief"))["verdict"] == "pass" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert body["verdict"] == "inconclusive"
    assert body["reason"].startswith(
        f"no monitor has stored a window since {newest_end.isoformat()}"
    )


def test_answers_are_kept_two_seconds(gateway: Gateway) -> None:
    reg, url = gateway
    t0 = running(reg)
    assert ask(url)["verdict"] == "inconclusive"  # nothing stored yet; this answer is kept
    store_windows(reg, "exp", 4, 0.004, after=t0)
    assert ask(url)["verdict"] == "inconclusive"  # the kept answer, not the ledger's news
    assert ask(url, stage=0)["verdict"] == "pass"  # another question is computed afresh
    time.sleep(2.1)
    assert ask(url)["verdict"] == "pass"


def test_stopped_fails_unknown_and_other_stages_are_inconclusive(gateway: Gateway) -> None:
    reg, url = gateway
    running(reg, "s")
    reg.stop("s", reason="guardrail stop: error_rate", by="champion-monitor")
    stopped = ask(url, "s")
    assert stopped["verdict"] == "fail"
    assert "guardrail stop" in stopped["reason"]
    assert ask(url, "nope")["verdict"] == "inconclusive"
    running(reg, "r")
    other = ask(url, "r", stage=2)
    assert other["verdict"] == "inconclusive"
    assert "at stage 0, not 2" in other["reason"]


def test_flagger_gates_answer_with_the_codes_flagger_acts_on(gateway: Gateway) -> None:
    reg, url = gateway
    t0 = running(reg, "bad")
    store_windows(reg, "bad", 3, 0.08, after=t0)
    running(reg, "quiet")
    payload = {"name": "podinfo", "namespace": "test", "phase": "Progressing", "metadata": {}}
    base = f"{url}/v1/experiments"
    assert httpx.post(f"{base}/bad/flagger/rollback", json=payload).status_code == 200
    assert httpx.post(f"{base}/bad/flagger/confirm-promotion", json=payload).status_code == 403
    assert httpx.post(f"{base}/quiet/flagger/rollback", json=payload).status_code == 404
    assert httpx.post(f"{base}/quiet/flagger/confirm-traffic-increase",
                      json=payload).status_code == 403  # fmt: skip


def test_a_paused_experiment_holds_the_controllers(gateway):
    reg, url = gateway
    t0 = running(reg, "held")
    store_windows(reg, "held", 4, 0.004, after=t0)
    reg.pause("held", reason="checking a dashboard", by="ana")
    body = ask(url, "held")
    assert body["verdict"] == "inconclusive"
    assert body["reason"] == "paused by ana: checking a dashboard"
