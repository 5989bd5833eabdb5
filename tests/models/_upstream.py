"""A tiny model server on 127.0.0.1 speaking the Open Inference Protocol v2 and plain JSON.

It wraps one fitted scikit-learn classifier, so an HTTP model can be held to the same
oracle as the in-process kinds. Written against the protocol text, not with champion's types.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse

__all__ = ["free_port", "make_app", "serve"]


def make_app(proba: Callable[[np.ndarray], np.ndarray], features: list[str]) -> FastAPI:
    """``proba(X)`` -> P(class 1) per row; model 'fraud' takes a tensor, 'fraud-cols' columns."""
    app = FastAPI()

    @app.get("/v2/models/{name}/ready")
    async def ready(name: str) -> PlainTextResponse:
        known = name in ("fraud", "fraud-cols", "broken", "bad-shape")
        return PlainTextResponse("", status_code=200 if known else 404)

    @app.post("/v2/models/fraud/infer")
    async def infer(request: Request) -> dict[str, Any]:
        body = await request.json()
        (tensor,) = body["inputs"]
        n, width = tensor["shape"]
        X = np.asarray(tensor["data"], dtype=np.float64).reshape(n, width)
        p = proba(X)
        outputs = [
            {
                "name": "label",
                "shape": [n],
                "datatype": "INT64",
                "data": (p > 0.5).astype(int).tolist(),
            },
            {
                "name": "probabilities",
                "shape": [n, 2],
                "datatype": "FP64",
                "data": np.column_stack([1 - p, p]).ravel().tolist(),
            },
        ]
        wanted = [o["name"] for o in body.get("outputs") or []]
        if wanted:
            outputs = [o for o in outputs if o["name"] in wanted]
        return {"model_name": "fraud", "model_version": "3", "outputs": outputs}

    @app.post("/v2/models/fraud-cols/infer")
    async def infer_columns(request: Request) -> dict[str, Any]:
        body = await request.json()
        columns = {
            i["name"]: np.asarray(i["data"], dtype=np.float64).ravel() for i in body["inputs"]
        }
        X = np.column_stack([columns[f] for f in features])
        p = proba(X)
        return {
            "model_name": "fraud-cols",
            "outputs": [
                {
                    "name": "score",
                    "shape": [len(p), 1],
                    "datatype": "FP64",
                    "data": [[v] for v in p],
                }
            ],
        }

    @app.post("/v2/models/broken/infer")
    async def broken() -> JSONResponse:
        return JSONResponse({"error": "model crashed"}, status_code=500)

    @app.post("/v2/models/bad-shape/infer")
    async def bad_shape() -> dict[str, Any]:
        return {
            "model_name": "bad-shape",
            "outputs": [
                {"name": "score", "shape": [2], "datatype": "FP64", "data": [0.1, 0.2, 0.3]}
            ],
        }

    @app.post("/json/score")
    async def json_score(request: Request) -> Any:
        body = await request.json()
        rows = body if isinstance(body, list) else [body]
        X = np.array([[row[f] for f in features] for row in rows], dtype=np.float64)
        p = proba(X)
        answers = [{"score": float(v), "label": "fraud" if v > 0.5 else "ok"} for v in p]
        return answers if isinstance(body, list) else answers[0]

    @app.post("/json/wrapped")
    async def json_wrapped(request: Request) -> Any:
        rows = await request.json()
        rows = rows if isinstance(rows, list) else [rows]
        X = np.array([[row[f] for f in features] for row in rows], dtype=np.float64)
        return {"result": {"predictions": proba(X).tolist()}}

    @app.post("/json/echo-auth")
    async def echo_auth(request: Request) -> Any:
        return {"auth": request.headers.get("authorization")}

    @app.post("/json/slow")
    async def slow() -> Any:
        await asyncio.sleep(0.5)
        return {"score": 0.5}

    @app.post("/json/not-json")
    async def not_json() -> PlainTextResponse:
        return PlainTextResponse("<html>gateway error</html>")

    return app


def free_port() -> int:
    """A port nothing listens on (bound and released at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Run ``app`` with uvicorn in a thread on 127.0.0.1; yields its base URL."""
    sock = socket.socket()
    # uvicorn leaves Nagle on for connections accepted on a socket it is handed (uvicorn
    # #3149): each response would wait ~40 ms for a delayed ACK. Accepted sockets inherit this.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off", ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(500):
            if server.started:
                break
            threading.Event().wait(0.01)
        else:
            raise RuntimeError("the test upstream did not start within 5 s")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()
