"""The README's "From spec to traffic", command by command exactly as written, in a fresh
folder: a real gateway (two uvicorn workers on 127.0.0.1) serves real HTTP traffic in the
shadow and A/B phases, the monitor runs against a real webhook, every command's exit code is
checked, and the final read-out is checked against the events counted straight from the
Parquet files with DuckDB."""

from __future__ import annotations

import http.server
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

import duckdb
import httpx
import pytest
from tests.cli._first_hour import one_line

ROOT = Path(__file__).resolve().parents[2]
NAME = "fraud-detector-v2"


def readme_commands() -> list[str]:
    """The ``$ champion ...`` lines of the README's "From spec to traffic", comments cut."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("## From spec to traffic", 1)[1].split("```console", 1)[1]
    block = block.split("```", 1)[0]
    lines = [line.removeprefix("$ ") for line in block.splitlines() if line.startswith("$ ")]
    return [line.split("  #", 1)[0].strip() for line in lines]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Hook(http.server.BaseHTTPRequestHandler):
    bodies: ClassVar[list[bytes]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", 0))
        _Hook.bodies.append(self.rfile.read(length))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


@pytest.fixture
def folder(tmp_path) -> Path:
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    return tmp_path


def _env(port: int, webhook: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAMPION_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["CHAMPION_PORT"] = str(port)
    env["SLACK_URL"] = webhook
    env["COLUMNS"] = "200"
    return env


def _run(line: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", line], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=180)  # fmt: skip


def _background(line: str, cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(["bash", "-c", f"exec {line}"], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


def _first_line(process: subprocess.Popen[str], timeout: float = 60) -> str:
    """The first line a background command prints (empty if none comes in time)."""
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(process.stdout.readline()),
                              daemon=True)  # fmt: skip
    reader.start()
    reader.join(timeout)
    return lines[0] if lines else ""


def _wait_ready(url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1][-2000:]
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("the gateway did not come up")


def _traffic(url: str, units: list[str], rng: random.Random) -> None:
    with httpx.Client(base_url=url, timeout=10) as client:
        for unit in units:
            features = {"amount": rng.uniform(5, 400), "new_device": rng.random() < 0.2,
                        "foreign": rng.random() < 0.1}  # fmt: skip
            attributes = {"country": rng.choice(["US", "DE"]), "device": "mobile"}
            body = {"unit_id": unit, "features": features, "attributes": attributes}
            r = client.post(f"/v1/experiments/{NAME}/predict", json=body)
            assert r.status_code == 200, r.text


def _glob(folder: Path, table: str) -> str:
    return str(folder / "events" / table / "**" / "*.parquet")


def _exposed_units(folder: Path) -> dict[str, int]:
    """The oracle: each exposed unit's first variant, counted by DuckDB on the files."""
    rows = duckdb.sql(
        f"""select variant, count(*) from (
              select unit_id, arg_min(variant, ts) as variant
              from read_parquet('{_glob(folder, "exposures")}', hive_partitioning = true)
              where exposed and experiment = '{NAME}' group by unit_id)
            group by variant order by variant"""
    ).fetchall()
    return {variant: int(n) for variant, n in rows}


def _wait_logged(folder: Path, units: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if sum(_exposed_units(folder).values()) >= units:
                return
        except duckdb.Error:
            pass
        time.sleep(0.3)
    raise AssertionError(f"the gateway did not log {units} exposed units")


def _labels(folder: Path, units: list[str], rng: random.Random) -> None:
    now = datetime.now(UTC).isoformat()
    rows = ["ts,unit_id,metric,value"]
    for unit in units:
        rows.append(f"{now},{unit},fraud_caught,{int(rng.random() < 0.15)}")
        rows.append(f"{now},{unit},false_positive,{int(rng.random() < 0.05)}")
        rows.append(f"{now},{unit},review_minutes,{rng.uniform(1, 9):.2f}")
    (folder / "labels.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")


@pytest.mark.slow
def test_the_readme_walk_from_spec_to_traffic(folder, webhook):
    commands = readme_commands()
    assert commands[0].startswith("champion validate")
    assert any(c.startswith("champion serve") for c in commands)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = _env(port, webhook)
    rng = random.Random(42)
    shadow_units = [f"shadow-{i}" for i in range(200)]
    ab_units = [f"user-{i}" for i in range(600)]
    gateway = None
    outputs: dict[str, subprocess.CompletedProcess[str]] = {}
    try:
        for line in commands:
            if line.startswith("champion serve"):
                gateway = _background(line, folder, env)
                _wait_ready(url, gateway)
                _traffic(url, shadow_units, rng)  # the experiment is in shadow
                continue
            if line.startswith("champion monitor"):
                monitor = _background(line, folder, env)
                first_tick = _first_line(monitor)  # its signal handlers are set by then
                assert first_tick, monitor.communicate()[1][-2000:]
                assert monitor.poll() is None, monitor.communicate()[1][-2000:]
                monitor.send_signal(signal.SIGTERM)
                _, err = monitor.communicate(timeout=60)
                assert monitor.returncode == 0, err[-2000:]
                continue
            if line.startswith("champion outcomes load"):
                _wait_logged(folder, len(ab_units))
                _labels(folder, ab_units, rng)
            result = _run(line, folder, env)
            assert result.returncode == 0, (line, result.stdout[-3000:], result.stderr[-3000:])
            outputs[line.split(" --", 1)[0]] = result
            if line.startswith(f"champion experiment start {NAME}") and "--shadow" not in line:
                time.sleep(2)  # every worker follows the registry within a second
                _traffic(url, ab_units, rng)
    finally:
        if gateway is not None:
            gateway.send_signal(signal.SIGTERM)
            gateway.communicate(timeout=60)
    # uvicorn shuts down gracefully on SIGTERM, then re-raises it: -15 is a clean stop.
    assert gateway.returncode in (0, -signal.SIGTERM)

    # The final read-out: no window has closed, so it says what it can and extends.
    analyze = one_line(outputs[f"champion analyze {NAME}"].stdout)
    exposed = _exposed_units(folder)
    per_arm = ", ".join(f"{v} {exposed.get(v, 0):,}" for v in ("v1_3", "v2_0"))
    assert f"exposed {sum(exposed.values()):,} units ({per_arm})" in analyze
    assert "Before the windows close" in analyze
    assert "extend" in analyze.split("Decision", 1)[1]
    assert (folder / "report.html").is_file()
    assert (folder / "shadow.html").is_file()
    decide = one_line(outputs[f"champion decide apply {NAME}"].stdout)
    assert decide.startswith("extend")
    assert "nothing to apply" in decide
    history = outputs[f"champion experiment history {NAME}"].stdout
    for action in ("create", "start", "ramp"):
        assert action in history
