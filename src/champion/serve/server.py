"""Running the gateway under uvicorn with one or several worker processes.

The listening socket is created here with ``IPPROTO_TCP`` as its protocol: asyncio turns
Nagle's algorithm off (TCP_NODELAY) only for sockets whose ``proto`` says TCP, and accepted
sockets inherit it from the listener. uvicorn's own multi-worker listener is created with
proto 0, which leaves Nagle on and adds ~40 ms to every keep-alive response after the first.
"""

from __future__ import annotations

import inspect
import os
import shutil
import socket
import tempfile
from typing import Any

import uvicorn
from uvicorn.supervisors import Multiprocess

__all__ = ["listen", "serve"]

APP = "champion.serve.app:app_from_env"
#: how long a worker may take to start before the supervisor replaces it
WORKER_STARTUP_SECONDS = 60


def listen(host: str, port: int, backlog: int = 2048) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


def _supervisor(
    config: uvicorn.Config, server: uvicorn.Server, sock: socket.socket
) -> Multiprocess:
    """uvicorn's multi-worker supervisor; its signature lost ``target`` in newer releases."""
    if "target" in inspect.signature(Multiprocess).parameters:
        return Multiprocess(config, target=server.run, sockets=[sock])
    return Multiprocess(config, sockets=[sock])


def serve(
    host: str = "127.0.0.1", port: int = 8000, workers: int = 1, log_level: str = "info"
) -> None:
    """Serve the app that ``CHAMPION_*`` settings describe until SIGINT/SIGTERM."""
    metrics_dir = None
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        metrics_dir = tempfile.mkdtemp(prefix="champion-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    sock = listen(host, port)
    extra: dict[str, Any] = {}
    if "timeout_worker_healthcheck" in inspect.signature(uvicorn.Config).parameters:
        # a worker imports numpy, scipy, DuckDB and the models before it answers the
        # supervisor's ping: on a busy machine that takes longer than uvicorn's 5 s, and a
        # worker killed for it restarts into the same wait
        extra["timeout_worker_healthcheck"] = WORKER_STARTUP_SECONDS
    config = uvicorn.Config(
        APP, factory=True, host=host, port=port, workers=workers, log_level=log_level,
        access_log=False, timeout_graceful_shutdown=10, **extra,
    )  # fmt: skip
    server = uvicorn.Server(config)
    try:
        if workers > 1:
            _supervisor(config, server, sock).run()
        else:
            server.run(sockets=[sock])
    finally:
        sock.close()
        if metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)
