"""Helpers for the gateway's safety tests: registry gateways and ``champion serve`` processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from champion.registry import Registry
from champion.serve.app import create_app
from champion.serve.settings import GatewaySettings
from champion.spec import parse_spec
from tests.serve._support import HERE, ThreadServer, free_port, spec_text

ADMIN_TOKEN = "admin-secret-0123456789"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def settings(db: Path | str | None = None, **kw: object) -> GatewaySettings:
    """Gateway settings over the toy models' folder, with an admin token."""
    values: dict[str, object] = {"admin_token": ADMIN_TOKEN, "models_dir": str(HERE),
                                 "poll_interval": 0.1, **kw}  # fmt: skip
    if db is not None:
        values["db"] = f"sqlite:///{db}"
    return GatewaySettings(**values)  # type: ignore[arg-type]


def register(db: Path, name: str, *, start: bool = True, **spec_kwargs: object) -> None:
    """An experiment over the toy models, registered (and started) as an operator would."""
    with Registry(f"sqlite:///{db}") as registry:
        registry.create(parse_spec(spec_text(name, **spec_kwargs), name), by="operator")  # type: ignore[arg-type]
        if start:
            registry.start(name, by="operator")


@contextmanager
def gateway(db: Path | None = None, **kw: object) -> Iterator[ThreadServer]:
    """A gateway that builds its own router, registry and events, on uvicorn on 127.0.0.1."""
    app = create_app(settings(db, **kw))
    with ThreadServer(app) as server:
        yield server


def predict(client: httpx.Client, name: str, unit: str = "u1", **features: float) -> httpx.Response:
    return client.post(f"/v1/experiments/{name}/predict",
                       json={"unit_id": unit, "features": features or {"amount": 1.0}})  # fmt: skip


def champion_serve(
    args: list[str], env: dict[str, str], timeout: float = 30.0
) -> subprocess.CompletedProcess:
    """Run ``champion serve ...`` to its end (for start-up refusals)."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("CHAMPION_")}
    full.update(env)
    return subprocess.run(
        [sys.executable, "-m", "champion.cli", "serve", *args], env=full, capture_output=True,
        timeout=timeout, check=False,
    )  # fmt: skip


@contextmanager
def serve_process(args: list[str], env: dict[str, str] | None = None) -> Iterator[str]:
    """``champion serve ...`` in its own process on a free port, until the block ends."""
    port = free_port()
    full = {k: v for k, v in os.environ.items() if not k.startswith("CHAMPION_")}
    full.update(env or {})
    proc = subprocess.Popen(
        [sys.executable, "-m", "champion.cli", "serve", *args, "--port", str(port),
         "--log-level", "warning"],
        env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                _, err = proc.communicate()
                raise RuntimeError(f"champion serve exited {proc.returncode}: {err.decode()}")
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("champion serve did not start")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
