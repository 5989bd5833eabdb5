"""Helpers for the serving tests: spec text over the toy models, a real server, polling, and
``champion`` commands run as processes of their own."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import uvicorn

HERE = Path(__file__).parent


def spec_text(
    name: str = "checkout",
    *,
    shadow: str = "",
    allocation: str = "{champ: 0.5, chall: 0.5}",
    challenger: str = "challenger",
    extra: str = "",
) -> str:
    return (
        textwrap.dedent(
            f"""\
        name: {name}
        unit: user
        models:
          champ: {{kind: python, target: "serve_models:champion"}}
          chall: {{kind: python, target: "serve_models:{challenger}"}}
          close: {{kind: python, target: "serve_models:close_shadow"}}
          slow: {{kind: python, target: "serve_models:slow_shadow"}}
          broken: {{kind: python, target: "serve_models:broken"}}
        champion: champ
        challengers: [chall]
        allocation: {allocation}
        shadow: [{shadow}]
        metrics:
          primary: {{name: converted, kind: proportion}}
          guardrails:
            - {{name: latency_p95_ms, max: 200}}
        segments: [country]
        """
        )
        + extra
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ThreadServer:
    """uvicorn serving an app on 127.0.0.1 in a background thread."""

    def __init__(self, app: object) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                access_log=False)  # fmt: skip
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ThreadServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def wait_until(check: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return check()


def spawn_cli(args: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """``champion ARGS`` in a new session (so a stop reaches its workers), output to ``log``."""
    with log.open("ab") as out:  # the child keeps its own handle
        return subprocess.Popen(
            [sys.executable, "-m", "champion.cli", *args], env={**os.environ, **(env or {})},
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip


def stop_process(proc: subprocess.Popen) -> None:
    """SIGTERM to the process group, SIGKILL if it has not ended within 20 s."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def is_ready(url: str) -> bool:
    """The gateway at ``url`` answers ``/readyz`` with 200."""
    try:
        return httpx.get(f"{url}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
