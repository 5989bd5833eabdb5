"""Isolation: a broken experiment, a locked or broken registry leave the rest serving."""

from __future__ import annotations

import sqlite3
import statistics
import subprocess
import sys
import threading
import time

import httpx
from typer.testing import CliRunner

from champion.cli import app as cli
from champion.registry import Registry
from tests.serve._safety import ADMIN, gateway, predict, register, serve_process
from tests.serve._support import HERE, wait_until


def _broken(db):
    """One experiment whose challenger does not load, one the assigner refuses."""
    register(db, "missing-model", challenger="no_such_function")
    register(db, "salty", extra="holdout: {share: 0.1, salt: salty}\n")


def test_a_broken_experiment_leaves_the_others_serving(tmp_path):
    db = tmp_path / "reg.db"
    register(db, "good")
    _broken(db)
    with gateway(db) as server, httpx.Client(base_url=server.url) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.text
        body = ready.json()
        assert body["status"] == "degraded"
        assert body["degraded"] == ["experiments"]
        assert body["experiments"] == ["good"]
        assert set(body["unavailable"]) == {"missing-model", "salty"}
        assert "no_such_function" in body["unavailable"]["missing-model"]
        assert "holdout.salt" in body["unavailable"]["salty"]
        assert predict(client, "good").status_code == 200
        refused = predict(client, "missing-model")
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "experiment_unavailable"
        # a later change to the good one still reaches this worker
        ramp = client.post("/v1/experiments/good/ramp", json={"to": 20}, headers=ADMIN)
        assert ramp.status_code == 200, ramp.text
        assert wait_until(lambda: client.get("/readyz").json()["registry_version"] >= 6)


def test_a_restart_with_a_broken_experiment_works_and_archive_clears_it(tmp_path):
    db = tmp_path / "reg.db"
    register(db, "good")
    _broken(db)
    env = {"CHAMPION_ADMIN_TOKEN": ADMIN["Authorization"].split()[1]}
    args = ["--registry", str(db), "--models-dir", str(HERE)]
    with serve_process(args, env) as url, httpx.Client(base_url=url) as client:
        assert predict(client, "good").status_code == 200
        assert client.get("/readyz").json()["status"] == "degraded"
        archived = client.post("/v1/experiments/salty/archive", json={"reason": "broken spec"},
                               headers=ADMIN)  # fmt: skip
        assert archived.status_code == 200, archived.text
        assert archived.json()["state"] == "archived"
    result = CliRunner().invoke(cli, ["experiment", "delete", "missing-model", "--reason",
                                      "model never loaded", "--registry", str(db)])  # fmt: skip
    assert result.exit_code == 0, result.output
    with serve_process(args, env) as url, httpx.Client(base_url=url) as client:
        ready = client.get("/readyz").json()
        assert ready["status"] == "ok", ready
        assert ready["unavailable"] == {}
        assert ready["experiments"] == ["good"]
        gone = predict(client, "salty")
        assert gone.status_code == 404
    with Registry(f"sqlite:///{db}") as registry:
        last = registry.history("missing-model")[-1]
    assert (last.action, last.state.value, last.reason) == (
        "archive",
        "archived",
        "model never loaded",
    )


def test_archive_works_on_a_spec_that_no_longer_parses(tmp_path):
    db = tmp_path / "reg.db"
    register(db, "good")
    with sqlite3.connect(db) as conn:  # edited by hand into something invalid
        conn.execute("UPDATE champion_experiments SET spec = 'name: [' WHERE name = 'good'")
    result = CliRunner().invoke(cli, ["experiment", "archive", "good", "--reason", "corrupt",
                                      "--registry", str(db), "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert '"state": "archived"' in result.stdout
    again = CliRunner().invoke(cli, ["experiment", "archive", "good", "--reason", "again",
                                     "--registry", str(db)])  # fmt: skip
    assert again.exit_code == 2
    assert "archived is final" in again.output


_LOCKER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()
conn.execute("ROLLBACK")
"""


def _p99(values: list[float]) -> float:
    values = sorted(values)
    return values[int(0.99 * (len(values) - 1))]


def _latencies(client: httpx.Client, n: int) -> list[float]:
    out = []
    for i in range(n):
        start = time.perf_counter()
        response = predict(client, "good", unit=f"u{i}")
        out.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.text
    return out


def test_a_write_locked_registry_leaves_predicts_fast_and_admin_answers_503(tmp_path):
    db = tmp_path / "reg.db"
    register(db, "good")
    with gateway(db, registry_timeout=1.0) as server, httpx.Client(base_url=server.url) as client:
        _latencies(client, 50)  # warm-up
        normal = _latencies(client, 400)
        locker = subprocess.Popen([sys.executable, "-c", _LOCKER, str(db)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE)  # fmt: skip
        try:
            assert locker.stdout is not None
            assert locker.stdout.readline().strip() == b"locked"
            answers: list[tuple[int, str, float]] = []

            def admin() -> None:  # admin writes keep waiting for the lock meanwhile
                with httpx.Client(base_url=server.url, headers=ADMIN, timeout=30) as c:
                    for _ in range(4):
                        start = time.perf_counter()
                        r = c.post("/v1/experiments/good/ramp", json={"to": 30})
                        answers.append((r.status_code, r.json()["error"]["code"],
                                        time.perf_counter() - start))  # fmt: skip

            writers = [threading.Thread(target=admin) for _ in range(2)]
            for w in writers:
                w.start()
            locked = _latencies(client, 400)
            for w in writers:
                w.join(30)
        finally:
            locker.communicate(b"", timeout=10)
    assert {(status, code) for status, code, _ in answers} == {(503, "registry_unavailable")}
    assert len(answers) == 8
    assert all(0.9 < seconds < 5 for *_, seconds in answers)
    medians = statistics.median(normal), statistics.median(locked)
    assert _p99(locked) <= _p99(normal) + 50, (_p99(normal), _p99(locked), medians)


def test_an_unreadable_registry_makes_readiness_degraded_with_its_age(tmp_path):
    db = tmp_path / "reg.db"
    register(db, "good")
    with (
        gateway(db, registry_stale_after=1.0) as server,
        httpx.Client(base_url=server.url) as client,
    ):
        fresh = client.get("/readyz").json()
        assert fresh["status"] == "ok"
        assert fresh["registry"]["age_seconds"] < 1.0
        with sqlite3.connect(db) as conn:  # the registry breaks under the gateway
            conn.execute("ALTER TABLE champion_meta RENAME TO champion_meta_gone")
        assert wait_until(lambda: client.get("/readyz").json()["status"] == "degraded")
        stale = client.get("/readyz")
        assert stale.status_code == 200  # the last known state keeps serving
        body = stale.json()
        assert body["degraded"] == ["registry"]
        assert body["registry"]["age_seconds"] > 1.0
        assert "champion_meta" in body["registry"]["error"]
        assert predict(client, "good").status_code == 200
        refused = client.post("/v1/experiments/good/ramp", json={"to": 30}, headers=ADMIN)
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "registry_unavailable"
        with sqlite3.connect(db) as conn:
            conn.execute("ALTER TABLE champion_meta_gone RENAME TO champion_meta")
        assert wait_until(lambda: client.get("/readyz").json()["status"] == "ok")


def test_a_stored_spec_that_no_longer_parses_is_unavailable_alone(tmp_path):
    db = tmp_path / "reg.db"
    register(db, "good")
    register(db, "edited")
    with sqlite3.connect(db) as conn:  # edited by hand in the database into invalid YAML
        conn.execute("UPDATE champion_experiments SET spec = 'name: [' WHERE name = 'edited'")
    with gateway(db) as server, httpx.Client(base_url=server.url) as client:
        ready = client.get("/readyz").json()
        assert ready["experiments"] == ["good"]
        assert "registry:edited" in ready["unavailable"]["edited"]
        assert predict(client, "good").status_code == 200
        assert predict(client, "edited").status_code == 503
