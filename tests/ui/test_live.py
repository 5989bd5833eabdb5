"""The dashboard over live processes: ``champion serve`` takes traffic, ``champion monitor``
judges it, and a challenger that starts failing is stopped while the page is open.

The guardrail tiles show the monitor's verdict as the page received it, and the monitor's
stop (with its evidence) is on the page within one refresh of being written. The models
and their flag file are the monitor's end-to-end ones (tests/monitor/e2e_models.py).
"""

from __future__ import annotations

import contextlib
import json
import math
import textwrap
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from champion.monitor.tick import ACTOR
from champion.registry import Registry
from champion.spec import load_spec
from champion.ui import REFRESH_SECONDS
from tests.monitor.e2e_models import ENV_VAR
from tests.serve._support import free_port, is_ready, spawn_cli, stop_process, wait_until
from tests.ui.conftest import TOKEN, copy_to_docs, shoot

BIN = 10 ** (1 / 200)  # the width of a latency bin (champion.analysis.aggregate), ~1.16%
MODELS = Path(__file__).resolve().parents[1] / "monitor"
NAME = "live"
SPEC = textwrap.dedent("""\
    name: live
    unit: user
    models:
      champ: {kind: python, target: "e2e_models:champion"}
      chall: {kind: python, target: "e2e_models:challenger"}
    champion: champ
    challengers: [chall]
    allocation: {champ: 0.5, chall: 0.5}
    metrics:
      primary: {name: converted, kind: proportion}
      guardrails: [{name: error_rate, max: 0.005}]
    monitor: {window_minutes: 0.05, min_window_requests: 30, stop_after: 2, alpha: 0.05}
    """)


class Processes:
    """A registry, an event folder, the gateway (with the dashboard) and the monitor."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.flags = folder, folder / "flags.json"
        self.db = f"sqlite:///{folder / 'registry.db'}"
        (folder / "events").mkdir()
        (folder / "spec.yaml").write_text(SPEC)
        self.set_flags({})
        with Registry(self.db) as registry:
            registry.create(load_spec(folder / "spec.yaml"), by="test")
            registry.start(NAME, by="test", reason="live dashboard test")
        self.url = f"http://127.0.0.1:{free_port()}"
        env = {ENV_VAR: str(self.flags), "CHAMPION_ADMIN_TOKEN": TOKEN}
        events = str(folder / "events")
        self.procs = [
            spawn_cli(["serve", "--registry", self.db, "--events", events, "--port",
                       self.url.rsplit(":", 1)[1], "--models-dir", str(MODELS),
                       "--log-level", "warning"], folder / "gateway.log", env),
            spawn_cli(["monitor", NAME, "--registry", self.db, "--events", events,
                       "--interval", "1s"], folder / "monitor.log"),
        ]  # fmt: skip

    def set_flags(self, flags: dict[str, str]) -> None:
        tmp = self.flags.with_suffix(".tmp")
        tmp.write_text(json.dumps(flags))
        tmp.replace(self.flags)

    def logs(self) -> str:
        return "\n".join((self.folder / n).read_text(errors="replace")[-2000:]
                         for n in ("gateway.log", "monitor.log"))  # fmt: skip

    def close(self) -> None:
        for proc in self.procs:
            stop_process(proc)


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Processes]:
    found = Processes(tmp_path)
    try:
        ready = wait_until(lambda: is_ready(found.url), 60)
        assert ready, f"the gateway did not start:\n{found.logs()}"
        yield found
    finally:
        found.close()


class Traffic:
    """Two client threads posting predictions, each for many units, ~60 a second each."""

    def __init__(self, url: str) -> None:
        self.url, self.stop = url, threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(w,)) for w in range(2)]

    def __enter__(self) -> Traffic:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(20)

    def _run(self, worker: int) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as client:
            i = 0
            while not self.stop.is_set():
                body = {"unit_id": f"u{worker}-{i % 400}", "features": {"amount": i % 97}}
                with contextlib.suppress(httpx.HTTPError):  # a slow answer is not the subject
                    client.post(f"/v1/experiments/{NAME}/predict", json=body)
                i += 1
                time.sleep(1 / 60)


def _judged(response: Any) -> bool:
    """The page's read of the experiment once the monitor has judged windows with data."""
    if not response.url.endswith(f"/ui/api/experiments/{NAME}"):
        return False
    rules = response.json()["verdict"]["guardrails"]
    return bool(rules) and all(r["bound"] is not None for r in rules)


def _check_window_p95(windows: dict[str, Any], events: Path) -> None:
    """Each stored window's p95 (from its latency bins) agrees with the order statistics of
    the same exposures' latencies, read straight from the Parquet files."""
    import duckdb
    import numpy as np

    checked = 0
    for variant, rows in windows["variants"].items():
        for row in rows:
            if not row["requests"] or row["p95_latency_ms"] is None:
                continue
            start = datetime.fromisoformat(row["start"])
            query = (f"select latency_ms from read_parquet('{events}/exposures/**/*.parquet') "
                     "where variant = ? and exposed and ts >= ? and ts < ?")  # fmt: skip
            end = start + timedelta(seconds=windows["seconds"])
            latencies = [r[0] for r in duckdb.execute(query, [variant, start, end]).fetchall()]
            assert len(latencies) == row["requests"], (variant, row["start"])
            # the estimate sits between the order statistics around rank 1 + (n - 1) 0.95,
            # give or take the one bin (1.16%) it is read from
            ordered, rank = np.sort(latencies), 1 + (len(latencies) - 1) * 0.95
            low, high = ordered[math.floor(rank) - 1], ordered[math.ceil(rank) - 1]
            assert low / BIN <= row["p95_latency_ms"] <= high * BIN, (variant, row, low, high)
            checked += 1
    assert checked >= 2


def test_the_monitors_verdict_and_its_guardrail_stop_show_on_the_page(
    page: Any, live: Processes
) -> None:
    with Traffic(live.url):
        with page.expect_response(_judged, timeout=40_000) as got:  # polled every 5 s
            page.goto(f"{live.url}/ui#/e/{NAME}")
        verdict = got.value.json()["verdict"]
        page.wait_for_timeout(300)  # the page renders what it just received
        tiles = page.locator(".tile")
        assert tiles.count() == len(verdict["guardrails"]) == 2  # per window, and the stage's
        for i, rule in enumerate(verdict["guardrails"]):
            tile = tiles.nth(i)
            assert tile.get_attribute("data-guardrail") == rule["name"] == "error_rate"
            assert tile.get_attribute("data-kind") == rule["kind"]
            for field in ("estimate", "bound", "limit", "n"):
                shown = tile.locator(f'dd[data-field="{field}"]').get_attribute("data-value")
                assert float(shown) == rule[field], field
            assert rule["limit"] == 0.005
            assert rule["status"].replace("_", " ") in tile.inner_text()  # a word, not a colour
        _check_window_p95(got.value.json()["windows"], live.folder / "events")
        copy_to_docs(shoot(page, "guardrails"))
        live.set_flags({"challenger": "errors"})
        stopped_at = None
        with Registry(live.db) as registry:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if registry.get(NAME).state.value == "stopped":
                    stopped_at = time.monotonic()
                    break
                time.sleep(0.05)
        assert stopped_at is not None, f"the monitor did not stop it:\n{live.logs()}"
    row = page.locator(f'#history tbody tr[data-by="{ACTOR}"]')
    row.wait_for(timeout=(REFRESH_SECONDS + 2) * 1000)
    delay = time.monotonic() - stopped_at
    assert delay <= REFRESH_SECONDS + 1.0, f"on the page {delay:.2f} s after the stop"
    # the verdict a controller would get now: fail, with the monitor's reason
    assert "fail" in page.inner_text("#verdict")
    assert f"stopped by {ACTOR}" in page.inner_text("#verdict")
    row.locator("summary").click()
    evidence = row.locator("details table").inner_text()
    assert "error_rate" in evidence
    assert "violation" in evidence
    copy_to_docs(shoot(page, "live-stop"))
