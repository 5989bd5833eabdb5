"""`champion serve` as a real process: several workers, Nagle off, admin ramps, SIGKILL."""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import duckdb
import httpx
import pytest

from champion.assign import Assigner
from champion.events import open_writer
from champion.registry import Registry
from champion.spec import load_spec
from tests.serve._support import HERE, free_port, is_ready, stop_process, wait_until

ADMIN = {"Authorization": "Bearer admin-secret"}


def _start(
    args: list[str], env_extra: dict[str, str] | None = None
) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "CHAMPION_ADMIN_TOKEN": "admin-secret", **(env_extra or {})}
    with tempfile.TemporaryFile() as log:  # the child keeps its own handle
        proc = subprocess.Popen(
            [sys.executable, "-m", "champion.cli", "serve", *args, "--port", str(port),
             "--log-level", "warning", "--models-dir", str(HERE)],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"

    if not wait_until(lambda: is_ready(url), 60):
        proc.kill()
        proc.wait(10)
        pytest.fail(f"champion serve did not become ready (exit code {proc.returncode})")
    return proc, url


def _workers_seen(url: str, want: int, min_version: int = 0, tries: int = 200) -> dict[int, int]:
    """pid -> registry version, read on fresh connections until ``want`` workers answered."""
    seen: dict[int, int] = {}
    for _ in range(tries):
        body = httpx.get(f"{url}/readyz", headers={"connection": "close"}).json()
        seen[body["pid"]] = body["registry_version"]
        if len(seen) >= want and all(v >= min_version for v in seen.values()):
            break
    return seen


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory):
    folder = tmp_path_factory.mktemp("workers")
    spec_path = folder / "checkout.yaml"
    from tests.serve._support import spec_text

    spec_path.write_text(spec_text(allocation="{champ: 0.9, chall: 0.1}"))
    db = f"sqlite:///{folder / 'reg.db'}"
    with Registry(db) as registry:
        registry.create(load_spec(spec_path))
        registry.start("checkout")
    proc, url = _start(["--db", db, "--workers", "2"])
    yield url, db, load_spec(spec_path)
    stop_process(proc)


def test_single_connection_latency_is_not_held_by_nagle(two_workers):
    url, *_ = two_workers
    times = []
    with httpx.Client(base_url=url) as client:  # one keep-alive connection
        for i in range(60):
            start = time.perf_counter()
            client.post("/v1/experiments/checkout/predict",
                        json={"unit_id": f"u{i}", "features": {"amount": 1.0}})  # fmt: skip
            times.append((time.perf_counter() - start) * 1000)
    # With Nagle on, every response after the first waits ~40 ms for a delayed ACK.
    assert statistics.median(times[1:]) < 20, times


def test_workers_assign_alike_and_a_ramp_reaches_every_worker_within_two_seconds(two_workers):
    url, db, spec = two_workers
    assert len(_workers_seen(url, 2)) == 2
    with httpx.Client(base_url=url, headers=ADMIN) as admin:
        ramped = admin.post("/v1/experiments/checkout/ramp", json={"to": 50})
        assert ramped.status_code == 200, ramped.text
    with Registry(db) as registry:
        version = registry.global_version()
        allocation = registry.get("checkout").allocation
    changed = time.monotonic()
    seen = _workers_seen(url, 2, min_version=version)
    assert len(seen) == 2
    assert all(v == version for v in seen.values())
    assert time.monotonic() - changed < 2.0
    oracle = Assigner.from_spec(spec, allocation=allocation)
    for i in range(100):  # fresh connections spread over both workers
        body = httpx.post(f"{url}/v1/experiments/checkout/predict",
                          json={"unit_id": f"user-{i}", "features": {"amount": 2.0}},
                          headers={"connection": "close"}).json()  # fmt: skip
        assert body["variant"] == oracle.assign(f"user-{i}").variant


def test_sigkill_under_load_loses_no_acknowledged_event_in_sync_mode(write_spec, tmp_path):
    spec_path = write_spec()
    events = tmp_path / "events"
    proc, url = _start(["-f", str(spec_path), "--events", str(events), "--sync-events"])
    acknowledged: list[str] = []
    stop = threading.Event()

    def load(worker: int) -> None:
        with httpx.Client(base_url=url, timeout=5) as client:
            i = 0
            while not stop.is_set():
                try:
                    body = {"unit_id": f"w{worker}-{i}", "features": {"amount": 1.0}}
                    r = client.post("/v1/experiments/checkout/predict", json=body)
                except httpx.HTTPError:
                    return
                if r.status_code == 200:
                    acknowledged.append(r.json()["request_id"])
                i += 1

    threads = [threading.Thread(target=load, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    assert wait_until(lambda: len(acknowledged) > 300, 30)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)
    stop.set()
    for t in threads:
        t.join(10)
    with open_writer(events):  # a restart replays the journal
        pass
    logged = [
        row[0] for row in duckdb.sql(
            f"select request_id from read_parquet('{events}/exposures/**/*.parquet', "
            "hive_partitioning=true)"
        ).fetchall()
    ]  # fmt: skip
    missing = set(acknowledged) - set(logged)
    assert not missing, f"{len(missing)} acknowledged exposures lost"
    assert len(logged) == len(set(logged)), "replay duplicated exposures"
